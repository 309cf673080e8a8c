/** Rooms of bench clients: random room ids and member secrets, joined with a bounded number of joins in flight. */
import { MEMBER_SECRET_BYTES, ROOM_ID_BYTES } from '@ephemeral-chat/protocol'
import { performance } from 'node:perf_hooks'
import { BenchClient, type ClientEvents } from './client.js'
import type { Target } from './targets.js'
import { b64, errorText, increment, mapLimit } from './util.js'

export interface JoinOptions {
  rooms: number
  membersPerRoom: number
  joinsInFlight: number
  joinTimeoutMs: number
  /** Joins not started by this many ms after the first fail without being tried. */
  phaseDeadlineMs?: number
  /** Idle clients stop parsing frames once joined. */
  quiet?: boolean
}

export interface JoinedRooms {
  /** Members by room; a member whose join failed is left out. */
  rooms: BenchClient[][]
  clients: BenchClient[]
  failures: Map<string, number>
  /** Open → joined, ms, per successful join. */
  joinMs: number[]
  seconds: number
  close (): void
}

export async function joinRooms (target: Target, events: ClientEvents, options: JoinOptions): Promise<JoinedRooms> {
  const started = performance.now()
  const roomIds = Array.from({ length: options.rooms }, () => b64(ROOM_ID_BYTES))
  const total = options.rooms * options.membersPerRoom
  const all: BenchClient[] = []
  const joinMs: number[] = []
  const failures = new Map<string, number>()
  const stopAt = started + (options.phaseDeadlineMs ?? Number.POSITIVE_INFINITY)
  const outcomes = await mapLimit(total, options.joinsInFlight, async (index) => {
    if (performance.now() > stopAt) throw new Error('not tried: the join phase ran out of time')
    const client = new BenchClient(target.wsUrls[index % target.wsUrls.length] ?? '', events)
    all.push(client)
    const t0 = performance.now()
    const joined = await client.join(roomIds[Math.floor(index / options.membersPerRoom)] ?? '', b64(MEMBER_SECRET_BYTES), options.joinTimeoutMs)
    joinMs.push(performance.now() - t0)
    if (options.quiet === true) client.quiet()
    // Cards waiting for this member are part of its work like any other.
    else for (const card of joined.pending) events.card(client, card, performance.now())
    return client
  })
  const seconds = (performance.now() - started) / 1000
  const rooms: BenchClient[][] = Array.from({ length: options.rooms }, () => [])
  const clients: BenchClient[] = []
  outcomes.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') {
      rooms[Math.floor(index / options.membersPerRoom)]?.push(outcome.value)
      clients.push(outcome.value)
    } else {
      increment(failures, errorText(outcome.reason))
    }
  })
  return {
    rooms, clients, failures, joinMs, seconds,
    close: () => { for (const client of all) client.close() }
  }
}
