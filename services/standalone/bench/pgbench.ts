/**
 * The database's own ceiling: pgbench running the product's lifecycle SQL
 * (services/vault/bench/lifecycle.pgbench, prepared statements as the vault runs them) on a private database migrated to the
 * vault's schema and filled by lifecycle-setup.sql. Both files are run as they
 * are, with the variable `rooms` (psql -v / pgbench -D), so they can change with
 * the vault's SQL without touching this runner.
 */
import { fileURLToPath } from 'node:url'
import { Child, lastLines } from './children.js'
import { PrivateDatabase, pgEnv, type PgServer } from './database.js'
import { cpuUsed, processesNamed, reapedChildren, sampleCpu } from './proc.js'
import type { PgbenchResult, TargetResults } from './results.js'
import type { Settings } from './settings.js'

const file = (name: string): string => fileURLToPath(new URL(`../../../vault/bench/${name}`, import.meta.url))
export const PGBENCH_SCRIPT = file('lifecycle.pgbench')
export const PGBENCH_SETUP = file('lifecycle-setup.sql')

function figure (output: string, pattern: RegExp): number {
  const match = pattern.exec(output)
  return match?.[1] === undefined ? Number.NaN : Number(match[1])
}

export async function runPgbench (settings: Settings, server: PgServer, results: TargetResults): Promise<PgbenchResult | undefined> {
  const database = new PrivateDatabase(server)
  await database.create(true)
  try {
    const env = { ...process.env, ...pgEnv(server, database.name) }
    const variable = `rooms=${settings.rooms}`
    const setup = new Child('psql (lifecycle-setup.sql)', 'psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', variable, '-f', PGBENCH_SETUP], env)
    if (await setup.finished(60_000) !== 0) throw new Error(`the pgbench setup failed: ${lastLines(setup.output, 5)}`)

    // pgbench is our child: once it exits and is reaped, its CPU shows in our cutime/cstime.
    const sources = [processesNamed('postgres', 'postgres'), reapedChildren('pgbench')]
    const before = sampleCpu(sources)
    const clients = settings.pgbenchClients
    const pgbench = new Child('pgbench', 'pgbench', [
      '-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(2, clients)),
      '-T', String(settings.seconds), '-D', variable, '-f', PGBENCH_SCRIPT
    ], env)
    const code = await pgbench.finished((settings.seconds + 60) * 1000)
    const cpu = cpuUsed(before, sampleCpu(sources))
    const output = pgbench.output
    if (code !== 0) {
      results.broken.push(`pgbench exited with ${code ?? '?'}: ${lastLines(output, 4)}`)
      return undefined
    }
    const transactions = figure(output, /number of transactions actually processed: (\d+)/)
    let stack = 0
    for (const seconds of cpu.values()) stack += seconds
    const rowsLeft = await database.count('messages')
    if (rowsLeft > 0) results.broken.push(`pgbench: ${rowsLeft} message rows left after complete lifecycles (the script does not delete what it stores)`)
    return {
      lifecyclesPerSecond: figure(output, /tps = ([\d.]+) \(without initial connection time\)/),
      transactions,
      failed: figure(output, /number of failed transactions: (\d+)/),
      seconds: settings.seconds,
      latencyAvgMs: figure(output, /latency average = ([\d.]+) ms/),
      cpu,
      stackCpuUs: transactions > 0 ? (stack / transactions) * 1e6 : Number.NaN,
      rowsLeft,
      clients
    }
  } finally {
    await database.drop()
  }
}
