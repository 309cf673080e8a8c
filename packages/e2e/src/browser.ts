/**
 * The product for browser tests: the web client built into a private folder,
 * served by the in-process deployment's gateways (stack.ts); and real Chromium
 * users, one persistent context (own profile, own sessionStorage) each, with
 * every request and console message they produce recorded.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { repoRoot } from './spawn.js'
import { deployment as inProcessDeployment, type Deployment as InProcessDeployment, type RunningVault } from './stack.js'

interface TestLike {
  teardown (fn: () => Promise<void> | void): void
  comment (...message: unknown[]): void
}

export const webDir = join(repoRoot, 'web')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

let built: string | undefined

/**
 * Builds the client from the current sources into a temporary folder, once per
 * test file: tests never run a stale web/dist, and parallel test files never
 * write into the same folder.
 */
export function buildWebClient (): string {
  if (built !== undefined) return built
  const outdir = mkdtempSync(join(tmpdir(), 'ec-web-'))
  execFileSync(process.execPath, [join(webDir, 'build.mjs'), '--outdir', outdir], { stdio: 'pipe' })
  process.once('exit', () => { rmSync(outdir, { recursive: true, force: true }) })
  built = outdir
  return outdir
}

export interface Deployment extends InProcessDeployment {
  /** The vault started with the deployment. */
  vault: RunningVault
}

/** The in-process deployment with its gateways serving the built client, and one vault started. */
export async function deployment (t: TestLike): Promise<Deployment> {
  const d = await inProcessDeployment(t, { messageTtlMs: 60 * 60_000, gateway: { maxConnectionsPerAddress: 1000, requestTimeoutMs: 3000, webRoot: buildWebClient() } })
  return { ...d, vault: await d.startVault() }
}

export interface User {
  name: string
  context: BrowserContext
  page: Page
  /** Every URL the page requested (documents, scripts, styles, images, WebSockets). */
  requests: string[]
  /** Console errors and warnings, uncaught page errors and CSP violations. */
  problems: string[]
  /** URLs of WebSockets the page opened. */
  websockets: string[]
}

export interface UserOptions {
  width?: number
  height?: number
  colorScheme?: 'light' | 'dark'
  /** For the accessibility scan only: lets axe-core be injected into a page under the CSP. */
  bypassCSP?: boolean
}

const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** A person with their own browser profile; closed (and the profile deleted) at teardown. */
export async function openUser (t: TestLike, name: string, options: UserOptions = {}): Promise<User> {
  const profile = mkdtempSync(join(tmpdir(), `ec-browser-${name}-`))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: LAUNCH_ARGS,
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    colorScheme: options.colorScheme ?? 'light',
    reducedMotion: 'no-preference',
    bypassCSP: options.bypassCSP ?? false
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  const user: User = { name, context, page: context.pages()[0] ?? await context.newPage(), requests: [], problems: [], websockets: [] }
  // Report CSP violations through the console, where they are recorded with everything else.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`)
    })
  })
  watch(user, user.page)
  user.page.setDefaultTimeout(15_000)
  return user
}

function watch (user: User, page: Page): void {
  page.on('request', (request) => { user.requests.push(request.url()) })
  page.on('websocket', (socket) => { user.websockets.push(socket.url()) })
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') user.problems.push(`console ${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => { user.problems.push(`page error: ${error.message}`) })
}

/** Requests that went anywhere but `origin` (its pages, scripts and WebSocket) or to data:/blob: URLs. */
export function foreignRequests (user: User, origin: string): string[] {
  const wsOrigin = origin.replace(/^http/, 'ws')
  return user.requests.filter((url) => !(url.startsWith(`${origin}/`) || url.startsWith(`${wsOrigin}/`) || url.startsWith('data:') || url.startsWith('blob:')))
}

/** Opens the landing page, generates a code, enters the room; returns the code as displayed. */
export async function createRoom (user: User, origin: string, nick = ''): Promise<string> {
  const { page } = user
  await page.goto(`${origin}/`)
  if (nick !== '') await page.fill('#nick', nick)
  await page.click('#generate')
  const code = await page.locator('#new-room .room-code').getAttribute('data-code')
  if (code === null) throw new Error('no code shown')
  await page.click('#new-room .enter-room')
  await joined(page)
  return code
}

/** Opens the landing page and joins by typing `code` into the form. */
export async function joinByTyping (user: User, origin: string, code: string, nick = ''): Promise<void> {
  const { page } = user
  await page.goto(`${origin}/`)
  if (nick !== '') await page.fill('#nick', nick)
  await page.fill('#join-code', code)
  await page.click('#join-form button[type="submit"]')
  await joined(page)
}

export async function joined (page: Page): Promise<void> {
  await page.locator('#connection[data-state="joined"]').waitFor()
}

/** Types and sends a message; returns its id once the vault stored it. */
export async function sendMessage (page: Page, text: string): Promise<string> {
  // Items already there are marked: one of them may be wiped meanwhile (a viewed message
  // lingers a few seconds), so the new one is found by the mark, not by its position.
  await page.locator('.msg-out').evaluateAll((items) => { for (const item of items) item.setAttribute('data-test-seen', '') })
  await page.fill('#message', text)
  await page.press('#message', 'Enter')
  const item = page.locator('.msg-out:not([data-test-seen])').first()
  await item.and(page.locator('[data-id]')).waitFor()
  const id = await item.getAttribute('data-id')
  if (id === null) throw new Error('sent message has no id')
  return id
}

export function screenshotsDir (): string {
  const dir = join(process.env.ARTIFACTS_DIR ?? join(repoRoot, '.ci', 'artifacts'), 'screenshots')
  mkdirSync(dir, { recursive: true })
  return dir
}
