/**
 * A room's protocol version is set by the join that creates it and holds for its life
 * (docs/architecture.md §11): a join of the other version is refused ('protocol-mismatch').
 * Before, a v2 member could join a v1 room, turn it into a v2 room by creating a group
 * while no message was stored (every v1 member's sends refused from then on), and take
 * v1 messages waiting for the next member that it could never read.
 *
 * vault_join also:
 * - returns the room's group epoch (NULL for none), so a member coming back knows whether
 *   it is behind before it reads anything;
 * - gives every pending card its epoch (NULL for v1), so a v2 member knows which epoch's
 *   keys each needs;
 * - hands waiting messages only to v1 members: v2 messages never wait (group.send refuses
 *   'alone').
 *
 * Both the new and the old vault_join coexist while vault replicas of both releases run (a
 * rolling deploy); the old one is dropped with the next release.
 */
import { sql, type Kysely } from 'kysely'
import { JOIN_BY_CONNECTION } from './2026-11-28T01-00-presence-by-connection.js'

function edit (text: string, edits: Array<[string, string]>): string {
  let result = text
  for (const [from, to] of edits) {
    if (!result.includes(from)) throw new Error(`vault_join is not as this migration expects (${from.slice(0, 40)}…)`)
    result = result.replace(from, to)
  }
  return result
}

const JOIN_BY_PROTOCOL = edit(JOIN_BY_CONNECTION, [
  ['CREATE FUNCTION vault_join(p_rooms text[], p_members text[], p_gateways text[], p_connections bigint[], p_max_members int, p_max_cards int)',
    'CREATE FUNCTION vault_join(p_rooms text[], p_members text[], p_gateways text[], p_connections bigint[], p_protocols smallint[], p_max_members int, p_max_cards int)'],
  ['RETURNS TABLE (ord int, outcome text, present int, version bigint, cards json, sent json, gone json)',
    'RETURNS TABLE (ord int, outcome text, present int, version bigint, cards json, sent json, gone json, group_epoch bigint)'],
  ['  v_assigned int;\nBEGIN', '  v_assigned int;\n  v_protocol smallint;\n  v_epoch bigint;\nBEGIN'],
  ['    SELECT u.room, u.member, u.gateway, u.connection, u.n::int AS n\n      FROM unnest(p_rooms, p_members, p_gateways, p_connections) WITH ORDINALITY AS u(room, member, gateway, connection, n)',
    '    SELECT u.room, u.member, u.gateway, u.connection, u.protocol, u.n::int AS n\n      FROM unnest(p_rooms, p_members, p_gateways, p_connections, p_protocols) WITH ORDINALITY AS u(room, member, gateway, connection, protocol, n)'],
  ['ord := item.n; present := NULL; version := NULL; cards := NULL; sent := NULL; gone := NULL;',
    'ord := item.n; present := NULL; version := NULL; cards := NULL; sent := NULL; gone := NULL; group_epoch := NULL;'],
  ['      PERFORM 1 FROM rooms r WHERE r.room_hash = item.room FOR NO KEY UPDATE;\n      EXIT WHEN FOUND;',
    '      SELECT r.protocol, r.epoch INTO v_protocol, v_epoch FROM rooms r WHERE r.room_hash = item.room FOR NO KEY UPDATE;\n      EXIT WHEN FOUND;'],
  ['      INSERT INTO rooms (room_hash) VALUES (item.room) ON CONFLICT DO NOTHING;\n    END LOOP;',
    '      INSERT INTO rooms (room_hash, protocol) VALUES (item.room, item.protocol) ON CONFLICT DO NOTHING;\n    END LOOP;\n' +
    '    -- A room keeps the protocol of the join that created it.\n' +
    '    IF v_protocol <> item.protocol THEN\n      outcome := \'protocol-mismatch\';\n      RETURN NEXT;\n      CONTINUE;\n    END IF;\n' +
    '    group_epoch := v_epoch;'],
  ['     WHERE m.room_hash = item.room AND m.waiting AND m.sender_id <> item.member;',
    '     WHERE m.room_hash = item.room AND m.waiting AND m.epoch IS NULL AND m.sender_id <> item.member;'],
  ['json_build_array(c.id, c.sender_id, c.bucket, (extract(epoch FROM c.expires_at) * 1000)::bigint)',
    'json_build_array(c.id, c.sender_id, c.bucket, (extract(epoch FROM c.expires_at) * 1000)::bigint, c.epoch)'],
  ['        FROM (SELECT m.id, m.sender_id, m.bucket, m.expires_at FROM messages m',
    '        FROM (SELECT m.id, m.sender_id, m.bucket, m.expires_at, m.epoch FROM messages m']
])

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  await sql.raw(JOIN_BY_PROTOCOL).execute(db)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  await sql.raw('DROP FUNCTION vault_join(text[], text[], text[], bigint[], smallint[], int, int)').execute(db)
}
