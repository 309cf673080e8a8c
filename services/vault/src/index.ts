export { buildVaultApp, type VaultDeps } from './app.js'
export { loadVaultConfig, loadDatabaseConfig, loadBatchConfig, DEFAULT_BATCH, DEFAULT_DATABASE, DEFAULT_VAULT_PORT, type VaultConfig } from './config.js'
export { createDatabase, createPool, migrateDatabase, migrateToLatest, type DatabaseConfig } from './db/database.js'
export { ensureDatabase } from './db/ensure.js'
export type { Database } from './db/schema.js'
export type { RoomShareOptions } from './room-share.js'
/** The at-rest layer, for the end-to-end test that plays an attacker holding ENCRYPTION_KEY and a database dump. */
export { atRestKey, createAtRestCipher } from './at-rest.js'
