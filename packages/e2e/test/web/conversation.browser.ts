import t from 'tap'
import { createRoom, deployment, foreignRequests, joinByTyping, openUser, sendMessage } from '../../src/browser.js'

/** web/src/incoming.ts REVEAL_SECONDS: how long a revealed text stays on screen. */
const REVEAL_SECONDS = 10
/** web/src/compose.ts TYPING_IDLE_MS: a pause this long ends "typing". */
const TYPING_IDLE_MS = 3000

t.test('a message crosses gateways, is read once, wiped from the page, and its row deleted', async (t) => {
  const d = await deployment(t)
  const [g1, g2] = [await d.startGateway(), await d.startGateway()]
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])

  const code = await createRoom(alice, g1.url, 'alice')
  t.match(code, /^[0-9A-Z]{3}(-[0-9A-Z]{3}){8}$/, 'the new code is shown in groups of three')
  // Bob types it the sloppy way: lower case, with dashes.
  await joinByTyping(bob, g2.url, code.toLowerCase(), 'bob')

  await alice.page.locator('#presence', { hasText: '2 people here' }).waitFor()
  await bob.page.locator('#presence', { hasText: '2 people here' }).waitFor()
  const fingerprint = await alice.page.locator('#fingerprint').textContent()
  t.match(fingerprint, /^[0-9A-Z]{4}-[0-9A-Z]{4}$/, 'a short room fingerprint is shown')
  t.equal(await bob.page.locator('#fingerprint').textContent(), fingerprint, 'both see the same fingerprint')

  const text = 'Meet at the usual place, 7 pm.\nBring the 🗝️ <b>not bold</b>'
  const id = await sendMessage(alice.page, text)
  const mine = alice.page.locator(`.msg-out[data-id="${id}"]`)
  await mine.locator('.status-text', { hasText: 'Waiting to be read' }).waitFor()

  const card = bob.page.locator(`.msg-in[data-id="${id}"] button.card`)
  await card.waitFor()
  const cardText = await card.textContent() ?? ''
  t.match(cardText, /Sealed message/, 'Bob sees a sealed card')
  t.match(cardText, /short · just now · expires in/, 'with size class, age and expiry')
  t.notMatch(cardText, /usual place/, 'and no text before opening it')
  t.same(await d.db.selectFrom('messages').select('id').where('id', '=', id).execute(), [{ id }], 'the sealed message waits in the vault')

  // Bob's page keeps time on Playwright's clock from here: the reveal countdown is run
  // forward below instead of waited out.
  await bob.page.clock.install()
  await card.click()
  const revealed = bob.page.locator(`.msg-in[data-id="${id}"] .revealed-text`)
  await revealed.waitFor()
  t.equal(await revealed.textContent(), text, 'Bob reads the exact text, markup shown as text')
  t.equal(await bob.page.locator(`.msg-in[data-id="${id}"] b`).count(), 0, 'nothing in the text became markup')
  t.equal(await bob.page.locator(`.msg-in[data-id="${id}"] .nick`).textContent(), 'alice', 'with the sender’s nickname')
  t.match(await bob.page.locator(`.msg-in[data-id="${id}"] .countdown`).textContent(), /Disappears in \d+ s/, 'and a visible countdown')

  await mine.and(alice.page.locator('[data-state="viewed"]')).waitFor()
  t.equal(await mine.locator('.status-text').textContent(), 'Viewed', 'Alice sees "Viewed"')
  t.same(await d.db.selectFrom('messages').select('id').where('id', '=', id).execute(), [], 'the message row, with its recipient set, is gone from the database')

  t.ok(await bob.page.locator(`.msg-in[data-id="${id}"] .revealed-text`).isVisible(), 'the text stays on screen during the countdown')
  await bob.page.clock.runFor(REVEAL_SECONDS * 1000)
  await bob.page.locator(`.msg-in[data-id="${id}"]`).waitFor({ state: 'detached', timeout: 5000 })
  t.notOk((await bob.page.content()).includes('usual place'), 'after the countdown the text is gone from Bob’s page')
  await mine.waitFor({ state: 'detached' })
  t.notOk((await alice.page.content()).includes('usual place'), 'and from Alice’s page once viewed')

  for (const [user, origin] of [[alice, g1.url], [bob, g2.url]] as const) {
    t.same(foreignRequests(user, origin), [], `${user.name} requested nothing from any other origin`)
    t.same(user.problems, [], `${user.name}’s console has no errors or CSP violations`)
  }
})

