import { sql, type Kysely } from 'kysely'

// Migrations take Kysely<any>: they describe the database as it was then, not the app's current types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.createTable('rooms')
    .addColumn('room_hash', 'char(64)', (c) => c.primaryKey())
    .execute()

  await db.schema.createTable('members')
    .addColumn('room_hash', 'char(64)', (c) => c.notNull().references('rooms.room_hash').onDelete('cascade'))
    .addColumn('member_id', 'varchar(22)', (c) => c.notNull())
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('members_pk', ['room_hash', 'member_id'])
    .execute()

  await db.schema.createTable('gateways')
    .addColumn('gateway_id', 'char(32)', (c) => c.primaryKey())
    .addColumn('last_heartbeat_at', 'timestamptz', (c) => c.notNull())
    .execute()

  await db.schema.createTable('presence')
    .addColumn('room_hash', 'char(64)', (c) => c.notNull())
    .addColumn('member_id', 'varchar(22)', (c) => c.notNull())
    .addColumn('gateway_id', 'char(32)', (c) => c.notNull())
    .addColumn('connections', 'integer', (c) => c.notNull().check(sql`connections > 0`))
    .addPrimaryKeyConstraint('presence_pk', ['room_hash', 'member_id', 'gateway_id'])
    .addForeignKeyConstraint('presence_member_fk', ['room_hash', 'member_id'], 'members', ['room_hash', 'member_id'], (c) => c.onDelete('cascade'))
    .execute()
  await db.schema.createIndex('presence_gateway_idx').on('presence').column('gateway_id').execute()

  await db.schema.createTable('messages')
    .addColumn('id', 'varchar(22)', (c) => c.primaryKey())
    .addColumn('room_hash', 'char(64)', (c) => c.notNull().references('rooms.room_hash').onDelete('cascade'))
    .addColumn('sender_id', 'varchar(22)', (c) => c.notNull())
    .addColumn('sealed', 'bytea', (c) => c.notNull())
    .addColumn('key_id', 'char(8)', (c) => c.notNull())
    .addColumn('bucket', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('waiting', 'boolean', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('messages_room_idx').on('messages').column('room_hash').execute()
  await db.schema.createIndex('messages_expires_idx').on('messages').column('expires_at').execute()

  await db.schema.createTable('message_recipients')
    .addColumn('message_id', 'varchar(22)', (c) => c.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('member_id', 'varchar(22)', (c) => c.notNull())
    .addColumn('viewed', 'boolean', (c) => c.notNull().defaultTo(false))
    .addPrimaryKeyConstraint('message_recipients_pk', ['message_id', 'member_id'])
    .execute()
  await db.schema.createIndex('message_recipients_member_idx').on('message_recipients').column('member_id').execute()
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down (db: Kysely<any>): Promise<void> {
  for (const table of ['message_recipients', 'messages', 'presence', 'gateways', 'members', 'rooms']) {
    await db.schema.dropTable(table).ifExists().execute()
  }
}
