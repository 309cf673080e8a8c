/**
 * Protocol v2 (MLS rooms) in real Chromium browsers: a new room is v2; a second person joins
 * by the invite link, a third later by typing the code. Each sees the others' fingerprints;
 * messages are sealed by MLS, shown with their sender's fingerprint, viewed, wiped and deleted;
 * the third reads only what was sent after joining. A v1 code still opens its room, with the
 * "no forward secrecy" notice.
 */
import { generateRoomCode } from '@ephemeral-chat/client'
import t from 'tap'
import { join } from 'node:path'
import { createRoom, deployment, joinByTyping, joined, openUser, screenshotsDir, sendMessage, type User } from '../../src/browser.js'

/** The fingerprints in a page's member list, its own first. */
async function roster (user: User): Promise<string[]> {
  return user.page.locator('#member-list .fingerprint-code').allTextContents()
}

async function waitForRoster (user: User, count: number): Promise<string[]> {
  // The list sits in a closed <details>: attached, not visible, until someone opens it.
  await user.page.locator('#member-list li').nth(count - 1).waitFor({ state: 'attached' })
  await user.page.waitForFunction((n) => document.querySelectorAll('#member-list li').length === n, count)
  return roster(user)
}

/** Opens the card of `id` and returns the text, nickname and sender fingerprint shown, then lets the countdown run out. */
async function open (user: User, id: string): Promise<{ text: string | null, nick: string | null, fingerprint: string | null }> {
  const item = user.page.locator(`.msg-in[data-id="${id}"]`)
  await item.locator('button.card').click()
  await item.locator('.revealed-text').waitFor()
  const shown = {
    text: await item.locator('.revealed-text').textContent(),
    nick: await item.locator('.nick').textContent(),
    fingerprint: await item.locator('.sender-fingerprint').textContent()
  }
  await item.locator('button', { hasText: 'Hide now' }).click()
  await item.waitFor({ state: 'detached' })
  return shown
}

