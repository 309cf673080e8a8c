/**
 * `npm run bench`: the product side by side with its floors, on this machine.
 *
 * Targets (BENCH_TARGETS, comma-separated; default all, in this order):
 * - floor: a bare `ws` server answering the same frames from memory (floor.ts);
 * - pgbench: pgbench running the vault's lifecycle SQL (services/vault/bench/
 *   lifecycle.pgbench) — the database's own ceiling for durable lifecycles;
 * - standalone: `npm start` (one process, in-process bus) on a private database;
 * - split: migrate, then BENCH_VAULTS vaults and BENCH_GATEWAYS gateways on NATS.
 * Each target is a fresh set of child processes; CPU and memory come from /proc.
 *
 * Scenarios (BENCH_SCENARIOS; default all; pgbench runs its script instead):
 * - one-to-one: BENCH_ROOMS rooms of 2 (50), both members keeping BENCH_WINDOW
 *   lifecycles in flight (10); BENCH_WARMUP s (2), then BENCH_SECONDS s measured
 *   (10). A lifecycle is send → sent, card → reveal → payload → viewed answered.
 *   Lifecycles/s, stack CPU per lifecycle (the target's node processes, every
 *   `postgres` process, nats-server for split), send → payload p50/p99.
 * - ten-by-ten: 10 rooms × 10 members, each sending BENCH_TEN_MESSAGES (20) with
 *   the same window; every recipient reveals and confirms every card. Payloads
 *   delivered/s; stops starting messages after BENCH_TEN_DEADLINE s (20).
 * - latency: BENCH_LATENCY_ROOMS rooms of 2 (50), each member sending
 *   BENCH_LATENCY_RATE messages/s (2) on an open-loop schedule for BENCH_SECONDS;
 *   percentiles over the sends after the warm-up, as the other scenarios measure
 *   (the whole run's p99 is printed beside them).
 * - overload: open loop at BENCH_OVERLOAD_FACTOR (2) × the one-to-one rate of the
 *   same target over BENCH_OVERLOAD_ROOMS rooms of 2 (100), each send with a
 *   client deadline of BENCH_DEADLINE s (5). Goodput = lifecycles completed within
 *   the window whose send was answered in time, per second; time to refusal;
 *   orphan rows (messages left once every client confirmed every card it got).
 * - idle: on a fresh start of the target, BENCH_CONNECTIONS (5000) connections
 *   join rooms of BENCH_IDLE_MEMBERS (10), BENCH_JOINS_IN_FLIGHT (250) at a time;
 *   joins/s, and (RSS after − RSS before) / connections of the process holding
 *   them (standalone: the one process; split: the gateways), each RSS read after
 *   full garbage collections (this start runs node with --inspect on a loopback
 *   port, through which the bench asks for them) and BENCH_SETTLE s (2).
 *
 * Every scenario drains (BENCH_DRAIN s, 30) before it counts rows; before the
 * next one the target's processes must go idle (BENCH_QUIET s, 30, else it is
 * restarted), so work abandoned in one scenario does not land in the next. Reveals and
 * confirmations refused as unavailable/internal/rate-limited are retried up to
 * BENCH_ATTEMPTS (6, as the SDK) times, after the server's retry hint, as the SDK does; so are
 * sends in the closed-loop scenarios (their clients stand for SDK users), never in
 * the open-loop ones (there a refused send is a figure).
 * Product targets get RATE_SEND/RATE_TYPING/RATE_REVEAL/RATE_CONTROL = BENCH_RATE
 * (1000000/1000000) and MAX_CONNECTIONS_PER_ADDRESS=100000: all load comes from
 * this one address. BENCH_PGBENCH_CLIENTS (10, the vault's pool size) pgbench
 * clients. BENCH_TIMEOUT s (1200) stops everything. PGHOST/PGPORT/PGUSER/
 * PGPASSWORD (127.0.0.1:5432, postgres) and NATS_URL (nats://127.0.0.1:4222)
 * choose the servers; each target gets a private database, dropped at the end.
 * BENCH_NODE_FLAGS (space-separated) go to every node process of the targets, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile them under load.
 *
 * The "done when" targets are printed with a verdict and never change the exit
 * code; it is non-zero only for a broken run: a target that could not start or
 * crashed, lifecycles lost (never answered, or a card that never came), rows left
 * although nothing failed, pgbench failing, a private database left behind. A
 * process that needs SIGKILL (the bench stops with SIGTERM, SIGKILL 10 s later) is
 * reported as a note.
 */
