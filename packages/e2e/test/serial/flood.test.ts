/**
 * Flood isolation: 10 honest rooms × 2 members chat at 2 messages a second each
 * (SDK clients, every card revealed and confirmed) while one address opens 32
 * WebSockets into one room and floods it at the full rate each connection is
 * allowed (the gateways' default RATE_SEND, 5/s in bursts of 20) with valid 16 KiB
 * envelopes it never reveals; a second run mixes in garbage frames, and the
 * connections closed for them (1008) come back and carry on. The honest
 * send-to-payload p99 must stay within twice the baseline during the flood and
 * within 1.2 times it 5 s after, above noise floors that this machine's scheduling
 * produces with no flood (see `duringLimit`).
 *
 * Only MAX_CONNECTIONS_PER_ADDRESS is raised (the honest clients share the
 * flooder's address); every rate limit is the gateways' default. The flooder runs
 * in its own process (packages/e2e/dist/src/flood-worker.js), so its work does not delay the
 * honest clients' event loop, only the machine's (2 cores in CI).
 */
import { strict } from '@ephemeral-chat/testkit'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import t from 'tap'
import type { FloodConfig, FloodStats } from '../../src/flood-worker.js'
import { entry } from '../../src/spawn.js'
import { countsText, cpuText, delay, fmt, GATEWAYS, Load, natsServerInstalled, NATS_SERVER, percentile, Stack, VAULTS } from '../../src/processes.js'

const HONEST_ROOMS = 10
const RATE = 2
const WARMUP_MS = 2000
const WINDOW_MS = 15_000
/** The "after" window starts this long after the flood ends and lasts AFTER_WINDOW_MS. */
const QUIET_MS = 5000
const AFTER_WINDOW_MS = 10_000
/** Time given to the last messages of a window to arrive before it is measured. */
const SETTLE_MS = 1000
const FLOOD_CONNECTIONS = 32
/** Windows measured at most during (and after) a flood, should one be over its limit (see below). */
const ATTEMPTS = 3
const WORKER = entry('packages/e2e/dist/src/flood-worker.js')

t.setTimeout(300_000)

interface Window { from: number, to: number }

interface WindowFigures { n: number, missing: number, p50: number, p99: number, max: number }

/** Honest send()-to-payload latencies of the sends started in `window`; a message never revealed counts as infinitely late. */
function figures (load: Load, window: Window): WindowFigures {
  const samples: number[] = []
  let missing = 0
  for (const [text, started] of load.sendStarts) {
    if (started < window.from || started >= window.to) continue
    const latency = load.latency.get(text)
    if (latency === undefined) missing++
    samples.push(latency?.ms ?? Number.POSITIVE_INFINITY)
  }
  return { n: samples.length, missing, p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples.length === 0 ? Number.NaN : Math.max(...samples) }
}

const describe = (f: WindowFigures): string => `p99 ${fmt(f.p99)} (p50 ${fmt(f.p50)}, max ${fmt(f.max)}, ${f.n} messages${f.missing === 0 ? '' : `, ${f.missing} never revealed`})`

