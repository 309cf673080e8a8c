/**
 * The vault's tables. Only what the message lifecycle needs is kept: room hashes
 * (never room ids), random member ids, sealed envelopes with their key id and
 * padding bucket, expiry, and the liveness of gateways. No addresses, no
 * plaintext lengths, no creation times.
 */
import type { ColumnType, Insertable, Selectable } from 'kysely'

export interface RoomsTable {
  room_hash: string
  /** 1, or 2 once a member created the room's MLS group (docs/architecture.md §11). */
  protocol: ColumnType<number, number | undefined, number>
  /** v2: the group's id (base64url), its current epoch (bigint, as text) and its latest GroupInfo (sealed by a member, then at rest). */
  group_id: string | null
  epoch: ColumnType<string | null, number | string | null | undefined, number | string | null>
  group_info: Buffer | null
  group_info_key_id: string | null
}

export interface MembersTable {
  room_hash: string
  member_id: string
  /** When the member last joined or disconnected; members gone longer than the message TTL are forgotten. */
  last_seen_at: ColumnType<Date, Date | string, Date | string>
  /** v2: the epoch from which it is in the room's group (NULL: not in it); bigint, as text. */
  joined_epoch: ColumnType<string | null, number | string | null | undefined, number | string | null>
  /** v2: the epoch up to which it has every handshake (older ones can go); bigint, as text. */
  synced_epoch: ColumnType<string | null, number | string | null | undefined, number | string | null>
}

/**
 * One live WebSocket connection of a member, held by a gateway (its own number for it).
 * Presence counts the members with a row here; each gateway's rows are reconciled
 * with what it really holds by its heartbeat.
 */
export interface PresenceTable {
  room_hash: string
  member_id: string
  gateway_id: string
  /** bigint: read back as text. */
  connection_id: ColumnType<string, number | string, number | string>
}

export interface GatewaysTable {
  gateway_id: string
  last_heartbeat_at: ColumnType<Date, Date | string, Date | string>
  /** How often it beats: three missed beats mark it dead. */
  heartbeat_ms: ColumnType<number, number | undefined, number>
}

export interface MessagesTable {
  id: string
  room_hash: string
  sender_id: string
  /** The client envelope (IV ‖ ciphertext) sealed again under the at-rest key: IV ‖ ciphertext ‖ tag. */
  sealed: Buffer
  /** Which at-rest key sealed it: first 8 hex digits of SHA-256 of the key. */
  key_id: string
  bucket: number
  expires_at: ColumnType<Date, Date | string, Date | string>
  /** True while nobody else was in the room to receive it: the next member to join becomes its recipient. */
  waiting: boolean
  /** Member ids it was addressed to (members who left the room for good are removed). */
  recipients: string[]
  /** Recipients that have not confirmed viewing it; the row is deleted with the last one. */
  unviewed: string[]
  /** v2: the epoch it was sent in (an MLS application message); NULL for a v1 envelope. bigint, as text. */
  epoch: ColumnType<string | null, number | string | null | undefined, number | string | null>
}

/** Ids of deleted messages, until they would have expired: a late resend is never stored twice. */
export interface MessageTombstonesTable {
  room_hash: string
  id: string
  /** So that the sender, coming back, can be told how its message ended. */
  sender_id: string
  reason: 'viewed' | 'left'
  expires_at: ColumnType<Date, Date | string, Date | string>
}

/** v2: the commit accepted in each epoch of a room's group, sealed at rest, until every member has it (or the TTL). */
export interface HandshakesTable {
  room_hash: string
  /** The epoch the commit was made in (the room moved to epoch + 1); bigint, as text. */
  epoch: ColumnType<string, number | string, number | string>
  sender_id: string
  sealed: Buffer
  key_id: string
  expires_at: ColumnType<Date, Date | string, Date | string>
}

export interface Database {
  rooms: RoomsTable
  members: MembersTable
  presence: PresenceTable
  gateways: GatewaysTable
  messages: MessagesTable
  message_tombstones: MessageTombstonesTable
  handshakes: HandshakesTable
}

export type MessageRow = Selectable<MessagesTable>
export type NewMessage = Insertable<MessagesTable>
export type MemberRow = Selectable<MembersTable>
