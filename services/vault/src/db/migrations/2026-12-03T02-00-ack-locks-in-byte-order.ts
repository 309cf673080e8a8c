/**
 * vault_ack locks its message rows in byte order (COLLATE "C"), as every other function
 * that locks message rows does (vault_remove_member, vault_group_commit: `ORDER BY m.id`
 * on a "C" column). It sorted its batch by the ids as text of the database's default
 * collation: under a locale such as en_US (the default of the postgres images the dev
 * overlay runs; the tests' own clusters use C) base64url ids sort differently (case
 * folded, `-` and `_` ignored), so an ack batch of two messages of a room and a removal
 * of a member of that room could take the same two row locks in opposite orders and
 * deadlock. Room hashes are lower-case hex, which sorts alike under both.
 */
import { sql, type Kysely } from 'kysely'
import { ACK_FUNCTION } from './2026-11-28T00-00-one-round-trip.js'

const ORDER = 'ORDER BY u.room, u.id, u.n'
const BYTE_ORDER = 'ORDER BY u.room COLLATE "C", u.id COLLATE "C", u.n'

function replacing (text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error('vault_ack is not as this migration expects')
  return text.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION').replace(from, to)
}

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(replacing(ACK_FUNCTION, ORDER, BYTE_ORDER)).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw(replacing(ACK_FUNCTION, ORDER, ORDER)).execute(db)
}