import { cpus, loadavg } from 'node:os'
import { lastLines } from './children.js'
import { pgServer } from './database.js'
import { runPgbench } from './pgbench.js'
import { cpuModel, raiseOpenFileLimit } from './proc.js'
import { printDetails, printTable } from './report.js'
import type { TargetResults } from './results.js'
import { runTarget } from './run-target.js'
import { codeVersion, serverFacts } from './server-facts.js'
import { readSettings } from './settings.js'
import { Cleanup, errorText, say, sleep } from './util.js'

const cleanup = new Cleanup()

function load (): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ')
}

async function main (): Promise<number> {
  const settings = readSettings()
  const server = pgServer()
  const wanted = settings.connections + 2000
  const files = raiseOpenFileLimit(wanted)
  const facts = await serverFacts(server, settings.natsUrl)
  say(`machine: ${cpus().length} CPUs (${cpuModel()}), load ${load()}, node ${process.version}, open files ${files?.soft ?? '?'}`)
  say(`code: ${codeVersion()}`)
  say(`servers: ${facts}`)
  say(`targets: ${settings.targets.join(', ')}; scenarios: ${[...settings.scenarios].join(', ')}; ${settings.seconds} s measured per rate scenario`)
  if (settings.scenarios.has('idle') && files !== undefined && files.soft < wanted) {
    throw new Error(`the open-file limit (${files.soft}) is too low for ${settings.connections} connections and could not be raised: run \`ulimit -n ${wanted}\` first or lower BENCH_CONNECTIONS`)
  }

  const all: TargetResults[] = []
  for (const name of settings.targets) {
    const started = Date.now()
    say(`${name}:`)
    if (name === 'pgbench') {
      const results: TargetResults = { target: name, broken: [], notes: [] }
      try {
        const result = await runPgbench(settings, server, results)
        if (result !== undefined) results.pgbench = result
      } catch (error) {
        results.broken.push(`pgbench: ${errorText(error)}`)
      }
      all.push(results)
    } else {
      all.push(await runTarget(name, settings, server, cleanup))
    }
    say(`  (${((Date.now() - started) / 1000).toFixed(0)} s)`)
    // Let PostgreSQL's checkpointer and the kernel catch up so one target's tail does not land on the next.
    await sleep(1000)
  }

  say('')
  printTable(all, settings)
  say('')
  printDetails(all)
  const notes = all.flatMap((r) => r.notes)
  const broken = all.flatMap((r) => r.broken)
  if (notes.length > 0) {
    say('')
    say('notes:')
    for (const note of notes) say(`  - ${note}`)
  }
  say('')
  say(`load average at the end: ${load()}`)
  if (broken.length > 0) {
    say('BROKEN RUN:')
    for (const reason of broken) say(`  - ${lastLines(reason, 20)}`)
    return 1
  }
  return 0
}

let finishing: Promise<never> | undefined
async function finish (code: number): Promise<never> {
  finishing ??= (async () => {
    const clean = await cleanup.run(30_000)
    process.exit(code === 0 && !clean ? 1 : code)
  })()
  return finishing
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, cleaning up\n`)
    void finish(130)
  })
}

const settingsForTimeout = ((): number => {
  try {
    return readSettings().timeoutSeconds
  } catch {
    return 1200
  }
})()
setTimeout(() => {
  process.stderr.write(`bench: BENCH_TIMEOUT (${settingsForTimeout} s) reached, cleaning up\n`)
  void finish(1)
}, settingsForTimeout * 1000).unref()

try {
  await finish(await main())
} catch (error) {
  if (finishing === undefined) process.stderr.write(`bench failed: ${errorText(error)}\n`)
  await finish(1)
}
