/**
 * A private, restartable deployment for one test file, every part a real process:
 * an embedded PostgreSQL (its own temporary folder and port), a NATS server on a
 * free port, 2 vaults and 2 gateways (built entry points), and SDK clients that
 * send, reveal and confirm like a browser tab would, recording everything the
 * resilience tests assert on.
 *
 * Nothing here touches the machine's shared PostgreSQL or NATS. Every process is
 * ended at `stop()`; a detached watchdog ends them too should this process die
 * without running its teardown (a timeout, a crash, SIGKILL).
 */
import { ChatSession, deriveRoomKeys, generateRoomCode, newMemberSecret, roomHashHex, SessionError, type RoomKeys, type SentMessage, type SessionErrorCode, type SocketLike } from '@ephemeral-chat/client'
import { startEmbeddedPostgres, type EmbeddedDatabase } from '@ephemeral-chat/embedded-db'
import { freePort, reachable, waitFor } from '@ephemeral-chat/testkit'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import WebSocket from 'ws'
import { cleanEnv, entry } from './spawn.js'

export const NATS_SERVER = '/usr/sbin/nats-server'

export const VAULTS = ['vault-1', 'vault-2'] as const
export const GATEWAYS = ['gateway-1', 'gateway-2'] as const
export type NodeServiceName = (typeof VAULTS)[number] | (typeof GATEWAYS)[number]
export type ServiceName = NodeServiceName | 'nats' | 'postgres'

export const delay = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))) }

/** Grace between SIGTERM and SIGKILL when stopping a process. */
const STOP_GRACE_MS = 5000

// ── watchdog ──────────────────────────────────────────────────────────────────

/**
 * A detached process holding the ids of our children: when its stdin closes (this process
 * ended, however), it SIGKILLs those still registered, stops the embedded PostgreSQL (by the
 * pid in its postmaster.pid, SIGQUIT: immediate shutdown) and deletes our temporary folder.
 */
const WATCHDOG = `
const { readFileSync, rmSync } = require('node:fs')
const pids = new Set(); const pgFiles = new Set(); const dirs = new Set(); let buffer = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  buffer += chunk
  for (let i = buffer.indexOf('\\n'); i >= 0; i = buffer.indexOf('\\n')) {
    const line = buffer.slice(0, i); buffer = buffer.slice(i + 1)
    const space = line.indexOf(' '); const op = line.slice(0, space); const arg = line.slice(space + 1)
    if (op === 'add') pids.add(Number(arg)); else if (op === 'del') pids.delete(Number(arg))
    else if (op === 'pg') pgFiles.add(arg); else if (op === 'unpg') pgFiles.delete(arg)
    else if (op === 'dir') dirs.add(arg); else if (op === 'undir') dirs.delete(arg)
  }
})
const alive = (pid) => { try { process.kill(pid, 0); return true } catch { return false } }
process.stdin.on('end', () => {
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch {} }
  const postmasters = []
  for (const file of pgFiles) { try { const pid = Number(readFileSync(file, 'utf8').split('\\n')[0]); if (pid > 0) { process.kill(pid, 'SIGQUIT'); postmasters.push(pid) } } catch {} }
  const deadline = Date.now() + 10000
  const finish = () => {
    if (postmasters.some(alive) && Date.now() < deadline) return setTimeout(finish, 100)
    for (const pid of postmasters) { try { process.kill(pid, 'SIGKILL') } catch {} }
    for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }) } catch {} }
    process.exit(0)
  }
  finish()
})
`