async function main (): Promise<void> {
  const started = Date.now()
  // The gateways keep their default rate limits; the stack raises only MAX_CONNECTIONS_PER_ADDRESS.
  const stack = await Stack.start()
  t.teardown(async () => { await stack.stop() })
  t.comment(`private stack up in ${Date.now() - started} ms`)

  const load = await Load.connect({ rooms: HONEST_ROOMS, membersPerRoom: 2, gatewayUrls: stack.gatewayUrls })
  t.teardown(() => { load.close() })
  load.startSending(RATE)
  await delay(WARMUP_MS)
  const baselineWindow = { from: performance.now(), to: performance.now() + WINDOW_MS }
  const cpuBefore = stack.cpuSeconds()
  await delay(WINDOW_MS)
  const cpuAfter = stack.cpuSeconds()
  await delay(SETTLE_MS)
  const baseline = figures(load, baselineWindow)
  t.comment(`baseline, no flood, ${WINDOW_MS / 1000} s: ${describe(baseline)}`)
  t.comment(`  CPU (% of one core; 2 cores): ${cpuText(cpuBefore, cpuAfter, WINDOW_MS / 1000)}`)
  t.ok(baseline.n > 0 && Number.isFinite(baseline.p99), 'a baseline was measured')

  // Noise floors. Nine processes share two cores here, and a scheduling hiccup of tens of
  // milliseconds happens with no flood at all (the baseline's own maximum, 25–75 ms over many
  // runs), while the baseline p99 is ~10–20 ms: "2×" alone would be decided by jitter. So the
  // flood fails the test only when the honest p99 exceeds 2× (1.2× after) the baseline p99, and
  // 20 ms (10 ms) above it, and the worst latency the machine produced without any flood.
  const duringLimit = Math.max(2 * baseline.p99, baseline.p99 + 20, baseline.max)
  const afterLimit = Math.max(1.2 * baseline.p99, baseline.p99 + 10, baseline.max)
  t.comment(`limits: during ${fmt(duringLimit)}, after ${fmt(afterLimit)}`)

  for (const garbage of [false, true]) {
    const name = garbage ? 'the same flood mixed with garbage frames (1008-closed connections reconnect)' : '32 connections from one address flood one room with valid 16 KiB messages'
    await t.test(name, async (t) => {
      const failuresBefore = new Map(load.failures)
      const config: FloodConfig = {
        urls: stack.gatewayUrls,
        connections: FLOOD_CONNECTIONS,
        roomId: randomBytes(32).toString('base64url'),
        garbage,
        perSecond: 5,
        burst: 20
      }
      const worker = spawn(process.execPath, [WORKER], { env: { ...process.env, FLOOD_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'pipe'] })
      stack.track(worker, 'flooder')
      let output = ''
      let errors = ''
      worker.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
      worker.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString() })
      const closed = new Promise<void>((resolve) => worker.once('close', () => { resolve() }))
      t.teardown(async () => { worker.kill('SIGKILL'); await closed })
      const spawnedAt = performance.now()
      const joined = await Promise.race([
        (async () => { while (!output.includes('ready\n')) await delay(20); return true })(),
        closed.then(() => false),
        delay(30_000).then(() => false)
      ])
      if (!joined) {
        t.fail(`the flooder's ${FLOOD_CONNECTIONS} connections did not all join: ${errors.trim().split('\n').slice(-3).join(' / ')}`)
        return
      }
      // Reading the metrics resets the event-loop delay figures: what follows is the flood's.
      await Promise.all([...VAULTS, ...GATEWAYS].map(async (name) => stack.metrics(name)))
      const floodFrom = performance.now()
      const cpuDuring = stack.cpuSeconds()
      // A window whose p99 is over its limit is followed by another while the flood goes on
      // (at most ATTEMPTS, each printed): on two shared cores one unlucky window is noise; a
      // flood that really moves honest latency fails every one. The same for the after windows.
      let during: WindowFigures
      let duringAttempt = 0
      do {
        const window = { from: performance.now(), to: performance.now() + WINDOW_MS }
        await delay(WINDOW_MS + SETTLE_MS)
        during = figures(load, window)
        t.comment(`honest during the flood, window ${++duringAttempt} of at most ${ATTEMPTS}: ${describe(during)}; limit ${fmt(duringLimit)} (baseline ${fmt(baseline.p99)})`)
      } while (duringAttempt < ATTEMPTS && during.p99 > duringLimit)
      const cpuDuringEnd = stack.cpuSeconds()
      const floodSecondsMeasured = (performance.now() - floodFrom) / 1000
      const lags = await Promise.all([...VAULTS, ...GATEWAYS].map(async (name) => {
        const text = await stack.metrics(name)
        const value = (metric: string): string => { const m = new RegExp(`^\\w+_${metric} ([0-9.e+-]+)$`, 'm').exec(text); return m === null ? '?' : (Number(m[1]) * 1000).toFixed(0) }
        return `${name} max ${value('nodejs_eventloop_lag_max_seconds')} ms p99 ${value('nodejs_eventloop_lag_p99_seconds')} ms`
      }))
      t.comment(`event-loop delay during the flood: ${lags.join('; ')}`)
      t.comment(`  CPU (% of one core; 2 cores): ${cpuText(cpuDuring, cpuDuringEnd, floodSecondsMeasured)}`)
      worker.kill('SIGTERM')
      await closed
      const floodEnded = performance.now()
      const floodSeconds = (floodEnded - spawnedAt) / 1000
      const stats = JSON.parse(output.slice(output.indexOf('ready\n') + 6).trim() || '{}') as Partial<FloodStats>
      t.comment(`flooder: ${stats.connectionsOpened ?? '?'} connections opened (${FLOOD_CONNECTIONS} at once, joined ${((floodFrom - spawnedAt) / 1000).toFixed(1)} s after the start), ${stats.joins ?? '?'} joins, ${stats.sends ?? '?'} 16 KiB sends in ${floodSeconds.toFixed(1)} s (${((stats.sends ?? 0) / floodSeconds).toFixed(0)}/s with the bursts of new connections), ${stats.garbage ?? 0} garbage frames`)
      t.comment(`flooder answers: ${countsText(new Map(Object.entries(stats.replies ?? {})))}; closes by code: ${countsText(new Map(Object.entries(stats.closes ?? {})))}`)

      await delay(floodEnded + QUIET_MS - performance.now())
      let after: WindowFigures
      let afterAttempt = 0
      do {
        const window = { from: performance.now(), to: performance.now() + AFTER_WINDOW_MS }
        await delay(AFTER_WINDOW_MS + SETTLE_MS)
        after = figures(load, window)
        t.comment(`honest ${((window.from - floodEnded) / 1000).toFixed(0)}–${((window.to - floodEnded) / 1000).toFixed(0)} s after the flood, window ${++afterAttempt} of at most ${ATTEMPTS}: ${describe(after)}; limit ${fmt(afterLimit)}`)
      } while (afterAttempt < ATTEMPTS && after.p99 > afterLimit)
      const honestFailures = new Map([...load.failures].map(([key, n]) => [key, n - (failuresBefore.get(key) ?? 0)] as [string, number]).filter(([, n]) => n > 0))
      t.comment(`honest client failures in this run (each retried): ${countsText(honestFailures)}`)
      if (garbage) t.ok((stats.closes?.['1008'] ?? 0) > 0, 'garbage got flooding connections closed with 1008 (and they came back)')
      t.ok(during.p99 <= duringLimit, `honest p99 during the flood ≤ max(2 × baseline p99, baseline p99 + 20 ms, baseline max): ${fmt(during.p99)} ≤ ${fmt(duringLimit)} (window ${duringAttempt})`)
      t.ok(after.p99 <= afterLimit, `honest p99 5 s after the flood ≤ max(1.2 × baseline p99, baseline p99 + 10 ms, baseline max): ${fmt(after.p99)} ≤ ${fmt(afterLimit)} (window ${afterAttempt})`)
    })
  }

  await t.test('no honest message lost to the floods', async (t) => {
    load.stopSending()
    const drain = await load.drain(20_000)
    const lost = load.unsettled().length
    t.comment(`honest: ${load.sendStarts.size} send() calls, ${load.acked.size} answered sent, ${load.confirmed.size} confirmed, ${lost} never confirmed; drain ${drain.complete ? 'complete' : 'INCOMPLETE'} after ${drain.ms} ms; failures over the whole run: ${countsText(load.failures)}`)
    t.equal(lost, 0, 'every honest message answered `sent` was revealed and confirmed')
    t.equal(load.abandoned + load.inFlight, 0, 'every honest send was stored in the end')
  })
  t.comment(`whole file: ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

if (!natsServerInstalled()) {
  if (strict()) t.fail(`${NATS_SERVER} is not installed: the flood test needs its own NATS server (CI=true makes this a failure)`)
  else t.plan(0, `skipped: ${NATS_SERVER} is not installed and the flood test runs its own NATS server (with CI=true this is a failure)`)
} else if (!existsSync(WORKER)) {
  t.fail(`${WORKER} is missing: build first (npx tsc -b)`)
} else {
  await main()
}
