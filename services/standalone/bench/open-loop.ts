/**
 * Open-loop scenarios: sends go out on a fixed schedule whatever the product
 * answers, as independent people would type. Latencies start when a send went
 * out; how late the schedule ran (the bench itself falling behind) is reported
 * apart, as the scheduler lag.
 * - latency: a modest rate well under capacity; send → payload percentiles.
 * - overload: a multiple of the capacity one-to-one measured; goodput (lifecycles
 *   completed per second after the warm-up, whose send was answered in time), how
 *   fast refused sends are told so, and the rows nobody can ever delete.
 */
import { performance } from 'node:perf_hooks'
import type { BenchClient } from './client.js'
import { checkDrained, joinAll, messageRows, type ScenarioContext } from './closed-loop.js'
import { errorsOf, type LatencyResult, type OverloadResult } from './results.js'
import { benchProcess, cpuUsed, sampleCpu } from './proc.js'
import { Traffic } from './traffic.js'
import { percentile, sleep, sortedCopy, waitUntil } from './util.js'

interface Schedule {
  sends: number
  start: number
  end: number
  /** Worst delay between a send's due time and when it went out. */
  lagMs: number
}

/**
 * `perSecond` sends in total, round robin over `senders`: each member sends every
 * senders/perSecond seconds, the members' start offsets spread evenly.
 */
async function openLoop (senders: readonly BenchClient[], perSecond: number, seconds: number, fire: (sender: BenchClient, dueAt: number) => void): Promise<Schedule> {
  const interval = 1000 / perSecond
  const total = Math.max(1, Math.floor(seconds * perSecond))
  const start = performance.now() + 5
  let sent = 0
  let lagMs = 0
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      for (let due = start + sent * interval; sent < total && due <= now; due = start + sent * interval) {
        lagMs = Math.max(lagMs, now - due)
        fire(senders[sent % senders.length] as BenchClient, due)
        sent++
      }
      if (sent >= total) { resolve(); return }
      setTimeout(tick, Math.max(0, start + sent * interval - performance.now()))
    }
    setTimeout(tick, 5)
  })
  return { sends: sent, start, end: start + seconds * 1000, lagMs }
}

export async function latency (context: ScenarioContext): Promise<LatencyResult> {
  const { settings, target } = context
  const traffic = new Traffic(settings.attempts)
  const joined = await joinAll(context, traffic, settings.latencyRooms, 2)
  try {
    const rowsBefore = await messageRows(target)
    const perSecond = joined.clients.length * settings.latencyRate
    const deadlineMs = settings.deadlineSeconds * 1000
    const schedule = await openLoop(joined.clients, perSecond, settings.seconds, (sender) => { traffic.begin(sender, performance.now(), deadlineMs) })
    await waitUntil(() => traffic.finished(joined.clients), settings.drainSeconds * 1000)
    const rowsAfter = await messageRows(target)
    const rowsLeft = rowsAfter === undefined || rowsBefore === undefined ? undefined : rowsAfter - rowsBefore
    checkDrained(context, 'latency', traffic, joined.clients, rowsLeft)
    // The steady state, as for the other scenarios: sends after the warm-up (fresh connections,
    // rooms and code paths); the whole run's p99 is reported beside it.
    const from = schedule.start + Math.min(settings.warmupSeconds, settings.seconds / 2) * 1000
    const sorted = sortedCopy(traffic.payloadMs.filter((ms, i) => (traffic.payloadAt[i] as number) - ms >= from))
    return {
      offeredPerSecond: perSecond,
      sends: schedule.sends,
      completed: traffic.completedAt.length,
      measured: sorted.length,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted.at(-1) ?? Number.NaN,
      wholeRunP99Ms: percentile(sortedCopy(traffic.payloadMs), 0.99),
      schedulerLagMs: schedule.lagMs,
      errors: errorsOf(traffic.errors),
      rowsLeft
    }
  } finally {
    joined.close()
  }
}

/** Rows keep appearing while a backlog of stores the gateway gave up on still runs: read until the count holds still. */
async function settledRows (context: ScenarioContext, timeoutMs: number): Promise<number | undefined> {
  let last = await messageRows(context.target)
  const deadline = performance.now() + timeoutMs
  while (last !== undefined && performance.now() < deadline) {
    await sleep(1000)
    const now = await messageRows(context.target)
    if (now === last) return now
    last = now
  }
  return last
}

export async function overload (context: ScenarioContext, capacityPerSecond: number): Promise<OverloadResult> {
  const { settings, target } = context
  const traffic = new Traffic(settings.attempts)
  const joined = await joinAll(context, traffic, settings.overloadRooms, 2)
  try {
    const rowsBefore = await messageRows(target)
    const perSecond = Math.max(1, capacityPerSecond * settings.overloadFactor)
    const deadlineMs = settings.deadlineSeconds * 1000
    const sources = [...target.cpu, benchProcess]
    const cpuBefore = sampleCpu(sources)
    const schedule = await openLoop(joined.clients, perSecond, settings.seconds, (sender) => { traffic.begin(sender, performance.now(), deadlineMs) })
    const cpu = cpuUsed(cpuBefore, sampleCpu(sources))
    await waitUntil(() => traffic.finished(joined.clients), settings.drainSeconds * 1000)
    const rowsAfter = await settledRows(context, 15_000)
    const neverAnswered = [...traffic.open.values()].filter((l) => l.answer === 'pending').length
    const orphanRows = rowsAfter === undefined || rowsBefore === undefined ? undefined : rowsAfter - rowsBefore
    // Orphans are the figure under test here, not a fault of the run; only lost lifecycles break it.
    checkDrained(context, 'overload', traffic, joined.clients, undefined)
    // Goodput in the steady state: from the end of the warm-up (the pipeline filling up) to the end of the schedule.
    const from = schedule.start + Math.min(settings.warmupSeconds, settings.seconds / 2) * 1000
    let good = 0
    traffic.completedAt.forEach((at, i) => {
      if (at >= from && at <= schedule.end && traffic.completedInTime[i] === true) good++
    })
    const refusals = sortedCopy(traffic.refusalMs)
    return {
      capacityPerSecond,
      offeredPerSecond: perSecond,
      sends: schedule.sends,
      sentInTime: traffic.sentInTime,
      sentLate: traffic.sentLate,
      refusedInTime: traffic.refusedInTime,
      refusedLate: traffic.refusedLate,
      refusals: new Map(traffic.refusalCodes),
      refusalP99Ms: percentile(refusals, 0.99),
      refusalMaxMs: refusals.at(-1) ?? Number.NaN,
      neverAnswered,
      goodputPerSecond: good / ((schedule.end - from) / 1000),
      completedTotal: traffic.completedAt.length,
      schedulerLagMs: schedule.lagMs,
      cpu,
      errors: errorsOf(traffic.errors),
      orphanRows
    }
  } finally {
    joined.close()
  }
}