class Watchdog {
  readonly #child: ChildProcess
  constructor () {
    this.#child = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true })
    this.#child.unref()
    ;(this.#child.stdin as Socket | null)?.unref()
  }

  #say (line: string): void { this.#child.stdin?.write(`${line}\n`) }
  add (pid: number | undefined): void { if (pid !== undefined) this.#say(`add ${pid}`) }
  del (pid: number | undefined): void { if (pid !== undefined) this.#say(`del ${pid}`) }
  postgres (pidFile: string, on: boolean): void { this.#say(`${on ? 'pg' : 'unpg'} ${pidFile}`) }
  /** A folder to delete once everything is stopped (our temporary folder). */
  folder (path: string, on: boolean): void { this.#say(`${on ? 'dir' : 'undir'} ${path}`) }
  end (): void { this.#child.stdin?.end() }
}

// ── processes ─────────────────────────────────────────────────────────────────

interface Service {
  name: ServiceName
  command: string
  args: string[]
  env: NodeJS.ProcessEnv
  port: number
  /** Every line any incarnation printed (stdout and stderr). */
  chunks: string[]
  child: ChildProcess | undefined
  closed: Promise<void> | undefined
  /** Set when we end it; an exit without it is unexpected. */
  expectExit: boolean
  /** Set while SIGSTOPped. */
  stopped: boolean
}

export interface UnexpectedExit { name: ServiceName, code: number | null, signal: NodeJS.Signals | null, at: number }

export interface StackOptions {
  /** LOG_LEVEL of the vaults and gateways (default trace: everything they could ever log). */
  logLevel?: string
  /** Extra environment for the gateways (e.g. RATE_SEND). */
  gatewayEnv?: NodeJS.ProcessEnv
}

export interface DatabaseParams { host: string, port: number, user: string, password: string, database: string }

export class Stack {
  readonly #services = new Map<ServiceName, Service>()
  /** Helper processes by name (their pids), for CPU figures. */
  readonly #helpers = new Map<string, number>()
  readonly #watchdog = new Watchdog()
  readonly #dir = mkdtempSync(join(tmpdir(), 'ec-stack-'))
  readonly #databaseDir = join(this.#dir, 'postgres')
  readonly #pgPassword = randomBytes(12).toString('hex')
  #pgPort = 0
  #pg: EmbeddedDatabase | undefined
  #stopping: Promise<void> | undefined
  /** Exits nobody asked for (a crash), in order. */
  readonly unexpectedExits: UnexpectedExit[] = []
  readonly encryptionKey = randomBytes(32).toString('hex')
  readonly database = 'ephemeral_chat'
  natsPort = 0

  private constructor (private readonly options: StackOptions) {
    this.#watchdog.folder(this.#dir, true)
  }

  /** Starts everything and resolves once every vault and gateway answers /readyz with 200. */
  static async start (options: StackOptions = {}): Promise<Stack> {
    const stack = new Stack(options)
    try {
      await stack.#boot()
    } catch (error) {
      await stack.stop()
      throw error
    }
    return stack
  }

  get gatewayPorts (): number[] { return GATEWAYS.map((name) => this.#service(name).port) }
  get vaultPorts (): number[] { return VAULTS.map((name) => this.#service(name).port) }
  get natsUrl (): string { return `nats://127.0.0.1:${this.natsPort}` }
  get gatewayUrls (): string[] { return this.gatewayPorts.map((port) => `ws://127.0.0.1:${port}/ws`) }
  get pgParams (): DatabaseParams {
    return { host: '127.0.0.1', port: this.#pgPort, user: 'postgres', password: this.#pgPassword, database: this.database }
  }

  /** Every port of the stack's own servers (not client ports). */
  get serverPorts (): number[] {
    return [...this.#services.values()].map((service) => service.port).concat(this.#pgPort, ...this.#metricsPorts.values())
  }

  readonly #metricsPorts = new Map<NodeServiceName, number>()

  /** A service's Prometheus text (its METRICS_PORT). */
  async metrics (name: NodeServiceName): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.#metricsPorts.get(name) ?? 0}/metrics`)
    return response.text()
  }

  async #boot (): Promise<void> {
    const [natsPort, ...ports] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])
    const metricsPorts = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    this.natsPort = natsPort ?? 0
    const nats = this.#define('nats', NATS_SERVER, ['-a', '127.0.0.1', '-p', String(this.natsPort)], {}, this.natsPort)
    await Promise.all([this.#startPostgres(), this.#spawnAndWait(nats)])
    const pgEnv = {
      PGHOST: '127.0.0.1', PGPORT: String(this.#pgPort), PGUSER: 'postgres', PGPASSWORD: this.#pgPassword, PGDATABASE: this.database
    }
    const migrate = spawn(process.execPath, [entry('services/vault/dist/src/migrate.js')], { env: cleanEnv(pgEnv), stdio: ['ignore', 'pipe', 'pipe'] })
    this.#watchdog.add(migrate.pid)
    let migrateOutput = ''
    migrate.stdout.on('data', (chunk: Buffer) => { migrateOutput += chunk.toString() })
    migrate.stderr.on('data', (chunk: Buffer) => { migrateOutput += chunk.toString() })
    const migrated = await new Promise<number | null>((resolve) => migrate.once('close', resolve))
    this.#watchdog.del(migrate.pid)
    if (migrated !== 0) throw new Error(`migrate.js failed (${migrated ?? 'signal'}): ${migrateOutput.trim()}`)

    const common = {
      ...pgEnv,
      HOST: '127.0.0.1',
      NATS_URL: this.natsUrl,
      ENCRYPTION_KEY: this.encryptionKey,
      HEARTBEAT_INTERVAL: '1s',
      SWEEP_INTERVAL: '1s',
      REQUEST_TIMEOUT: '2s',
      LOG_LEVEL: this.options.logLevel ?? 'trace',
      MAX_CONNECTIONS_PER_ADDRESS: '10000',
      WEB_ROOT: '/nonexistent',
      // For a diagnosis, e.g. STACK_NODE_OPTIONS=--trace-gc; cleanEnv drops the test runner's own.
      ...(process.env.STACK_NODE_OPTIONS === undefined ? {} : { NODE_OPTIONS: process.env.STACK_NODE_OPTIONS })
    }
    const names = [...VAULTS, ...GATEWAYS]
    names.forEach((name, i) => {
      const vault = name.startsWith('vault')
      const port = ports[i] ?? 0
      this.#define(name, process.execPath, [entry(`services/${vault ? 'vault' : 'gateway'}/dist/src/server.js`)],
        { ...common, ...(vault ? {} : this.options.gatewayEnv), PORT: String(port), METRICS_PORT: String(metricsPorts[i] ?? 0) }, port)
      this.#metricsPorts.set(name, metricsPorts[i] ?? 0)
    })
    // Vaults first: a gateway's first heartbeat should find one.
    await Promise.all(VAULTS.map(async (name) => { await this.#spawnAndWait(this.#service(name)) }))
    await Promise.all(GATEWAYS.map(async (name) => { await this.#spawnAndWait(this.#service(name)) }))
  }

  #define (name: ServiceName, command: string, args: string[], env: NodeJS.ProcessEnv, port: number): Service {
    const service: Service = { name, command, args, env: cleanEnv(env), port, chunks: [], child: undefined, closed: undefined, expectExit: false, stopped: false }
    this.#services.set(name, service)
    return service
  }

  #service (name: ServiceName): Service {
    const service = this.#services.get(name)
    if (service === undefined) throw new Error(`no service ${name}`)
    return service
  }

  #spawn (service: Service): void {
    if (service.child !== undefined) throw new Error(`${service.name} is already running`)
    const child = spawn(service.command, service.args, { env: service.env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.#watchdog.add(child.pid)
    service.child = child
    service.expectExit = false
    service.stopped = false
    child.stdout?.setEncoding('utf8')
    child.stderr?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => { service.chunks.push(chunk) })
    child.stderr?.on('data', (chunk: string) => { service.chunks.push(chunk) })
    service.closed = new Promise((resolve) => {
      child.once('error', () => { /* reported by close */ })
      child.once('close', (code, signal) => {
        this.#watchdog.del(child.pid)
        if (service.child === child) service.child = undefined
        if (!service.expectExit) this.unexpectedExits.push({ name: service.name, code, signal, at: Date.now() })
        resolve()
      })
    })
  }

  async #spawnAndWait (service: Service, timeoutMs = 30_000): Promise<void> {
    this.#spawn(service)
    await this.waitReady(service.name, timeoutMs)
  }

  readonly #pgLog: string[] = []

  async #startPostgres (): Promise<void> {
    const instance = await startEmbeddedPostgres({
      databaseDir: this.#databaseDir,
      password: this.#pgPassword,
      ...(this.#pgPort === 0 ? {} : { port: this.#pgPort }),
      // PostgreSQL's default logging, all of it kept for the log scan.
      defaultLogging: true,
      onLog: (text) => { this.#pgLog.push(text) }
    })
    this.#pg = instance
    this.#pgPort = instance.port
    this.#watchdog.postgres(join(this.#databaseDir, 'postmaster.pid'), true)
  }

  async #stopPostgres (): Promise<void> {
    const instance = this.#pg
    this.#pg = undefined
    await instance?.stop()
  }

  /** True when the service answers: /readyz 200 for vaults and gateways, a TCP accept for NATS and PostgreSQL. */
  async isReady (name: ServiceName): Promise<boolean> {
    if (name === 'postgres') return this.#pg !== undefined && await reachable('127.0.0.1', this.#pgPort)
    const service = this.#service(name)
    if (service.child === undefined) return false
    if (name === 'nats') return reachable('127.0.0.1', service.port)
    const response = await fetch(`http://127.0.0.1:${service.port}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)
    return response?.status === 200
  }

  async waitReady (name: ServiceName, timeoutMs = 30_000): Promise<void> {
    const service = name === 'postgres' ? undefined : this.#service(name)
    await waitFor(`${name} ready`, async () => {
      if (service !== undefined && service.child === undefined) throw new Error(`${name} exited before it was ready: ${this.output(name).trim().split('\n').slice(-3).join(' / ')}`)
      return this.isReady(name)
    }, timeoutMs, 100)
  }

  /** Names of the services that do not answer now. */
  async notReady (): Promise<ServiceName[]> {
    const names: ServiceName[] = ['postgres', 'nats', ...VAULTS, ...GATEWAYS]
    const ready = await Promise.all(names.map(async (name) => this.isReady(name)))
    return names.filter((_, i) => ready[i] !== true)
  }

  /**
   * Sends `signal` to a service. SIGSTOP and SIGCONT return at once; any other signal
   * resolves once the process has exited. For `postgres` any terminating signal means
   * the embedded server's own stop (SIGINT: PostgreSQL's fast shutdown).
   */
  async kill (name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (name === 'postgres') {
      await this.#stopPostgres()
      return
    }
    const service = this.#service(name)
    const child = service.child
    if (child === undefined) return
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      service.stopped = signal === 'SIGSTOP'
      child.kill(signal)
      return
    }
    service.expectExit = true
    if (service.stopped) child.kill('SIGCONT')
    child.kill(signal)
    await service.closed
  }

  /** Starts a killed service again, same command, environment and port; resolves once it is ready. */
  async start (name: ServiceName, timeoutMs = 30_000): Promise<void> {
    if (name === 'postgres') {
      await this.#startPostgres()
      return
    }
    await this.#spawnAndWait(this.#service(name), timeoutMs)
  }

  /** Puts a helper process the test started under the watchdog: it is killed should this process die first. */
  track (child: ChildProcess, name?: string): void {
    this.#watchdog.add(child.pid)
    if (name !== undefined && child.pid !== undefined) this.#helpers.set(name, child.pid)
    child.once('close', () => {
      this.#watchdog.del(child.pid)
      if (name !== undefined) this.#helpers.delete(name)
    })
  }

  /**
   * CPU seconds used so far by each part (user + system, from /proc): every vault and gateway, NATS,
   * PostgreSQL with all its backends, the tracked helpers, and this test process itself.
   */
  cpuSeconds (): Map<string, number> {
    const seconds = new Map<string, number>()
    const stats = procStats()
    const byPid = new Map(stats.map((stat) => [stat.pid, stat]))
    for (const [name, service] of this.#services) {
      const stat = service.child?.pid === undefined ? undefined : byPid.get(service.child.pid)
      if (stat !== undefined) seconds.set(name, stat.cpu)
    }
    const postmaster = Number(readFileIfAny(join(this.#databaseDir, 'postmaster.pid')).split('\n')[0])
    // The postmaster's own time, its exited backends' (reaped into its children's time), and its live backends'.
    if (postmaster > 0) seconds.set('postgres', stats.filter((stat) => stat.pid === postmaster || stat.ppid === postmaster).reduce((sum, stat) => sum + stat.cpu + (stat.pid === postmaster ? stat.reaped : 0), 0))
    for (const [name, pid] of this.#helpers) {
      const stat = byPid.get(pid)
      if (stat !== undefined) seconds.set(name, stat.cpu)
    }
    const own = process.cpuUsage()
    seconds.set('test process', (own.user + own.system) / 1e6)
    // Everything else on the machine (other test files, other services): total busy time less ours.
    const busy = machineBusySeconds()
    if (busy !== undefined) seconds.set('rest of the machine', busy - [...seconds.values()].reduce((sum, cpu) => sum + cpu, 0))
    return seconds
  }

  /** Everything the service printed, all incarnations. */
  output (name: ServiceName): string {
    return this.#service(name).chunks.join('')
  }

  /** Output of every vault and gateway, and PostgreSQL's log (default logging) of all its runs. */
  serviceOutputs (): Map<NodeServiceName | 'postgres', string> {
    return new Map<NodeServiceName | 'postgres', string>([...[...VAULTS, ...GATEWAYS].map((name) => [name, this.output(name)] as const), ['postgres', this.#pgLog.join('')]])
  }

  /** One query on the private database, on a connection of its own. */
  async query<R extends pg.QueryResultRow = Record<string, unknown>> (text: string, values: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ ...this.pgParams, connectionTimeoutMillis: 5000 })
    await client.connect()
    try {
      return (await client.query<R>(text, values)).rows
    } finally {
      await client.end()
    }
  }

  /** Ends every process (SIGTERM, SIGKILL after 5 s), then PostgreSQL, and deletes the temporary folder. */
  async stop (): Promise<void> {
    this.#stopping ??= (async () => {
      const end = async (service: Service): Promise<void> => {
        const child = service.child
        if (child === undefined) return
        service.expectExit = true
        if (service.stopped) child.kill('SIGCONT')
        child.kill('SIGTERM')
        const timer = setTimeout(() => { child.kill('SIGKILL') }, STOP_GRACE_MS)
        await service.closed
        clearTimeout(timer)
      }
      const of = (names: readonly ServiceName[]): Service[] => names.map((name) => this.#services.get(name)).filter((s): s is Service => s !== undefined)
      // Gateways, then vaults (they drain NATS and close their pools), then NATS, then PostgreSQL.
      await Promise.all(of(GATEWAYS).map(end))
      await Promise.all(of(VAULTS).map(end))
      await Promise.all(of(['nats']).map(end))
      await this.#stopPostgres()
      rmSync(this.#dir, { recursive: true, force: true })
      this.#watchdog.folder(this.#dir, false)
      this.#watchdog.end()
    })()
    return this.#stopping
  }
}

export const natsServerInstalled = (): boolean => existsSync(NATS_SERVER)

function readFileIfAny (path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100

/** CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait). */
function machineBusySeconds (): number | undefined {
  const fields = readFileIfAny('/proc/stat').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? []
  if (fields.length < 5) return undefined
  const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0)
  return (total - (fields[3] ?? 0) - (fields[4] ?? 0)) / TICKS_PER_SECOND
}

/** pid, parent pid, CPU seconds (user + system) and CPU seconds of its reaped children, of every process we can read. */
function procStats (): Array<{ pid: number, ppid: number, cpu: number, reaped: number }> {
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))
  } catch {
    return []
  }
  const stats: Array<{ pid: number, ppid: number, cpu: number, reaped: number }> = []
  for (const entry of entries) {
    const text = readFileIfAny(`/proc/${entry}/stat`)
    // The command name (2nd field) is in parentheses and may hold spaces: fields are counted after its ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    if (fields.length < 15) continue
    stats.push({
      pid: Number(entry),
      ppid: Number(fields[1]),
      cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
      reaped: (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND
    })
  }
  return stats
}

/** CPU use of each part between two `cpuSeconds()` snapshots, as percent of one core, busiest first. */
export function cpuText (before: Map<string, number>, after: Map<string, number>, seconds: number): string {
  return [...after]
    .map(([name, cpu]) => [name, ((cpu - (before.get(name) ?? 0)) / seconds) * 100] as const)
    .sort(([, a], [, b]) => b - a)
    .map(([name, percent]) => `${name} ${percent.toFixed(0)}%`)
    .join(', ')
}

// ── clients ───────────────────────────────────────────────────────────────────

/** Failures after which a reveal or a confirmation is worth trying again. */
export const RETRYABLE: ReadonlySet<SessionErrorCode> = new Set(['unavailable', 'internal', 'timeout', 'closed', 'rate-limited'])

const asSessionError = (error: unknown): SessionError =>
  error instanceof SessionError ? error : new SessionError('internal', error instanceof Error ? error.message : 'failed')

/** Values sent to the gateways that must never show up in a log: request headers and a URL query. */
export interface Baits {
  userAgent: string
  forwardedFor: string
  query: string
}

export function newBaits (): Baits {
  const token = randomBytes(8).toString('hex')
  return { userAgent: `ec-resilience-test/${token}`, forwardedFor: '198.51.100.77', query: `probe=${token}` }
}

export interface LoadOptions {
  rooms: number
  membersPerRoom: number
  /** ws:// URLs of the gateways; each client alternates between them on every (re)connection. */
  gatewayUrls: string[]
  /** Sent as headers and query on every client connection (log scan). */
  baits?: Baits
}

interface Pending { sender: LoadClient, text: string, sentAt: number }

/** A send not answered `sent` yet: when it started and how each call of send/retrySend failed (each call is the SDK's own 6 attempts). */
export interface SendProgress { client: LoadClient, startedAt: number, failures: string[] }

/** One member: sends when told, reveals and confirms every card it gets. */
export class LoadClient {
  readonly session: ChatSession
  /** 'card' events per message id (more than one: a duplicate delivery). */
  readonly cards = new Map<string, number>()
  /** Successful reveals per message id. */
  readonly reveals = new Map<string, number>()
  /** Texts revealed, with how often. */
  readonly texts = new Map<string, number>()
  /** Every presence event, with when it came. */
  readonly presence: Array<{ at: number, members: number }> = []
  /** When sends were answered `sent`, and cards arrived (Date.now()). */
  readonly ackTimes: number[] = []
  readonly cardTimes: number[] = []
  /** What happened to each message at this member (card, revealed, confirmed, failures), with when: for diagnostics. */
  readonly events = new Map<string, Array<{ at: number, what: string }>>()
  /** Connection state changes, with when. */
  readonly states: Array<{ at: number, state: string, code?: number }> = []
  #sendTimer: NodeJS.Timeout | undefined
  #seq = 0

  constructor (readonly load: Load, readonly index: number, readonly room: number, readonly keys: RoomKeys, readonly memberSecret: string, options: LoadOptions) {
    let connection = index
    const query = options.baits === undefined ? '' : `?${options.baits.query}`
    const headers = options.baits === undefined ? undefined : { 'User-Agent': options.baits.userAgent, 'X-Forwarded-For': options.baits.forwardedFor }
    this.session = new ChatSession({
      url: () => `${options.gatewayUrls[connection++ % options.gatewayUrls.length] ?? ''}${query}`,
      keys,
      memberSecret,
      createSocket: (url) => {
        const socket = new WebSocket(url, headers === undefined ? {} : { headers })
        socket.on('upgrade', (response) => { if (response.socket.localPort !== undefined) load.clientPorts.add(response.socket.localPort) })
        return socket as unknown as SocketLike
      },
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
      requestTimeoutMs: 3000
    })
    this.session.on('card', (card) => {
      this.cards.set(card.id, (this.cards.get(card.id) ?? 0) + 1)
      this.cardTimes.push(Date.now())
      this.events.set(card.id, [...(this.events.get(card.id) ?? []), { at: Date.now(), what: 'card' }])
      load.cardIds.add(card.id)
      void this.#consume(card.id)
    })
    this.session.on('presence', ({ members }) => { this.presence.push({ at: Date.now(), members }) })
    this.session.on('state', ({ state, code }) => { this.states.push({ at: Date.now(), state, ...(code === undefined ? {} : { code }) }) })
  }

  /** Sends at `perSecond`, from a random phase, until `stopSending`. */
  startSending (perSecond: number): void {
    const period = 1000 / perSecond
    this.#sendTimer = setTimeout(() => {
      this.#sendTimer = setInterval(() => { void this.sendOne() }, period)
      void this.sendOne()
    }, Math.random() * period)
  }

  stopSending (): void {
    clearTimeout(this.#sendTimer)
    clearInterval(this.#sendTimer)
  }

  /** One message; after the SDK gave up, `retrySend` again until it is stored (or the load is aborted). */
  async sendOne (): Promise<void> {
    const load = this.load
    const text = `c${this.index}#${++this.#seq} ${randomBytes(6).toString('base64url')}`
    const progress: SendProgress = { client: this, startedAt: Date.now(), failures: [] }
    load.inFlight++
    load.sending.set(text, progress)
    load.sendStarts.set(text, performance.now())
    try {
      let sent: SentMessage | undefined
      try {
        sent = await this.session.send(text)
      } catch (error) {
        let failure = asSessionError(error)
        load.count('send', failure.code)
        progress.failures.push(failure.code)
        const id = failure.id
        while (id !== undefined && !load.aborted && this.session.state !== 'closed') {
          if (!RETRYABLE.has(failure.code) && failure.code !== 'room-busy') break
          await delay(200 + Math.random() * 300)
          try {
            sent = await this.session.retrySend(id)
            break
          } catch (again) {
            failure = asSessionError(again)
            load.count('send', failure.code)
            progress.failures.push(failure.code)
          }
        }
      }
      if (sent === undefined) {
        load.abandoned++
        load.gaveUp.set(text, progress)
        return
      }
      load.acked.set(sent.id, { sender: this, text, sentAt: Date.now() })
      this.ackTimes.push(Date.now())
      if (sent.recipients === 0 && sent.gone === undefined) {
        load.count('send', 'no-recipient')
        load.noRecipient.push({ client: this, id: sent.id, at: Date.now() })
      }
      if (sent.gone !== undefined) load.answeredGone++
    } finally {
      load.inFlight--
      load.sending.delete(text)
    }
  }

  /** Retries `work` on retryable failures; the last failure's code when it gives up. */
  async #retrying<T> (what: string, id: string, work: () => Promise<T>): Promise<{ ok: true, value: T } | { ok: false, code: SessionErrorCode, retried: boolean }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return { ok: true, value: await work() }
      } catch (error) {
        const failure = asSessionError(error)
        this.load.count(what, failure.code)
        this.#note(id, `${what} ${failure.code}`)
        if (!RETRYABLE.has(failure.code) || this.load.aborted || this.session.state === 'closed') return { ok: false, code: failure.code, retried: attempt > 0 }
        await delay((failure.code === 'rate-limited' ? 500 : 100) + Math.random() * 200)
      }
    }
  }

  async #consume (id: string): Promise<void> {
    const revealed = await this.#retrying('reveal', id, async () => this.session.reveal(id))
    if (!revealed.ok) return
    const payload = revealed.value
    const now = performance.now()
    this.reveals.set(id, (this.reveals.get(id) ?? 0) + 1)
    this.texts.set(payload.text, (this.texts.get(payload.text) ?? 0) + 1)
    const started = this.load.sendStarts.get(payload.text)
    if (started !== undefined && !this.load.latency.has(payload.text)) this.load.latency.set(payload.text, { sentAt: started, ms: now - started })
    this.#note(id, 'revealed')
    const viewed = await this.#retrying('viewed', id, async () => this.session.viewed(id))
    if (viewed.ok) {
      this.load.confirmed.add(id)
      this.#note(id, 'confirmed')
    } else if (viewed.code === 'already-gone' && viewed.retried) {
      // An earlier attempt may have been applied with its answer lost (a gateway or vault died, a timeout): the
      // retry is then told `already-gone`. The test checks the message's tombstone before counting it confirmed.
      this.load.confirmedAnswerLost.add(id)
    }
  }

  #note (id: string, what: string): void {
    this.events.set(id, [...(this.events.get(id) ?? []), { at: Date.now(), what }])
  }

  /** The presence value at `at` (the last event not after it). */
  presenceAt (at: number): number | undefined {
    let value: number | undefined
    for (const event of this.presence) if (event.at <= at) value = event.members
    return value
  }

  /**
   * Milliseconds after `from` from which every presence event (up to now) said `expected`:
   * 0 if it already did at `from` and never changed; Infinity if it does not say so now.
   */
  presenceSettledAfter (from: number, expected: number): number {
    let settledSince: number | undefined = this.presenceAt(from) === expected ? from : undefined
    for (const event of this.presence) {
      if (event.at <= from) continue
      if (event.members !== expected) settledSince = undefined
      else settledSince ??= event.at
    }
    return settledSince === undefined ? Number.POSITIVE_INFINITY : settledSince - from
  }

  /** Milliseconds from `from` to the first `sent` answer after it (Infinity: none). */
  firstAckAfter (from: number): number {
    const at = this.ackTimes.find((time) => time >= from)
    return at === undefined ? Number.POSITIVE_INFINITY : at - from
  }

  firstCardAfter (from: number): number {
    const at = this.cardTimes.find((time) => time >= from)
    return at === undefined ? Number.POSITIVE_INFINITY : at - from
  }
}

const JOIN_TIMEOUT_MS = 30_000

/** A set of rooms full of members, and what happened to every message. */
export class Load {
  readonly clients: LoadClient[] = []
  readonly roomKeys: RoomKeys[] = []
  readonly roomHashes: string[] = []
  /** Text → performance.now() when send() was called. */
  readonly sendStarts = new Map<string, number>()
  /** Text → send()-to-payload latency (first reveal). */
  readonly latency = new Map<string, { sentAt: number, ms: number }>()
  /** Message ids answered `sent`. */
  readonly acked = new Map<string, Pending>()
  /** Message ids whose recipient's `viewed` succeeded. */
  readonly confirmed = new Set<string>()
  /** Message ids whose `viewed` retry was answered `already-gone` after an attempt with no answer. */
  readonly confirmedAnswerLost = new Set<string>()
  readonly cardIds = new Set<string>()
  /** Failures by `<operation>:<code>`. */
  readonly failures = new Map<string, number>()
  readonly clientPorts = new Set<number>()
  /** Sends answered `sent` with 0 recipients (stored for the next member to join) although both members were in the room. */
  readonly noRecipient: Array<{ client: LoadClient, id: string, at: number }> = []
  /** Sends answered `sent` with `gone` (a retry of a message stored, delivered and deleted meanwhile). */
  answeredGone = 0
  /** Sends not answered `sent` yet, by text. */
  readonly sending = new Map<string, SendProgress>()
  /** Sends given up for good, by text. */
  readonly gaveUp = new Map<string, SendProgress>()
  inFlight = 0
  /** Sends given up for good (a failure that retrying cannot cure, or the load was aborted). */
  abandoned = 0
  /** Set to stop every retry loop. */
  aborted = false

  private constructor (readonly options: LoadOptions) {}

  /** Derives the room keys, connects every member and resolves once all have joined. */
  static async connect (options: LoadOptions): Promise<Load> {
    const load = new Load(options)
    const keys = await Promise.all(Array.from({ length: options.rooms }, async () => deriveRoomKeys(generateRoomCode())))
    for (const [room, roomKeys] of keys.entries()) {
      load.roomKeys.push(roomKeys)
      load.roomHashes.push(await roomHashHex(roomKeys.roomIdBytes))
      for (let m = 0; m < options.membersPerRoom; m++) {
        load.clients.push(new LoadClient(load, load.clients.length, room, roomKeys, newMemberSecret(), options))
      }
    }
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        Promise.all(load.clients.map(async (client) => client.session.connect())),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => {
            const waiting = load.clients.filter((client) => client.session.state !== 'joined')
            reject(new Error(`${waiting.length} of ${load.clients.length} members had not joined after ${JOIN_TIMEOUT_MS} ms (states: ${waiting.slice(0, 5).map((client) => client.states.map((e) => `${e.state}${e.code === undefined ? '' : ` ${e.code}`}`).join('>')).join('; ')})`))
          }, JOIN_TIMEOUT_MS)
        })
      ])
    } catch (error) {
      load.close()
      throw error
    } finally {
      clearTimeout(timer)
    }
    return load
  }

  count (operation: string, code: string): void {
    const key = `${operation}:${code}`
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1)
  }

  startSending (perSecond: number): void {
    for (const client of this.clients) client.startSending(perSecond)
  }

  stopSending (): void {
    for (const client of this.clients) client.stopSending()
  }

  /** Stored, and neither confirmed nor answered `already-gone` on a confirmation retry. */
  unsettled (): string[] {
    return [...this.acked.keys()].filter((id) => !this.confirmed.has(id) && !this.confirmedAnswerLost.has(id))
  }

  /** Waits until no send is in flight and every stored message is settled (see `unsettled`); then aborts every retry. */
  async drain (timeoutMs: number): Promise<{ complete: boolean, ms: number }> {
    const started = Date.now()
    let complete = false
    while (Date.now() - started < timeoutMs) {
      if (this.inFlight === 0 && this.unsettled().length === 0) {
        complete = true
        break
      }
      await delay(100)
    }
    this.aborted = true
    return { complete, ms: Date.now() - started }
  }

  /** Cards announced more than once to the same member (after the SDK's own de-duplication). */
  duplicateCards (): number {
    let extra = 0
    for (const client of this.clients) for (const n of client.cards.values()) extra += Math.max(0, n - 1)
    return extra
  }

  /** Message ids one member revealed successfully more than once. */
  duplicateReveals (): number {
    let extra = 0
    for (const client of this.clients) for (const n of client.reveals.values()) extra += Math.max(0, n - 1)
    return extra
  }

  /** Texts one member revealed more than once (under any ids). */
  duplicateTexts (): number {
    let extra = 0
    for (const client of this.clients) for (const n of client.texts.values()) extra += Math.max(0, n - 1)
    return extra
  }

  /** Identifiers that must never appear in a log. */
  identifiers (): { memberIds: string[], roomIds: string[], roomHashes: string[], messageIds: string[] } {
    return {
      memberIds: this.clients.map((client) => client.session.memberId).filter((id): id is string => id !== undefined),
      roomIds: this.roomKeys.map((keys) => keys.roomId),
      roomHashes: [...this.roomHashes],
      messageIds: [...new Set([...this.acked.keys(), ...this.cardIds])]
    }
  }

  close (): void {
    this.aborted = true
    this.stopSending()
    for (const client of this.clients) client.session.close()
  }
}

// ── figures ───────────────────────────────────────────────────────────────────

/** The p-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile (values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
}

export const fmt = (ms: number): string => Number.isFinite(ms) ? `${ms.toFixed(ms < 100 ? 1 : 0)} ms` : String(ms)

export function countsText (counts: Map<string, number>): string {
  return counts.size === 0 ? 'none' : [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key}=${n}`).join(', ')
}
