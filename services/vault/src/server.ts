/** Entry point of a vault process: config, dependencies, listen, graceful shutdown. */
import { connectNatsBus, withSubjectPrefix } from '@ephemeral-chat/bus'
import { limitedWarner, loadConfigOrExit, loggerOptions } from '@ephemeral-chat/service-kit'
import { pino } from 'pino'
import { buildVaultApp } from './app.js'
import { loadVaultConfig } from './config.js'
import { createDatabase, createPool } from './db/database.js'

const config = loadConfigOrExit('vault', loadVaultConfig)

const logger = pino(loggerOptions('vault', config.logLevel))
const nats = await connectNatsBus({ servers: config.natsUrl, name: 'vault', logger: limitedWarner(logger) }).catch(() => {
  // The URL is not echoed: it may carry credentials. An orchestrator restarts us; NATS may just be starting.
  process.stderr.write('vault: cannot reach NATS (NATS_URL); exiting\n')
  return process.exit(1)
})
const bus = config.natsSubjectPrefix === undefined ? nats : withSubjectPrefix(nats, config.natsSubjectPrefix)
const pool = createPool(config.database)
const db = createDatabase(pool)
const app = await buildVaultApp({ config, logger, bus, db, pool })
await app.listen({ host: config.host, port: config.port })
if (config.metricsPort !== undefined) await app.metricsApp.listen({ host: config.host, port: config.metricsPort })

let stopping = false
async function shutdown (): Promise<void> {
  if (stopping) return
  stopping = true
  // Stop serving (handlers unsubscribe, sweeper stops), then drain NATS, then close the pool.
  await app.close()
  await bus.close()
  await db.destroy()
  process.exit(0)
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { void shutdown() })
