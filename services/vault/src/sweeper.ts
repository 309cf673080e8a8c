/**
 * Runs the clean-up of queries/sweep.ts every interval and tells the gateways
 * what changed: `gone` for every deleted message, `presence` for every room that
 * lost members with a dead gateway.
 */
import type { Bus } from '@ephemeral-chat/bus'
import type { ServiceMetrics, Warner } from '@ephemeral-chat/service-kit'
import type { Kysely } from 'kysely'
import type { Database } from './db/schema.js'
import { publishRoomEvent } from './events.js'
import { deleteOldHandshakes } from './queries/groups.js'
import { deleteEmptyRooms, deleteExpiredMessages, deleteExpiredTombstones, dropDeadGateways, forgetAbsentMembers } from './queries/sweep.js'

export interface SweeperDeps {
  db: Kysely<Database>
  bus: Bus
  logger: Warner
  metrics: ServiceMetrics
  intervalMs: number
  messageTtlMs: number
}

export interface Sweeper {
  /** One complete pass; resolves when done. */
  sweep (): Promise<void>
  start (): void
  /** Stops the timer and waits for a pass in progress. */
  stop (): Promise<void>
}

export function createSweeper (deps: SweeperDeps): Sweeper {
  const expired = deps.metrics.counter('messages_expired_total', 'Messages deleted unviewed at their expiry')
  const failures = deps.metrics.counter('sweep_failures_total', 'Sweeps that failed')
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()

  async function pass (): Promise<void> {
    const started = process.hrtime.bigint()
    for (;;) {
      const batch = await deleteExpiredMessages(deps.db)
      for (const message of batch) publishRoomEvent(deps.bus, message.roomHash, { type: 'gone', id: message.id, reason: 'expired' })
      expired.inc(batch.length)
      if (batch.length === 0) break
    }
    while (await deleteExpiredTombstones(deps.db) > 0) { /* until none is left */ }
    await deleteOldHandshakes(deps.db)
    for (const [roomHash, presence] of await dropDeadGateways(deps.db)) {
      publishRoomEvent(deps.bus, roomHash, { type: 'presence', members: presence.members, version: presence.presenceVersion })
    }
    const forgotten = await forgetAbsentMembers(deps.db, deps.messageTtlMs)
    for (const message of forgotten.gone) publishRoomEvent(deps.bus, message.roomHash, { type: 'gone', id: message.id, reason: 'left' })
    // v2: the vault cannot remove anyone from an MLS group; the members still there commit it.
    for (const member of forgotten.absent) publishRoomEvent(deps.bus, member.roomHash, { type: 'absent', memberId: member.memberId })
    await deleteEmptyRooms(deps.db)
    deps.metrics.observe('sweep', 'ok', Number(process.hrtime.bigint() - started) / 1e9)
  }

  function sweep (): Promise<void> {
    // Passes never overlap within one vault; across replicas SKIP LOCKED keeps them apart.
    running = running.then(pass).catch((error: unknown) => {
      failures.inc()
      deps.logger.warn({ error: error instanceof Error ? error.name : 'unknown' }, 'sweep failed')
    })
    return running
  }

  return {
    sweep,
    start () {
      timer ??= setInterval(() => { void sweep() }, deps.intervalMs)
      timer.unref()
    },
    async stop () {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      await running
    }
  }
}
