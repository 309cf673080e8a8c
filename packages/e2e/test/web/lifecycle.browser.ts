import t from 'tap'
import { createRoom, deployment, joinByTyping, joined, openUser, sendMessage } from '../../src/browser.js'

t.test('"Leave and wipe" leaves the room and forgets its code, keys and member secret', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const code = await createRoom(alice, gateway.url)
  await joinByTyping(bob, gateway.url, code)
  const id = await sendMessage(alice.page, 'for Bob only')
  await bob.page.locator(`.msg-in[data-id="${id}"]`).waitFor()
  t.ok(await bob.page.evaluate(() => Object.keys(sessionStorage).some((key) => key.startsWith('ec:member:'))), 'Bob’s tab holds a member secret while in the room')

  await bob.page.click('#leave')
  await bob.page.locator('#leave-dialog').waitFor()
  t.equal(await bob.page.evaluate(() => document.activeElement?.textContent), 'Stay', 'the dialog opens with focus on the safe choice')
  await bob.page.click('#leave-dialog button[value="leave"]')
  await bob.page.locator('#landing').waitFor()
  t.ok(await bob.page.locator('#room').isHidden(), 'Bob is back on the landing page')
  t.same(await bob.page.evaluate(() => Object.keys(sessionStorage)), [], 'the tab forgot the code and the member secret')
  const html = await bob.page.content()
  t.notOk(html.includes(code) || html.includes(code.replaceAll('-', '')), 'no trace of the code in the page')
  t.equal(await bob.page.locator('.msg-in').count(), 0, 'and no message card')

  await alice.page.locator('#presence', { hasText: 'Only you here' }).waitFor()
  await alice.page.locator(`.msg-out[data-id="${id}"] .status-text`, { hasText: 'its reader left' }).waitFor()
  t.pass('Alice learns that her message will not be read')
  t.same(await d.db.selectFrom('messages').select('id').where('id', '=', id).execute(), [], 'the message Bob never read is deleted')

  await bob.page.reload()
  t.ok(await bob.page.locator('#landing').isVisible(), 'a reload does not bring Bob back into the room')
  t.same([...alice.problems, ...bob.problems], [], 'no console error or CSP violation (the dialog form included)')
})

t.test('a send that fails while the vault is down offers Retry, which delivers the same message once', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const code = await createRoom(alice, gateway.url)
  await joinByTyping(bob, gateway.url, code)
  await alice.page.locator('#presence', { hasText: '2 people here' }).waitFor()

  await d.vault.stop()
  const id = await sendMessage(alice.page, 'second time lucky')
  const mine = alice.page.locator(`.msg-out[data-id="${id}"]`)
  await mine.and(alice.page.locator('[data-state="failed"]')).waitFor({ timeout: 30_000 })
  t.equal(await mine.locator('.status-text').textContent(), 'Not sent', 'the message is marked "Not sent"')

  await d.startVault()
  await mine.locator('button.retry').click()
  await mine.locator('.status-text', { hasText: 'Waiting to be read' }).waitFor()
  t.equal(await mine.getAttribute('data-id'), id, 'the retry kept the message id')
  await bob.page.locator(`.msg-in[data-id="${id}"] button.card`).click()
  await bob.page.locator('.revealed-text', { hasText: 'second time lucky' }).waitFor()
  t.equal(await bob.page.locator('.msg-in').count(), 1, 'Bob received it exactly once')
})

t.test('a lost gateway shows "Reconnecting…" and the room comes back by itself', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const alice = await openUser(t, 'alice')
  await createRoom(alice, gateway.url)
  const memberId = await alice.page.locator('#room').getAttribute('data-member-id')

  await gateway.stop()
  await alice.page.locator('#connection', { hasText: 'Reconnecting…' }).waitFor()
  t.pass('the page says it is reconnecting')
  await d.startGateway({ port: gateway.port })
  await joined(alice.page)
  t.equal(await alice.page.locator('#connection').textContent(), 'Connected', 'and connected again without a reload')
  t.equal(await alice.page.locator('#room').getAttribute('data-member-id'), memberId, 'as the same member')
})
