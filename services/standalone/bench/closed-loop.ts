/**
 * Closed-loop scenarios: every member keeps a window of lifecycles in flight and
 * starts the next one when one settles, so the product runs at its capacity.
 * - one-to-one: rooms of 2, both members sending, for a warm-up and a measured
 *   window; lifecycles/s and the stack's CPU per lifecycle over that window.
 * - ten-by-ten: 10 rooms of 10, every member sends a fixed number of messages,
 *   every recipient reveals and confirms every card; payloads delivered/s.
 */
import { performance } from 'node:perf_hooks'
import type { BenchClient } from './client.js'
import { benchProcess, cpuUsed, sampleCpu } from './proc.js'
import { errorsOf, type OneToOneResult, type TargetResults, type TenByTenResult } from './results.js'
import { joinRooms, type JoinedRooms } from './rooms.js'
import type { Settings } from './settings.js'
import type { Target } from './targets.js'
import { Traffic } from './traffic.js'
import { percentile, sleep, sortedCopy, sumValues, waitUntil } from './util.js'

export interface ScenarioContext {
  target: Target
  settings: Settings
  results: TargetResults
}

const JOIN_TIMEOUT_MS = 30_000
const JOINS_IN_FLIGHT = 100

/** Joins every member or throws: a scenario with missing members would measure something else. */
export async function joinAll (context: ScenarioContext, traffic: Traffic, rooms: number, membersPerRoom: number): Promise<JoinedRooms> {
  const joined = await joinRooms(context.target, traffic, { rooms, membersPerRoom, joinsInFlight: JOINS_IN_FLIGHT, joinTimeoutMs: JOIN_TIMEOUT_MS })
  if (joined.failures.size > 0) {
    joined.close()
    throw new Error(`joining ${rooms * membersPerRoom} members failed: ${[...joined.failures].map(([why, n]) => `${n}× ${why}`).join('; ')}`)
  }
  return joined
}

export async function messageRows (target: Target): Promise<number | undefined> {
  return target.database?.count('messages')
}

/**
 * After a drain: lifecycles still open are lost (no answer, or a card that never
 * came); rows left although no request failed mean the product forgot to delete.
 */
export function checkDrained (context: ScenarioContext, scenario: string, traffic: Traffic, clients: readonly BenchClient[], rowsLeft: number | undefined): void {
  const lost = traffic.open.size
  if (lost > 0) {
    const unanswered = [...traffic.open.values()].filter((l) => l.answer === 'pending').length
    context.results.broken.push(`${scenario}: ${lost} lifecycles never finished within the drain (${unanswered} sends never answered, ${lost - unanswered} stored but not confirmed by every recipient)`)
  }
  const outstanding = clients.reduce((n, client) => n + client.outstanding, 0)
  if (outstanding > 0 && lost === 0) context.results.broken.push(`${scenario}: ${outstanding} requests never answered`)
  if (rowsLeft !== undefined && rowsLeft > 0 && sumValues(traffic.errors) === 0 && lost === 0) {
    context.results.broken.push(`${scenario}: ${rowsLeft} message rows left although every lifecycle completed`)
  }
}

/** Keeps `window` lifecycles in flight per member, up to `quota` each, while `sending()` holds. */
function closedLoop (traffic: Traffic, clients: readonly BenchClient[], window: number, quota: number, sending: () => boolean): void {
  const inFlight = new Map<BenchClient, number>()
  const started = new Map<BenchClient, number>()
  const pump = (client: BenchClient): void => {
    while (sending() && (inFlight.get(client) ?? 0) < window && (started.get(client) ?? 0) < quota) {
      inFlight.set(client, (inFlight.get(client) ?? 0) + 1)
      started.set(client, (started.get(client) ?? 0) + 1)
      traffic.begin(client)
    }
  }
  traffic.onSettled = (lifecycle) => {
    inFlight.set(lifecycle.sender, (inFlight.get(lifecycle.sender) ?? 1) - 1)
    pump(lifecycle.sender)
  }
  for (const client of clients) pump(client)
}

