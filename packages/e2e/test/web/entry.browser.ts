import { CROCKFORD_ALPHABET, formatRoomCode, generateRoomCode, isValidRoomCode } from '@ephemeral-chat/client'
import t from 'tap'
import { createRoom, deployment, foreignRequests, joined, openUser, sendMessage } from '../../src/browser.js'

/** A code with exactly one character changed: the check character must catch it. */
function mistype (code: string): string {
  const symbols = [...code]
  const at = 13
  symbols[at] = [...CROCKFORD_ALPHABET].find((symbol) => symbol !== symbols[at])!
  return symbols.join('')
}

t.test('an invite link joins without typing, and the code leaves the address bar', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const code = await createRoom(alice, gateway.url)

  await alice.page.click('#invite-toggle')
  const link = await alice.page.locator('#room-invite .link-input').inputValue()
  t.equal(link, `${gateway.url}/#${code}`, 'the invite link carries the code in the fragment only')
  t.ok(await alice.page.locator('#room-invite canvas.qr').isVisible(), 'with a QR code drawn in the page')

  await bob.page.goto(link)
  await joined(bob.page)
  t.pass('Bob joined straight from the link')
  t.equal(bob.page.url(), `${gateway.url}/`, 'and the code is gone from the address bar')
  t.equal(await bob.page.evaluate(() => location.hash), '', 'no fragment left in the location')
  await alice.page.locator('#presence', { hasText: '2 people here' }).waitFor()
  t.equal(await bob.page.locator('#fingerprint').textContent(), await alice.page.locator('#fingerprint').textContent(), 'both are in the same room')
})

t.test('a mistyped code is refused in the page with a clear message, and no WebSocket is opened', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const bob = await openUser(t, 'bob')
  const wrong = mistype(formatRoomCode(generateRoomCode()))
  t.notOk(isValidRoomCode(wrong), 'the changed code fails its check')

  await bob.page.goto(gateway.url)
  await bob.page.fill('#join-code', wrong)
  await bob.page.press('#join-code', 'Enter')
  const error = bob.page.locator('#join-error')
  await error.waitFor()
  t.match(await error.textContent(), /typo/, 'the message says the code has a typo')
  t.equal(await bob.page.locator('#join-code').getAttribute('aria-invalid'), 'true', 'the field is marked invalid')
  t.equal(await bob.page.evaluate(() => document.activeElement?.id), 'join-code', 'focus stays on the field to fix it')
  t.ok(await bob.page.locator('#landing').isVisible(), 'Bob stays on the landing page')

  await bob.page.fill('#join-code', 'ABC')
  await bob.page.press('#join-code', 'Enter')
  t.match(await error.textContent(), /27 characters; this one has 3/, 'a short code is explained too')

  // A first symbol past F is no code of any version: a typo, not a newer room (v2 codes, 8–F, join).
  await bob.page.fill('#join-code', 'G' + wrong.slice(1))
  await bob.page.press('#join-code', 'Enter')
  t.match(await error.textContent(), /typo/, 'a code beyond both versions is a typo')

  // The same mistake in an invite link: refused before any connection, shown in the form.
  await bob.page.goto(`${gateway.url}/#${wrong}`)
  await error.waitFor()
  t.match(await error.textContent(), /typo/, 'a mistyped invite link is refused the same way')
  t.equal(await bob.page.locator('#join-code').inputValue(), wrong, 'with the code in the field to correct')
  t.equal(bob.page.url(), `${gateway.url}/`, 'and removed from the address bar')

  await bob.page.waitForTimeout(300)
  t.same(bob.websockets, [], 'no WebSocket was ever opened')
  t.equal(await bob.page.evaluate(() => sessionStorage.length), 0, 'nothing was stored')
})

t.test('the page loads nothing from any other host and its console stays clean under the CSP', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])

  const response = await alice.page.goto(gateway.url)
  const csp = response?.headers()['content-security-policy'] ?? ''
  t.match(csp, /script-src 'self'/, 'the page is served with the strict CSP')
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'which allows neither inline code nor eval')

  await alice.page.click('#generate')
  await alice.page.locator('#new-room canvas').waitFor()
  await alice.page.click('#new-room .enter-room')
  await joined(alice.page)
  await alice.page.click('#invite-toggle')
  const link = await alice.page.locator('#room-invite .link-input').inputValue()
  await bob.page.goto(link)
  await joined(bob.page)
  const id = await sendMessage(alice.page, 'nothing leaks')
  await bob.page.click(`.msg-in[data-id="${id}"] button.card`)
  await bob.page.locator('.revealed-text', { hasText: 'nothing leaks' }).waitFor()
  await alice.page.locator(`.msg-out[data-id="${id}"][data-state="viewed"]`).waitFor()

  for (const user of [alice, bob]) {
    t.ok(user.requests.length >= 4, `${user.name}'s requests were recorded`)
    t.same(foreignRequests(user, gateway.url), [], `${user.name}: every request went to the gateway's own origin`)
    t.same(user.problems, [], `${user.name}: no console error, page error or CSP violation`)
  }
  t.ok(alice.requests.some((url) => url.endsWith('/favicon.svg')), 'the favicon is served locally (no 404 in the console)')
})
