/**
 * `npm run migrate`: brings the database schema to the latest version. Creates the
 * database first when the server has none of that name. Run it once per deploy
 * (a Kubernetes Job), not from every replica.
 */
import { ConfigError } from '@ephemeral-chat/service-kit'
import { loadDatabaseConfig } from './config.js'
import { createDatabase, createPool, migrateToLatest, type DatabaseConfig } from './db/database.js'
import { ensureDatabase } from './db/ensure.js'

async function main (config: DatabaseConfig): Promise<number> {
  await ensureDatabase(config)
  const db = createDatabase(createPool(config))
  try {
    const { error, results } = await migrateToLatest(db)
    for (const result of results ?? []) process.stdout.write(`migration ${result.migrationName}: ${result.status}\n`)
    if (error !== undefined) {
      process.stderr.write(`migrate: failed: ${error instanceof Error ? error.message : 'unknown error'}\n`)
      return 1
    }
    if ((results ?? []).length === 0) process.stdout.write('migrate: already up to date\n')
    return 0
  } finally {
    await db.destroy()
  }
}

try {
  process.exitCode = await main(loadDatabaseConfig(process.env))
} catch (error) {
  process.stderr.write(`migrate: ${error instanceof ConfigError ? 'configuration error: ' : ''}${error instanceof Error ? error.message : 'unknown error'}\n`)
  process.exitCode = 1
}