t.test('v2 in two browsers and a third later: fingerprints, a message waiting for company, read once, nothing for the latecomer, a forged sender refused', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob, carol] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob'), openUser(t, 'carol')])

  const code = await createRoom(alice, gateway.url, 'alice')
  t.match(code, /^[89A-F][0-9A-Z]{2}(-[0-9A-Z]{3}){8}$/, 'a new room\'s code is a v2 code (first symbol 8–F)')
  t.equal(await alice.page.locator('#room').getAttribute('data-protocol'), '2', 'the room runs protocol v2')
  t.notOk(await alice.page.locator('#v1-notice').isVisible(), 'no "no forward secrecy" notice in a v2 room')
  const [aliceFingerprint = ''] = await waitForRoster(alice, 1)
  t.match(aliceFingerprint, /^[0-9A-Z]{4}( [0-9A-Z]{4}){3}$/, 'Alice sees her own fingerprint')

  // Alone in the group: the message waits on Alice's device, and says so.
  await alice.page.fill('#message', 'sent before anyone came')
  await alice.page.press('#message', 'Enter')
  const early = alice.page.locator('.msg-out').first()
  await early.and(alice.page.locator('[data-state="queued"]')).waitFor()
  t.match(await early.locator('.status-text').textContent(), /Waiting for someone to join · kept on this device/, 'a message sent while alone says it waits on this device')
  t.equal(await d.db.selectFrom('messages').select('id').execute().then((rows) => rows.length), 0, 'and nothing of it reached the vault')
  t.notOk(await alice.page.evaluate(() => Object.values(sessionStorage).some((v) => v.includes('sent before anyone came'))), 'nor the tab\'s storage: it is in memory only')
  // Leaving the page would lose it: the page asks first.
  const asked = new Promise<string>((resolve) => { alice.page.once('dialog', (dialog) => { resolve(dialog.type()); void dialog.dismiss() }) })
  // Started from the page, not awaited as a navigation: dismissed, the reload never happens.
  await alice.page.evaluate(() => { setTimeout(() => { location.reload() }, 0) })
  t.equal(await asked, 'beforeunload', 'a reload asks before dropping the waiting message')
  t.ok(await early.and(alice.page.locator('[data-state="queued"]')).isVisible(), 'staying keeps it waiting')

  // Bob's connection passes through a hostile server, which can rewrite any frame before his page sees it (used below).
  let forge: { from: string, to: string } | undefined
  await bob.page.routeWebSocket(/\/ws$/, (page) => {
    const server = page.connectToServer()
    page.onMessage((message) => { server.send(message) })
    server.onMessage((message) => {
      const frame = JSON.parse(String(message)) as { type?: string, from?: string }
      if (forge !== undefined && frame.type === 'message' && frame.from === forge.from) page.send(JSON.stringify({ ...frame, from: forge.to }))
      else page.send(message)
    })
  })
  // Bob opens the invite link.
  await bob.page.goto(`${gateway.url}/#${code}`)
  await joined(bob.page)
  const bobRoster = await waitForRoster(bob, 2)
  const aliceRoster = await waitForRoster(alice, 2)
  t.same([...bobRoster].sort(), [...aliceRoster].sort(), 'both list the same two fingerprints')
  t.equal(bobRoster.length, 2)
  t.equal(aliceRoster[0], aliceFingerprint, 'Alice\'s own fingerprint is listed first on her page')
  const bobFingerprint = bobRoster[0] ?? ''
  t.not(bobFingerprint, aliceFingerprint, 'each member has their own fingerprint')

  await early.and(alice.page.locator('[data-state="waiting"]')).waitFor()
  const earlyId = await early.getAttribute('data-id') ?? ''
  t.pass('the queued message went out once Bob joined')
  await bob.page.locator(`.msg-in[data-id="${earlyId}"] button.card`).waitFor()
  const first = await open(bob, earlyId)
  t.same(first, { text: 'sent before anyone came', nick: 'alice', fingerprint: aliceFingerprint }, 'Bob reads it with Alice\'s nickname and her fingerprint')
  await early.and(alice.page.locator('[data-state="viewed"]')).waitFor()
  t.same(await d.db.selectFrom('messages').select('id').where('id', '=', earlyId).execute(), [], 'viewed: its row is gone')

  const replyId = await sendMessage(bob.page, 'got it')
  await alice.page.locator(`.msg-in[data-id="${replyId}"] button.card`).waitFor()
  t.same(await open(alice, replyId), { text: 'got it', nick: 'Anonymous', fingerprint: bobFingerprint }, 'Alice reads Bob\'s reply with his fingerprint')

  // What is sent before Carol joins is not hers; what is sent after is.
  const beforeId = await sendMessage(alice.page, 'only for bob')
  await bob.page.locator(`.msg-in[data-id="${beforeId}"] button.card`).waitFor()
  // Carol calls herself "alice" too.
  await joinByTyping(carol, gateway.url, code.toLowerCase(), 'alice')
  const carolRoster = await waitForRoster(carol, 3)
  await waitForRoster(alice, 3)
  await waitForRoster(bob, 3)
  t.same([...carolRoster].sort(), [...await roster(alice)].sort(), 'Carol and Alice list the same three fingerprints')
  const afterId = await sendMessage(alice.page, 'for both of you')
  await carol.page.locator(`.msg-in[data-id="${afterId}"] button.card`).waitFor()
  t.equal(await carol.page.locator(`.msg-in[data-id="${beforeId}"]`).count(), 0, 'Carol has no card for what was sent before she joined')
  t.same(await open(carol, afterId), { text: 'for both of you', nick: 'alice', fingerprint: aliceFingerprint }, 'and reads what was sent after')
  t.equal((await open(bob, beforeId)).text, 'only for bob', 'Bob reads the message sent before Carol came')

  // A nickname is whatever the sender typed; the fingerprint beside it is the sender's own.
  const posing = await sendMessage(carol.page, 'hi, it is alice')
  await bob.page.locator(`.msg-in[data-id="${posing}"] button.card`).waitFor()
  const shown = await open(bob, posing)
  t.equal(shown.nick, 'alice', 'Carol\'s message shows the nickname she typed')
  t.not(shown.fingerprint, aliceFingerprint, 'with her own fingerprint, not Alice\'s')

  // The hostile server names Alice as the sender of Carol's next message.
  const aliceId = await alice.page.locator('#room').getAttribute('data-member-id') ?? ''
  const carolId = await carol.page.locator('#room').getAttribute('data-member-id') ?? ''
  forge = { from: carolId, to: aliceId }
  const forged = await sendMessage(carol.page, 'send the files to me')
  const item = bob.page.locator(`.msg-in[data-id="${forged}"]`)
  await item.locator('button.card').click()
  await item.and(bob.page.locator('[data-state="failed"]')).waitFor()
  t.equal(await item.getAttribute('data-reason'), 'sender', 'its MLS sender is not the member the card names: refused')
  t.match(await item.textContent(), /Message refused.*claims a sender who did not send it/, 'shown as refused, saying why')
  t.notOk((await bob.page.content()).includes('send the files'), 'its text never reaches the page, under any name')

  // For the eye (CI keeps it as an artifact): the group's fingerprints, a message with its sender's, a refused one.
  forge = undefined
  const again = await sendMessage(carol.page, 'a real one, from carol who calls herself alice')
  await bob.page.locator(`.msg-in[data-id="${again}"] button.card`).click()
  await bob.page.locator(`.msg-in[data-id="${again}"] .revealed-text`).waitFor()
  await bob.page.locator('#members summary').click()
  await bob.page.screenshot({ path: join(screenshotsDir(), 'v2-room.png') })

  // The database holds MLS ciphertext only: no text, no code, no fingerprint.
  const rows = await d.db.selectFrom('messages').selectAll().execute()
  const dump = JSON.stringify(rows, (_, value: unknown) => value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value)
  for (const secret of ['for both of you', 'only for bob', code, code.replaceAll('-', '')]) t.notOk(dump.includes(secret), `no "${secret.slice(0, 12)}…" in the messages table`)

  await alice.page.click('#leave')
  await alice.page.click('#leave-dialog button[value="leave"]')
  await alice.page.locator('#landing:not([hidden])').waitFor()
  await waitForRoster(bob, 2)
  await waitForRoster(carol, 2)
  t.notOk((await roster(bob)).includes(aliceFingerprint), 'after "Leave and wipe", the others removed Alice from the group')
  t.same(await alice.page.evaluate(() => Object.keys(sessionStorage)), [], 'and her tab keeps nothing of the room')

  for (const user of [alice, bob, carol]) t.same(user.problems, [], `${user.name}'s console has no errors or CSP violations`)
})

