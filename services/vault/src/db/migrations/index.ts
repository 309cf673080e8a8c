/**
 * Every migration, by name. A static list rather than a folder scan so the set
 * is fixed at build time and works the same from source and from dist.
 */
import type { Migration } from 'kysely'
import * as initial from './2026-11-25T00-00-initial.js'
import * as oneRoundTrip from './2026-11-28T00-00-one-round-trip.js'
import * as presenceByConnection from './2026-11-28T01-00-presence-by-connection.js'
import * as syncLocksRoomsFirst from './2026-11-28T02-00-sync-locks-rooms-first.js'
import * as mlsGroups from './2026-12-03T01-00-mls-groups.js'
import * as ackLocksInByteOrder from './2026-12-03T02-00-ack-locks-in-byte-order.js'
import * as epochBoundMessages from './2026-12-03T03-00-epoch-bound-messages.js'
import * as joinByProtocol from './2026-12-03T04-00-join-by-protocol.js'

export const migrations: Record<string, Migration> = {
  '2026-11-25T00-00-initial': initial,
  '2026-11-28T00-00-one-round-trip': oneRoundTrip,
  '2026-11-28T01-00-presence-by-connection': presenceByConnection,
  '2026-11-28T02-00-sync-locks-rooms-first': syncLocksRoomsFirst,
  '2026-12-03T01-00-mls-groups': mlsGroups,
  '2026-12-03T02-00-ack-locks-in-byte-order': ackLocksInByteOrder,
  '2026-12-03T03-00-epoch-bound-messages': epochBoundMessages,
  '2026-12-03T04-00-join-by-protocol': joinByProtocol
}
