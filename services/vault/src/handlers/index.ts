/**
 * The vault's NATS API: one handler per `vault.v1.*` subject, in queue group
 * `vault`. Each operation of the message path queues into its own batcher; a
 * batch is one statement, and the room events it causes are published once it
 * has committed (a card for every stored message, even one whose requester has
 * stopped waiting, so no stored message goes unannounced).
 */
import type { Subscription } from '@ephemeral-chat/bus'
import type { Kysely } from 'kysely'
import type { AtRestCipher } from '../at-rest.js'
import { Batcher, type BatcherOptions } from '../batch.js'
import { RoomShare, type RoomShareOptions } from '../room-share.js'
import type { Queryable } from '../db/statements.js'
import type { Database } from '../db/schema.js'
import { commitGroup, groupState, type Committed, type GroupState } from '../queries/groups.js'
import { publishRoomEvent } from '../events.js'
import { ackMessages, fetchMessages, sendItem, storeItem, storeMessages, type Acked, type FetchItem, type Fetched, type StoreItem, type Stored } from '../queries/messages.js'
import { failure, success, type Result } from '@ephemeral-chat/protocol'
import { heartbeat, joinRooms, leaveRooms, syncPresence, type Joined, type Left, type Presence } from '../queries/rooms.js'
import type { GroupCommitRequest, GroupStateRequest, MessageAckRequest, RoomJoinRequest, RoomLeaveRequest } from '@ephemeral-chat/protocol'
import { serve, type HandlerContext } from './serve.js'

/** What a join costs its room's share up front (ROOM_SHARE bytes), and then per card, receipt or deletion it returned. */
export const JOIN_COST_BYTES = 1024
export const JOIN_ITEM_COST_BYTES = 1024

export interface VaultHandlerDeps extends HandlerContext {
  pool: Queryable
  /** For the v2 group operations, which are not on the message path's hot loop. */
  db: Kysely<Database>
  cipher: AtRestCipher
  messageTtlMs: number
  batch: BatcherOptions
  roomShare: RoomShareOptions
}

/** What the app needs of a batcher: its queue length (metrics) and when it is idle (shutdown). */
export interface BatchQueue {
  readonly queued: number
  drained (): Promise<void>
}

export interface VaultHandlers {
  subscriptions: Subscription[]
  batchers: ReadonlyMap<string, BatchQueue>
}

/** A failed batch is split to isolate one bad request when PostgreSQL refused the statement, not when the connection failed. */
function splittable (error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' && !/^(08|53|57P)/.test(code)
}

