import { MAX_PLAINTEXT_BYTES } from '@ephemeral-chat/client'
import type { Page } from 'playwright-core'
import t from 'tap'
import { createRoom, deployment, joinByTyping, joined, openUser } from '../../src/browser.js'

/** Presses Tab until `selector` has focus; fails if it is not reachable within `max` presses. */
async function tabTo (page: Page, selector: string, max = 40): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return
    await page.keyboard.press('Tab')
  }
  throw new Error(`${selector} is not reachable with Tab`)
}

t.test('everything works with the keyboard alone', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])

  await alice.page.goto(gateway.url)
  await tabTo(alice.page, '#nick')
  await alice.page.keyboard.type('Al')
  await tabTo(alice.page, '#generate')
  await alice.page.keyboard.press('Enter')
  await tabTo(alice.page, '#new-room .enter-room')
  const code = await alice.page.locator('#new-room .room-code').getAttribute('data-code') ?? ''
  await alice.page.keyboard.press('Enter')
  await joined(alice.page)
  t.equal(await alice.page.evaluate(() => document.activeElement?.id), 'message', 'once joined, focus is in the compose box')

  await bob.page.goto(gateway.url)
  await tabTo(bob.page, '#join-code')
  await bob.page.keyboard.type(code)
  await bob.page.keyboard.press('Enter')
  await joined(bob.page)

  await alice.page.keyboard.type('line one')
  await alice.page.keyboard.press('Shift+Enter')
  await alice.page.keyboard.type('line two')
  t.equal(await alice.page.locator('#message').inputValue(), 'line one\nline two', 'Shift+Enter starts a new line')
  await alice.page.keyboard.press('Enter')
  t.equal(await alice.page.locator('#message').inputValue(), '', 'Enter sends')

  await bob.page.locator('.msg-in button.card').waitFor()
  await tabTo(bob.page, '.msg-in button.card')
  await bob.page.keyboard.press('Space')
  const revealed = bob.page.locator('.revealed')
  await revealed.waitFor()
  t.equal(await bob.page.locator('.revealed-text').textContent(), 'line one\nline two', 'Space on the card opens it')
  t.ok(await bob.page.evaluate(() => document.activeElement?.classList.contains('revealed')), 'focus moves to the opened message')
  await tabTo(bob.page, '.revealed button')
  await bob.page.keyboard.press('Enter')
  await revealed.waitFor({ state: 'detached' })
  t.equal(await bob.page.evaluate(() => document.activeElement?.id), 'message', '"Hide now" wipes it at once and focus returns to the compose box')
  await alice.page.locator('.msg-out[data-state="viewed"]').waitFor()

  await tabTo(bob.page, '#leave')
  await bob.page.keyboard.press('Enter')
  await bob.page.keyboard.press('Escape')
  t.ok(await bob.page.locator('#room').isVisible(), 'Escape closes the leave dialog and stays in the room')
  await tabTo(bob.page, '#leave')
  await bob.page.keyboard.press('Enter')
  await tabTo(bob.page, '#leave-dialog button[value="leave"]')
  await bob.page.keyboard.press('Enter')
  await bob.page.locator('#landing').waitFor()
  t.equal(await bob.page.evaluate(() => document.activeElement?.id), 'generate', 'after leaving, focus is on "Generate New Code"')
  t.same([...alice.problems, ...bob.problems], [], 'no console error or CSP violation')
})

t.test('a message over the size limit cannot be sent and the page says by how much', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const code = await createRoom(alice, gateway.url)
  await joinByTyping(bob, gateway.url, code)

  const counter = alice.page.locator('#compose-count')
  await alice.page.fill('#message', 'short')
  t.ok(await counter.isHidden(), 'no counter for everyday messages')
  t.ok(await alice.page.locator('#send').isEnabled(), 'and Send is enabled')

  await alice.page.fill('#message', 'é'.repeat(MAX_PLAINTEXT_BYTES / 2))
  await counter.waitFor()
  t.match(await counter.textContent(), /Too long to send: [\d,]+ of 16,383 bytes\. Shorten it by [\d,]+\./, 'an over-long message is explained in bytes')
  t.ok(await alice.page.locator('#send').isDisabled(), 'Send is disabled')
  t.equal(await alice.page.locator('#message').getAttribute('aria-invalid'), 'true', 'the box is marked invalid')
  await alice.page.press('#message', 'Enter')
  t.equal(await alice.page.locator('.msg-out').count(), 0, 'Enter does not send it')

  await alice.page.fill('#message', 'x'.repeat(MAX_PLAINTEXT_BYTES - 100))
  t.match(await counter.textContent(), /^[\d,]+ \/ 16,383 bytes$/, 'near the limit the counter shows the bytes used')
  t.ok(await alice.page.locator('#send').isEnabled(), 'and a message that fits can be sent')
  await alice.page.press('#message', 'Enter')
  const card = bob.page.locator('.msg-in button.card')
  await card.waitFor()
  t.match(await card.textContent(), /very long/, 'the recipient’s card says "very long"')
})