export async function oneToOne (context: ScenarioContext): Promise<OneToOneResult> {
  const { settings, target } = context
  const traffic = new Traffic(settings.attempts, { retrySends: true })
  const joined = await joinAll(context, traffic, settings.rooms, 2)
  try {
    const rowsBefore = await messageRows(target)
    let sending = true
    closedLoop(traffic, joined.clients, settings.window, Number.POSITIVE_INFINITY, () => sending)
    await sleep(settings.warmupSeconds * 1000)

    const sources = [...target.cpu, benchProcess]
    const cpuBefore = sampleCpu(sources)
    const completedBefore = traffic.completedAt.length
    const t0 = performance.now()
    await sleep(settings.seconds * 1000)
    const cpuAfter = sampleCpu(sources)
    const completed = traffic.completedAt.length - completedBefore
    const t1 = performance.now()
    sending = false

    await waitUntil(() => traffic.finished(joined.clients), settings.drainSeconds * 1000)
    const rowsAfter = await messageRows(target)
    const rowsLeft = rowsAfter === undefined || rowsBefore === undefined ? undefined : rowsAfter - rowsBefore
    checkDrained(context, 'one-to-one', traffic, joined.clients, rowsLeft)

    const cpu = cpuUsed(cpuBefore, cpuAfter)
    let stack = 0
    for (const [part, seconds] of cpu) if (part !== 'bench') stack += seconds
    const inWindow = sortedCopy(traffic.payloadMs.filter((_ms, i) => {
      const at = traffic.payloadAt[i] ?? 0
      return at >= t0 && at <= t1
    }))
    return {
      lifecyclesPerSecond: completed / ((t1 - t0) / 1000),
      completed,
      windowSeconds: (t1 - t0) / 1000,
      cpu,
      stackCpuUs: completed === 0 ? Number.NaN : (stack / completed) * 1e6,
      payloadP50Ms: percentile(inWindow, 0.5),
      payloadP99Ms: percentile(inWindow, 0.99),
      errors: errorsOf(traffic.errors),
      rowsLeft
    }
  } finally {
    joined.close()
  }
}

export async function tenByTen (context: ScenarioContext): Promise<TenByTenResult> {
  const { settings, target } = context
  const rooms = 10
  const members = 10
  const traffic = new Traffic(settings.attempts, { retrySends: true })
  const joined = await joinAll(context, traffic, rooms, members)
  try {
    const rowsBefore = await messageRows(target)
    const messages = rooms * members * settings.tenMessages
    let sending = true
    const start = performance.now()
    closedLoop(traffic, joined.clients, settings.window, settings.tenMessages, () => sending)
    const finishedInTime = await waitUntil(() => traffic.started === messages && traffic.finished(joined.clients), settings.tenDeadlineSeconds * 1000)
    sending = false
    if (!finishedInTime) {
      context.results.notes.push(`${target.name} ten-by-ten: not finished within BENCH_TEN_DEADLINE=${settings.tenDeadlineSeconds} s; the rate is over what was delivered until then (${traffic.started} of ${messages} messages started)`)
      await waitUntil(() => traffic.finished(joined.clients), settings.drainSeconds * 1000)
    }
    const wallSeconds = (performance.now() - start) / 1000
    const lastPayload = traffic.payloadAt.reduce((last, at) => Math.max(last, at), start)
    const rowsAfter = await messageRows(target)
    const rowsLeft = rowsAfter === undefined || rowsBefore === undefined ? undefined : rowsAfter - rowsBefore
    checkDrained(context, 'ten-by-ten', traffic, joined.clients, rowsLeft)
    const seconds = (lastPayload - start) / 1000
    return {
      expectedPayloads: messages * (members - 1),
      payloads: traffic.payloads,
      confirmations: traffic.confirmations,
      messagesCompleted: traffic.completedAt.length,
      messages,
      seconds,
      wallSeconds,
      payloadsPerSecond: traffic.payloads === 0 ? 0 : traffic.payloads / seconds,
      finishedInTime,
      errors: errorsOf(traffic.errors),
      rowsLeft
    }
  } finally {
    joined.close()
  }
}