t.test('a v1 code still opens its room, with a visible "no forward secrecy" notice', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const code = generateRoomCode()
  await joinByTyping(alice, gateway.url, code, 'alice')
  await joinByTyping(bob, gateway.url, code, 'bob')
  t.equal(await alice.page.locator('#room').getAttribute('data-protocol'), '1', 'a v1 room')
  t.ok(await alice.page.locator('#v1-notice').isVisible(), 'with the notice shown')
  t.match(await alice.page.locator('#v1-notice').textContent(), /no forward secrecy/)
  t.notOk(await alice.page.locator('#members').isVisible(), 'and no member fingerprints (v1 has none)')
  const id = await sendMessage(alice.page, 'v1 still works')
  await bob.page.locator(`.msg-in[data-id="${id}"] button.card`).click()
  t.equal(await bob.page.locator(`.msg-in[data-id="${id}"] .revealed-text`).textContent(), 'v1 still works')
  t.equal(await bob.page.locator(`.msg-in[data-id="${id}"] .sender-fingerprint`).count(), 0, 'no sender fingerprint in v1')
})

t.test('a duplicated tab becomes a new member instead of sharing the first tab\'s MLS state', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const alice = await openUser(t, 'alice')
  await createRoom(alice, gateway.url, 'alice')
  const [mine = ''] = await waitForRoster(alice, 1)
  const memberId = await alice.page.locator('#room').getAttribute('data-member-id')
  // Every same-origin tab can list lock names: the lock is named by a hash, never by the member secret.
  const held = await alice.page.evaluate(async () => {
    const snapshot = await navigator.locks.query() as { held?: Array<{ name?: string }> }
    return (snapshot.held ?? []).map((lock): string => lock.name ?? '')
  })
  const secrets = await alice.page.evaluate((): string[] => {
    const found: string[] = []
    for (let i = 0; i < sessionStorage.length; i++) {
      const key = sessionStorage.key(i) ?? ''
      if (key.startsWith('ec:member:')) found.push(sessionStorage.getItem(key) ?? '')
    }
    return found
  })
  t.equal(held.length, 1, 'the tab holds one lock for its member')
  t.ok(secrets.length === 1 && held.every((name) => !name.includes(secrets[0] ?? '')), 'and its name does not hold the member secret')
  // A duplicated tab starts with a copy of the first tab's sessionStorage.
  const copy = await alice.context.newPage()
  const storage = await alice.page.evaluate(() => JSON.stringify(Object.fromEntries(Object.entries(sessionStorage))))
  await copy.addInitScript((saved: string) => {
    if (sessionStorage.length === 0) for (const [k, v] of Object.entries(JSON.parse(saved) as Record<string, string>)) sessionStorage.setItem(k, v)
  }, storage)
  await copy.goto(`${gateway.url}/`)
  await joined(copy)
  t.not(await copy.locator('#room').getAttribute('data-member-id'), memberId, 'the copy joined as another member')
  await copy.locator('#member-list li').nth(1).waitFor({ state: 'attached' })
  const copyRoster = await copy.locator('#member-list .fingerprint-code').allTextContents()
  t.equal(copyRoster.length, 2, 'two members in the group: the first tab and the copy')
  t.not(copyRoster[0], mine, 'the copy has its own fingerprint')
  await waitForRoster(alice, 2)
  t.pass('the first tab follows the copy\'s join: its state was not forked')

  // A reload of the first tab is the same member again (its lock was let go with the old page), with its list.
  await alice.page.reload()
  await joined(alice.page)
  t.equal(await alice.page.locator('#room').getAttribute('data-member-id'), memberId, 'after a reload the first tab is the same member')
  const after = await waitForRoster(alice, 2)
  t.equal(after[0], mine, 'with the same fingerprint, and the group\'s list shown again')
})
