import pg from 'pg'
import type { DatabaseConfig } from './database.js'

/** Creates the configured database when it does not exist (connecting to the `postgres` maintenance database). */
export async function ensureDatabase (config: DatabaseConfig): Promise<void> {
  if (config.connectionString !== undefined) return
  const client = new pg.Client({ host: config.host, port: config.port, user: config.user, password: config.password, database: 'postgres' })
  await client.connect()
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [config.database])
    if (found.rowCount === 0) {
      // Identifiers cannot be bound as parameters; escapeIdentifier quotes it safely.
      await client.query(`create database ${client.escapeIdentifier(config.database)}`)
    }
  } finally {
    await client.end()
  }
}
