import { Kysely, Migrator, PostgresDialect, type MigrationResultSet } from 'kysely'
import pg from 'pg'
import { migrations } from './migrations/index.js'
import type { Database } from './schema.js'

export interface DatabaseConfig {
  /** A connection string; when absent, pg reads PGHOST, PGPORT, PGUSER, PGPASSWORD itself. */
  connectionString?: string
  host?: string
  port?: number
  database: string
  user?: string
  password?: string
  maxConnections: number
}

export function createPool (config: DatabaseConfig): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.connectionString,
    host: config.host,
    port: config.port,
    database: config.connectionString === undefined ? config.database : undefined,
    user: config.user,
    password: config.password,
    max: config.maxConnections,
    application_name: 'ephemeral-chat-vault',
    // The vault's functions rely on READ COMMITTED (each statement sees what committed before it: the
    // tombstone look-up after vault_store's insert, the epoch compare-and-set). A database or role
    // configured with a stricter default must not change what they do.
    options: '-c default_transaction_isolation=read\\ committed'
  })
  // A client that loses its server (failover, restart, shutdown) emits 'error', idle or checked out; without
  // a listener that crashes the process. The query in flight fails on its own and is answered `internal`.
  pool.on('error', () => {})
  pool.on('connect', (client) => { client.on('error', () => {}) })
  return pool
}

export function createDatabase (pool: pg.Pool): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}

export async function migrateToLatest (db: Kysely<Database>): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'vault_migrations',
    migrationLockTableName: 'vault_migrations_lock'
  })
  return migrator.migrateToLatest()
}

/** Brings the database `config` names to the latest schema on a connection of its own; throws when a migration fails. */
export async function migrateDatabase (config: Omit<DatabaseConfig, 'maxConnections'>): Promise<void> {
  const db = createDatabase(createPool({ ...config, maxConnections: 1 }))
  try {
    const { error } = await migrateToLatest(db)
    if (error !== undefined) throw new Error('migration failed', { cause: error })
  } finally {
    await db.destroy()
  }
}
