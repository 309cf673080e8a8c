/**
 * The systems under test, each a fresh set of child processes so their CPU and
 * memory can be read from /proc:
 * - floor: the bare ws server of floor.ts;
 * - standalone: exactly `npm start` (gateway and vault in one process, in-process
 *   bus) on a private database of the machine's PostgreSQL;
 * - split: migrate, then vault and gateway processes on NATS under a private
 *   subject prefix.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Child, lastLines } from './children.js'
import { PrivateDatabase, pgEnv, type PgServer } from './database.js'
import { processes, processesNamed, type CpuSource } from './proc.js'
import type { Settings } from './settings.js'
import { freePort } from './util.js'

export type ProductTargetName = 'floor' | 'standalone' | 'split'

const services = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url))
const ENTRIES = {
  floor: fileURLToPath(new URL('./floor.js', import.meta.url)),
  standalone: services('standalone/dist/src/main.js'),
  migrate: services('vault/dist/src/migrate.js'),
  vault: services('vault/dist/src/server.js'),
  gateway: services('gateway/dist/src/server.js')
}

const START_TIMEOUT_MS = 60_000
/** For memory figures only: lets the bench force a full GC (inspector on a loopback port). */
const INSPECT = ['--inspect=127.0.0.1:0']
const STOP_GRACE_MS = 10_000

export interface Target {
  readonly name: ProductTargetName
  /** WebSocket URLs; clients are spread over them round robin. */
  readonly wsUrls: readonly string[]
  /** The product's processes by part, with every PostgreSQL process and nats-server where the stack uses them. */
  readonly cpu: readonly CpuSource[]
  /** Processes that hold the client connections: their RSS growth is the memory per connection. */
  readonly connectionHolders: readonly Child[]
  /** Every other child, for side figures (the vault's RSS). */
  readonly children: readonly Child[]
  readonly database: PrivateDatabase | undefined
  /** Why some child ended on its own, if one did. */
  crash (): string | undefined
  /** Stops everything; returns what did not go cleanly. */
  stop (): Promise<StopReport>
}

/** The product's environment: operator limits raised (all load comes from one address), nothing inherited that would point it elsewhere. */
function productEnv (settings: Settings, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PG|DATABASE_URL|NATS_|ENCRYPTION_KEY|PORT$|HOST$|DATA_DIR|VAULT_PORT|RATE_|MAX_CONNECTIONS_PER_ADDRESS|BENCH_)/.test(key)) env[key] = value
  }
  return {
    ...env,
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    RATE_SEND: settings.rate,
    RATE_TYPING: settings.rate,
    RATE_REVEAL: settings.rate,
    RATE_CONTROL: settings.rate,
    MAX_CONNECTIONS_PER_ADDRESS: '100000',
    ...extra
  }
}

export interface StopReport {
  /** A child that had crashed, a database that could not be dropped: the run is broken. */
  failures: string[]
  /** A child that needed SIGKILL: a finding about the product's shutdown, not a broken run. */
  findings: string[]
}