export function registerVaultHandlers (deps: VaultHandlerDeps): VaultHandlers {
  const { bus, pool, cipher } = deps
  const batcher = <Item, Answer>(run: (items: Item[]) => Promise<Answer[]>, newWork = false): Batcher<Item, Answer> =>
    new Batcher(run, deps.batch, { newWork, splittable })

  const stores = batcher(async (items: StoreItem[]) => {
    const results = await storeMessages(pool, cipher, deps.messageTtlMs, items)
    results.forEach((result, index) => {
      const { request } = items[index] as StoreItem
      // Announced on every (re)send too: if an earlier attempt stored it but its card was lost, this one delivers it.
      if (result.ok && result.value.gone === undefined) {
        publishRoomEvent(bus, request.roomHash, {
          type: 'message', id: request.id, from: request.memberId, recipients: result.value.recipients, bucket: result.value.bucket, expiresAt: result.value.expiresAt,
          ...(items[index]?.group === undefined ? {} : { epoch: items[index].group.epoch })
        })
      }
    })
    return results
  }, true)

  const shares = new RoomShare(deps.roomShare)

  const fetches = batcher(async (items: FetchItem[]) => fetchMessages(pool, cipher, items))

  const acks = batcher(async (requests: MessageAckRequest[]) => {
    const results = await ackMessages(pool, requests)
    results.forEach((result, index) => {
      const request = requests[index] as MessageAckRequest
      if (!result.ok || !result.value.changed) return
      publishRoomEvent(bus, request.roomHash, { type: 'viewed', id: request.id, to: result.value.sender, remaining: result.value.remaining })
      if (result.value.gone) publishRoomEvent(bus, request.roomHash, { type: 'gone', id: request.id, reason: 'viewed' })
    })
    return results
  })

  const joins = batcher(async (requests: RoomJoinRequest[]) => {
    const results = await joinRooms(pool, requests)
    publishPresence(requests, results)
    return results
  }, true)

  const leaves = batcher(async (requests: RoomLeaveRequest[]) => {
    const results = await leaveRooms(pool, requests)
    results.forEach((result, index) => {
      const request = requests[index] as RoomLeaveRequest
      if (result.ok) for (const id of result.value.gone) publishRoomEvent(bus, request.roomHash, { type: 'gone', id, reason: 'left' })
    })
    publishPresence(requests, results)
    return results
  })

  // v2 group operations: rare (a join, a removal, a periodic update per member), so each runs
  // on its own, but through a batcher all the same for its admission and deadline.
  const commits = batcher(async (requests: GroupCommitRequest[]) => {
    const results: Array<Result<Committed>> = []
    for (const request of requests) {
      // Each commit is its own transaction: one that fails must not make the batcher run the
      // others again (they committed), so it fails alone.
      const result = await commitGroup(pool, cipher, deps.messageTtlMs, request).catch((error: unknown): Result<Committed> => {
        deps.logger.warn({ operation: 'group.commit', error: error instanceof Error ? error.name : 'unknown' }, 'vault operation failed')
        return failure('internal')
      })
      if (result.ok && request.handshake !== undefined) {
        publishRoomEvent(bus, request.roomHash, { type: 'handshake', epoch: request.epoch, from: request.memberId, handshake: request.handshake })
      }
      if (result.ok) for (const id of result.value.gone) publishRoomEvent(bus, request.roomHash, { type: 'gone', id, reason: 'left' })
      results.push(result)
    }
    return results
  })
  const states = batcher(async (requests: GroupStateRequest[]) => {
    const results: Array<Result<GroupState>> = []
    for (const request of requests) results.push(await groupState(deps.db, cipher, request))
    return results
  })

  /** One presence event per room of a batch, with its latest count. */
  function publishPresence (requests: ReadonlyArray<{ roomHash: string }>, results: ReadonlyArray<Result<Presence>>): void {
    const latest = new Map<string, Presence>()
    results.forEach((result, index) => {
      const roomHash = (requests[index] as { roomHash: string }).roomHash
      if (result.ok && result.value.presenceVersion > (latest.get(roomHash)?.presenceVersion ?? 0)) latest.set(roomHash, result.value)
    })
    for (const [roomHash, presence] of latest) publishRoomEvent(bus, roomHash, { type: 'presence', members: presence.members, version: presence.presenceVersion })
  }

  const subscriptions = [
    serve(deps, 'room.join',
      async (request, deadline): Promise<Result<Joined>> => {
        // A room that floods pays for its joins too: each returns up to hundreds of cards.
        if (!shares.take(request.roomHash, JOIN_COST_BYTES)) return failure('room-busy', shares.retryAfterMs(request.roomHash, JOIN_COST_BYTES))
        const joined = await joins.submit(request, deadline)
        if (joined.ok) shares.charge(request.roomHash, (joined.value.pending.length + joined.value.receipts.length + joined.value.gone.length) * JOIN_ITEM_COST_BYTES)
        return joined
      },
      (joined) => joined),

    serve(deps, 'room.leave',
      async (request, deadline): Promise<Result<Left>> => leaves.submit(request, deadline),
      (left) => ({ members: left.members })),

    serve(deps, 'message.store',
      async (request, deadline): Promise<Result<Stored>> => {
        const item = storeItem(request)
        if (item === undefined) return failure('too-large')
        // Over its room's share: refused here, before it costs the database anything.
        if (!shares.take(request.roomHash, item.envelope.length)) return failure('room-busy', shares.retryAfterMs(request.roomHash, item.envelope.length))
        return stores.submit(item, deadline)
      },
      (stored) => stored),

    serve(deps, 'message.fetch',
      async (request, deadline): Promise<Result<Fetched>> => {
        const fetched = await fetches.submit({ request, v2: false }, deadline)
        return !fetched.ok || 'iv' in fetched.value ? fetched as Result<Fetched> : failure('not-found')
      },
      (fetched) => fetched),

    serve(deps, 'group.send',
      async (request, deadline): Promise<Result<Stored>> => {
        const item = sendItem(request)
        if (typeof item === 'string') return failure(item)
        if (!shares.take(request.roomHash, item.envelope.length)) return failure('room-busy', shares.retryAfterMs(request.roomHash, item.envelope.length))
        return stores.submit(item, deadline)
      },
      (stored) => stored),

    serve(deps, 'group.read',
      async (request, deadline): Promise<Result<{ message: string }>> => {
        const read = await fetches.submit({ request, v2: true }, deadline)
        return !read.ok || 'message' in read.value ? read as Result<{ message: string }> : failure('not-found')
      },
      (read) => read),

    serve(deps, 'message.ack',
      async (request, deadline): Promise<Result<Acked>> => acks.submit(request, deadline),
      (acked) => ({ remaining: acked.remaining, gone: acked.gone })),

    serve(deps, 'group.commit',
      async (request, deadline): Promise<Result<Committed>> => {
        // Handshakes and GroupInfo are paid for from the room's share like envelopes: a member
        // spamming commits slows its own room only.
        // Up front at most one burst (a full-size commit must fit even the smallest ROOM_SHARE); the rest as debt.
        const bytes = (request.handshake?.length ?? 0) + request.groupInfo.length
        const upFront = Math.min(bytes, deps.roomShare.burstBytes)
        if (!shares.take(request.roomHash, upFront)) return failure('room-busy', shares.retryAfterMs(request.roomHash, upFront))
        shares.charge(request.roomHash, bytes - upFront)
        return commits.submit(request, deadline)
      },
      (committed) => ({ epoch: committed.epoch })),

    serve(deps, 'group.state',
      async (request, deadline): Promise<Result<GroupState>> => {
        if (!shares.take(request.roomHash, JOIN_COST_BYTES)) return failure('room-busy', shares.retryAfterMs(request.roomHash, JOIN_COST_BYTES))
        const state = await states.submit(request, deadline)
        if (state.ok) shares.charge(request.roomHash, state.value.handshakes.reduce((sum, h) => sum + h.handshake.length, state.value.group?.groupInfo?.length ?? 0))
        return state
      },
      (state) => state),

    serve(deps, 'gateway.heartbeat',
      async (request) => success({ resync: await heartbeat(pool, request) }),
      (beat) => beat),

    serve(deps, 'gateway.sync', async (request) => {
      for (const [roomHash, presence] of await syncPresence(pool, request)) {
        publishRoomEvent(bus, roomHash, { type: 'presence', members: presence.members, version: presence.presenceVersion })
      }
      return success({})
    }, () => ({}))
  ]
  const batchers = new Map<string, BatchQueue>([
    ['message.store', stores], ['message.fetch', fetches], ['message.ack', acks], ['room.join', joins], ['room.leave', leaves],
    ['group.commit', commits], ['group.state', states]
  ])
  return { subscriptions, batchers }
}
