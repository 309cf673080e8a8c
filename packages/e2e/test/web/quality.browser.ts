import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import t from 'tap'
import { createRoom, deployment, joinByTyping, openUser, screenshotsDir, sendMessage } from '../../src/browser.js'

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeViolation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown[] }> }

/** Runs axe-core in the page (injected through the DevTools protocol, which the page's CSP does not govern). */
async function seriousViolations (page: Page): Promise<string[]> {
  if (!await page.evaluate(() => 'axe' in window)) await page.evaluate(axeSource)
  const violations: AxeViolation[] = await page.evaluate(async () => {
    const result: { violations: AxeViolation[] } = await (window as any).axe.run(document, { resultTypes: ['violations'] })
    return result.violations
  })
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => JSON.stringify(node.target)).join(', ')}`)
}

t.test('no serious or critical accessibility violations on the landing and room views, light and dark', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob', { width: 390, height: 844 })])

  for (const scheme of ['light', 'dark'] as const) {
    await bob.page.emulateMedia({ colorScheme: scheme })
    await bob.page.goto(gateway.url)
    t.same(await seriousViolations(bob.page), [], `landing (${scheme})`)
    await bob.page.click('#generate')
    await bob.page.locator('#new-room canvas').waitFor()
    t.same(await seriousViolations(bob.page), [], `landing with a new code (${scheme})`)
    await bob.page.fill('#join-code', 'not-a-code')
    await bob.page.click('#join-form button[type="submit"]')
    await bob.page.locator('#join-error').waitFor()
    t.same(await seriousViolations(bob.page), [], `landing with a refused code (${scheme})`)
  }

  const code = await createRoom(alice, gateway.url, 'alice')
  await joinByTyping(bob, gateway.url, code, 'bob')
  const id = await sendMessage(alice.page, 'Accessible, and then gone.')
  await bob.page.locator(`.msg-in[data-id="${id}"] button.card`).waitFor()
  for (const scheme of ['light', 'dark'] as const) {
    await bob.page.emulateMedia({ colorScheme: scheme })
    t.same(await seriousViolations(bob.page), [], `room with a sealed card (${scheme})`)
    await alice.page.emulateMedia({ colorScheme: scheme })
    t.same(await seriousViolations(alice.page), [], `room with a sent message (${scheme})`)
  }
  await bob.page.click(`.msg-in[data-id="${id}"] button.card`)
  await bob.page.locator('.revealed').waitFor()
  for (const scheme of ['light', 'dark'] as const) {
    await bob.page.emulateMedia({ colorScheme: scheme })
    t.same(await seriousViolations(bob.page), [], `room with a revealed message (${scheme})`)
  }
})

t.test('screenshots of the landing page, a room with a card, and a revealed message at 390 and 1280 px', async (t) => {
  const d = await deployment(t)
  const gateway = await d.startGateway()
  const dir = screenshotsDir()
  const [alice, bob] = await Promise.all([openUser(t, 'alice'), openUser(t, 'bob')])
  const shots: string[] = []
  const shoot = async (page: Page, name: string): Promise<void> => {
    for (const [width, height] of [[390, 844], [1280, 800]] as const) {
      for (const scheme of ['light', 'dark'] as const) {
        if (scheme === 'dark' && width !== 390) continue
        await page.setViewportSize({ width, height })
        await page.emulateMedia({ colorScheme: scheme })
        const file = join(dir, `${name}-${width}${scheme === 'dark' ? '-dark' : ''}.png`)
        await page.screenshot({ path: file, fullPage: true })
        shots.push(file)
      }
    }
    await page.emulateMedia({ colorScheme: 'light' })
  }

  await bob.page.goto(gateway.url)
  await bob.page.click('#generate')
  await bob.page.locator('#new-room canvas').waitFor()
  await bob.page.click('#new-room .share-actions button')
  await bob.page.locator('#new-room .copy-status', { hasText: 'Copied' }).waitFor()
  t.pass('"Copy code" confirms with "Copied"')
  await shoot(bob.page, 'landing')

  const code = await createRoom(alice, gateway.url, 'Alice')
  await joinByTyping(bob, gateway.url, code, 'Bob')
  await alice.page.locator('#presence', { hasText: '2 people here' }).waitFor()
  const first = await sendMessage(alice.page, 'The spare key is under the blue flowerpot. Take it, then text me "done".')
  await sendMessage(alice.page, 'And please delete this chat afterwards.')
  await bob.page.locator(`.msg-in[data-id="${first}"] button.card`).waitFor()
  await bob.page.locator('.msg-in button.card').nth(1).waitFor()
  await shoot(bob.page, 'room-card')
  await shoot(alice.page, 'room-sent')

  await bob.page.click(`.msg-in[data-id="${first}"] button.card`)
  await bob.page.locator('.revealed').waitFor()
  await shoot(bob.page, 'revealed')

  for (const file of shots) t.comment(`screenshot: ${file}`)
  t.equal(shots.length, 12, 'all screenshots written')
})