t.test('typing in one tab shows "someone is typing" in the other, and it stops', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const code = await createRoom(alice, gateway.url)
  await joinByTyping(bob, gateway.url, code)
  await alice.page.locator('#presence', { hasText: '2 people here' }).waitFor()

  const indicator = bob.page.locator('#typing')
  t.notOk(await indicator.isVisible(), 'no indicator before anyone types')
  // Alice's page keeps time on Playwright's clock: her idle pause is run forward, not waited out.
  await alice.page.clock.install()
  await alice.page.locator('#message').pressSequentially('hello the', { delay: 30 })
  await indicator.waitFor({ state: 'visible' })
  t.equal(await bob.page.locator('#typing-text').textContent(), 'Someone is typing…', 'Bob sees that someone is typing')
  t.notOk(await alice.page.locator('#typing').isVisible(), 'Alice does not see her own typing')

  await alice.page.clock.runFor(TYPING_IDLE_MS - 500)
  t.ok(await indicator.isVisible(), 'still shown while Alice pauses briefly')
  await alice.page.clock.runFor(1000)
  await indicator.waitFor({ state: 'hidden', timeout: 2000 })
  t.pass('it disappears once Alice has stopped typing for a few seconds')

  await alice.page.locator('#message').pressSequentially('re', { delay: 30 })
  await indicator.waitFor({ state: 'visible' })
  await alice.page.press('#message', 'Enter')
  await indicator.waitFor({ state: 'hidden', timeout: 2000 })
  t.pass('sending stops the indicator at once')
})

t.test('a reload keeps the membership and brings back cards sent meanwhile', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const code = await createRoom(alice, gateway.url)
  await joinByTyping(bob, gateway.url, code)
  await alice.page.locator('#presence', { hasText: '2 people here' }).waitFor()
  const memberId = await bob.page.locator('#room').getAttribute('data-member-id')
  t.ok(memberId, 'Bob has a member id')

  // Alice sends while Bob's tab is gone: Bob is still a member, so the message is his.
  await bob.page.goto('about:blank')
  await alice.page.locator('#presence', { hasText: 'Only you here' }).waitFor()
  const id = await sendMessage(alice.page, 'sent while you were away')
  await alice.page.locator(`.msg-out[data-id="${id}"] .status-text`, { hasText: 'Waiting to be read' }).waitFor()

  await bob.page.goBack()
  await bob.page.locator('#connection[data-state="joined"]').waitFor()
  t.equal(await bob.page.locator('#room').getAttribute('data-member-id'), memberId, 'Bob is the same member after coming back')
  await bob.page.locator(`.msg-in[data-id="${id}"] button.card`).waitFor()
  t.pass('the card sent while Bob was away is there')
  await alice.page.locator('#presence', { hasText: '2 people here' }).waitFor()
  t.equal(await alice.page.locator('#room').getAttribute('data-members'), '2', 'still two people: Bob did not become a third member')

  await bob.page.reload()
  await bob.page.locator('#connection[data-state="joined"]').waitFor()
  t.equal(await bob.page.locator('#room').getAttribute('data-member-id'), memberId, 'a plain reload keeps the member id too')
  await bob.page.locator(`.msg-in[data-id="${id}"] button.card`).waitFor()
  t.pass('and the unread card comes back again')
  t.equal(await bob.page.locator('.msg-in').count(), 1, 'exactly once')
})
