/**
 * The vault's tables. Only what the message lifecycle needs is kept: room hashes
 * (never room ids), random member ids, sealed envelopes with their key id and
 * padding bucket, expiry, and the liveness of gateways. No addresses, no
 * plaintext lengths, no creation times.
 */
import type { ColumnType, Insertable, Selectable } from 'kysely'

export interface RoomsTable {
  room_hash: string
}

export interface MembersTable {
  room_hash: string
  member_id: string
  /** When the member last joined or disconnected; members gone longer than the message TTL are forgotten. */
  last_seen_at: ColumnType<Date, Date | string, Date | string>
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

export interface Database {
  rooms: RoomsTable
  members: MembersTable
  presence: PresenceTable
  gateways: GatewaysTable
  messages: MessagesTable
  message_tombstones: MessageTombstonesTable
}

export type MessageRow = Selectable<MessagesTable>
export type NewMessage = Insertable<MessagesTable>
export type MemberRow = Selectable<MembersTable>