async function stopAll (children: readonly Child[], database: PrivateDatabase | undefined, folder: string | undefined): Promise<StopReport> {
  const report: StopReport = { failures: [], findings: [] }
  // Gateways first (they answer the clients), then vaults, as an orchestrator would.
  for (const child of [...children].reverse()) {
    const crash = child.crash
    const outcome = await child.stop(STOP_GRACE_MS)
    if (crash !== undefined) report.failures.push(crash)
    else if (outcome === 'killed') report.findings.push(`${child.name} did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM and was killed (last output: ${lastLines(child.output, 2)})`)
  }
  if (database !== undefined) {
    try {
      await database.drop()
    } catch (error) {
      report.failures.push(`dropping ${database.name} failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  if (folder !== undefined) rmSync(folder, { recursive: true, force: true })
  return report
}

function target (name: ProductTargetName, wsUrls: string[], cpu: CpuSource[], holders: Child[], children: Child[], database: PrivateDatabase | undefined, folder?: string): Target {
  let stopped: Promise<StopReport> | undefined
  return {
    name,
    wsUrls,
    cpu,
    connectionHolders: holders,
    children,
    database,
    crash: () => children.map((child) => child.crash).find((crash) => crash !== undefined),
    stop: async () => {
      stopped ??= stopAll(children, database, folder)
      return stopped
    }
  }
}

async function startFloor (flags: readonly string[]): Promise<Target> {
  const port = await freePort()
  const floor = Child.node('floor', ENTRIES.floor, { ...process.env, PORT: String(port) }, flags)
  const started = target('floor', [`ws://127.0.0.1:${port}/ws`], [processes('floor', [floor.pid])], [floor], [floor], undefined)
  try {
    await floor.waitForHttp(`http://127.0.0.1:${port}/readyz`, START_TIMEOUT_MS)
  } catch (error) {
    await started.stop()
    throw error
  }
  return started
}

async function startStandalone (settings: Settings, server: PgServer, flags: readonly string[]): Promise<Target> {
  const port = await freePort()
  const database = new PrivateDatabase(server)
  const folder = mkdtempSync(join(tmpdir(), 'ec-bench-'))
  // No NATS_URL: the in-process bus. PGHOST set: this PostgreSQL, not the embedded one; the process creates and migrates PGDATABASE itself.
  const child = Child.node('standalone', ENTRIES.standalone, productEnv(settings, {
    ...pgEnv(server, database.name),
    PORT: String(port),
    DATA_DIR: folder,
    ENCRYPTION_KEY: randomBytes(32).toString('hex')
  }), flags)
  const started = target('standalone', [`ws://127.0.0.1:${port}/ws`], [processes('node', [child.pid]), processesNamed('postgres', 'postgres')], [child], [child], database, folder)
  try {
    await child.waitForOutput(/is running/, START_TIMEOUT_MS)
    await child.waitForHttp(`http://127.0.0.1:${port}/readyz`, START_TIMEOUT_MS)
  } catch (error) {
    await started.stop()
    throw error
  }
  return started
}

async function startSplit (settings: Settings, server: PgServer, flags: readonly string[]): Promise<Target> {
  const database = new PrivateDatabase(server)
  const common = {
    ...pgEnv(server, database.name),
    NATS_URL: settings.natsUrl,
    // A private namespace: nothing else on this NATS server hears or answers our subjects.
    NATS_SUBJECT_PREFIX: `bench${randomBytes(6).toString('hex')}`,
    ENCRYPTION_KEY: randomBytes(32).toString('hex')
  }
  const migrate = Child.node('migrate', ENTRIES.migrate, productEnv(settings, common))
  const code = await migrate.finished(START_TIMEOUT_MS)
  if (code !== 0) {
    await database.drop().catch(() => {})
    throw new Error(`migrate exited with ${code ?? '?'}: ${lastLines(migrate.output, 5)}`)
  }
  const vaults: Child[] = []
  const gateways: Child[] = []
  const urls: string[] = []
  const started = (): Target => target('split', urls, [
    processes('gateway', gateways.map((g) => g.pid)),
    processes('vault', vaults.map((v) => v.pid)),
    processesNamed('postgres', 'postgres'),
    processesNamed('nats', 'nats-server')
  ], gateways, [...vaults, ...gateways], database)
  try {
    for (let i = 0; i < settings.vaults; i++) {
      const port = await freePort()
      const vault = Child.node(`vault-${i + 1}`, ENTRIES.vault, productEnv(settings, { ...common, PORT: String(port) }), flags)
      vaults.push(vault)
      await vault.waitForHttp(`http://127.0.0.1:${port}/readyz`, START_TIMEOUT_MS)
    }
    for (let i = 0; i < settings.gateways; i++) {
      const port = await freePort()
      const gateway = Child.node(`gateway-${i + 1}`, ENTRIES.gateway, productEnv(settings, { ...common, PORT: String(port) }), flags)
      gateways.push(gateway)
      await gateway.waitForHttp(`http://127.0.0.1:${port}/readyz`, START_TIMEOUT_MS)
      urls.push(`ws://127.0.0.1:${port}/ws`)
    }
  } catch (error) {
    await started().stop()
    throw error
  }
  return started()
}

/** With `inspect`, the node processes can be made to collect garbage (see gc.ts), for memory figures. */
export async function startTarget (name: ProductTargetName, settings: Settings, server: PgServer, inspect = false): Promise<Target> {
  const flags = [...settings.nodeFlags, ...(inspect ? INSPECT : [])]
  switch (name) {
    case 'floor': return startFloor(flags)
    case 'standalone': return startStandalone(settings, server, flags)
    case 'split': return startSplit(settings, server, flags)
  }
}
