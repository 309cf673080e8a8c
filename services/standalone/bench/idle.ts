/**
 * idle: many connections join rooms of a few members and then stay idle. How fast
 * they all get in, and how much resident memory each costs the process(es) that
 * hold them: (RSS after − RSS before) / connections, each read after a settle, as
 * the process holds it (the figure of the issue; it swung by half between runs with
 * whatever garbage the joins left) and again after full garbage collections (stable).
 * Run on a freshly started target, so memory the earlier scenarios left in the
 * heap neither inflates the baseline nor gets reused by the new connections.
 */
import type { ScenarioContext } from './closed-loop.js'
import type { ClientEvents } from './client.js'
import { benchProcess, cpuUsed, rssKiB, sampleCpu } from './proc.js'
import type { IdleResult } from './results.js'
import { joinRooms } from './rooms.js'
import type { Child } from './children.js'
import { collectGarbage } from './gc.js'
import { percentile, sleep, sortedCopy } from './util.js'

const JOIN_TIMEOUT_MS = 30_000
/** However slow the product, the join phase ends: the connections not in by then count as failures. */
const PHASE_DEADLINE_MS = 120_000

const ignore: ClientEvents = {
  sent () {},
  card () {},
  payload () {},
  confirmed () {},
  refused () {},
  other () {}
}

function totalRss (children: readonly Child[]): number {
  return children.reduce((sum, child) => sum + (rssKiB(child.pid) ?? 0), 0)
}

export async function idle (context: ScenarioContext): Promise<IdleResult> {
  const { settings, target } = context
  const holders = target.connectionHolders
  const others = target.children.filter((child) => !holders.includes(child))
  const settleMs = settings.settleSeconds * 1000
  /** RSS of the holders and of the others, as they are and then after garbage collection. */
  const measure = async (): Promise<{ asRead: number, collected: number, others: number }> => {
    await sleep(settleMs)
    const asRead = totalRss(holders)
    const done = await Promise.all(target.children.map(async (child) => collectGarbage(child)))
    if (done.includes(false)) context.results.notes.push(`${target.name} idle: could not force a garbage collection in every process`)
    await sleep(settleMs)
    return { asRead, collected: totalRss(holders), others: totalRss(others) }
  }
  const before = await measure()

  const rooms = Math.ceil(settings.connections / settings.idleMembers)
  const sources = [...target.cpu, benchProcess]
  const cpuBefore = sampleCpu(sources)
  const joined = await joinRooms(target, ignore, {
    rooms, membersPerRoom: settings.idleMembers, joinsInFlight: settings.joinsInFlight,
    joinTimeoutMs: JOIN_TIMEOUT_MS, phaseDeadlineMs: PHASE_DEADLINE_MS, quiet: true
  })
  // Who was busy while joining: on a small machine the bench's own share caps what any target can show.
  const cpu = cpuUsed(cpuBefore, sampleCpu(sources))
  try {
    const after = await measure()
    const connections = joined.clients.length
    const openNow = joined.clients.filter((client) => client.open).length
    if (openNow < connections) context.results.notes.push(`${target.name} idle: ${connections - openNow} of ${connections} joined connections were closed by the server during the settle`)
    const joinMs = sortedCopy(joined.joinMs)
    return {
      connections,
      wanted: rooms * settings.idleMembers,
      failures: joined.failures,
      seconds: joined.seconds,
      joinsPerSecond: connections / joined.seconds,
      joinP50Ms: percentile(joinMs, 0.5),
      joinP99Ms: percentile(joinMs, 0.99),
      perConnectionKiB: (after.asRead - before.asRead) / connections,
      perConnectionAfterGcKiB: (after.collected - before.collected) / connections,
      beforeKiB: before.asRead,
      afterKiB: after.asRead,
      othersPerConnectionKiB: others.length === 0 ? undefined : (after.others - before.others) / connections,
      cpu
    }
  } finally {
    joined.close()
  }
}
