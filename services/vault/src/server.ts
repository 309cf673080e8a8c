/** Entry point of a vault process (config, logger, bus, listen, shutdown: service-kit's runner). */
import { runService } from '@ephemeral-chat/service-kit'
import { buildVaultApp } from './app.js'
import { loadVaultConfig } from './config.js'
import { createDatabase, createPool } from './db/database.js'

await runService('vault', loadVaultConfig, async ({ config, logger, bus }) => {
  const pool = createPool(config.database)
  const db = createDatabase(pool)
  const app = await buildVaultApp({ config, logger, bus, db, pool })
  // Closing stops serving (handlers unsubscribe, the sweeper stops); the pool goes after the bus.
  return { app, close: async () => app.close(), release: async () => db.destroy() }
})
