/**
 * The vault: the only holder of the database and the at-rest key. Its work
 * arrives over the bus; HTTP serves only health and metrics.
 */
import type { Bus } from '@ephemeral-chat/bus'
import { createMetrics, limitedWarner, quietClientError, registerOps, type ServiceMetrics } from '@ephemeral-chat/service-kit'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { sql, type Kysely } from 'kysely'
import { atRestKey, createAtRestCipher } from './at-rest.js'
import { DEFAULT_BATCH, DEFAULT_ROOM_SHARE, type VaultConfig } from './config.js'
import type { Queryable } from './db/statements.js'
import type { Database } from './db/schema.js'
import { registerVaultHandlers, type VaultHandlers } from './handlers/index.js'
import { createSweeper, type Sweeper } from './sweeper.js'

export interface VaultDeps {
  config: Pick<VaultConfig, 'encryptionKey' | 'retiredKeys' | 'messageTtlMs' | 'sweepIntervalMs'> & Partial<Pick<VaultConfig, 'batch' | 'roomShare'>>
  logger: FastifyBaseLogger
  bus: Bus
  db: Kysely<Database>
  /** The pool behind `db`: the message path runs prepared statements on it directly. */
  pool: Queryable
  /** Defaults to a fresh registry; pass one to share it with a co-hosted service. */
  metrics?: ServiceMetrics
}

declare module 'fastify' {
  interface FastifyInstance {
    sweeper: Sweeper
  }
}

export async function buildVaultApp (deps: VaultDeps): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? createMetrics('vault')
  const app = Fastify({ loggerInstance: deps.logger, logController: new LogController({ disableRequestLogging: true }), clientErrorHandler: quietClientError })
  const cipher = createAtRestCipher(atRestKey(deps.config.encryptionKey), deps.config.retiredKeys.map(atRestKey))
  const warner = limitedWarner(deps.logger)
  const sweeper = createSweeper({ db: deps.db, bus: deps.bus, logger: warner, metrics, intervalMs: deps.config.sweepIntervalMs, messageTtlMs: deps.config.messageTtlMs })
  app.decorate('sweeper', sweeper)

  let handlers: VaultHandlers | undefined
  let closing = false
  metrics.gauge('queued_requests', 'Requests waiting for a batch slot, all operations', () =>
    [...handlers?.batchers.values() ?? []].reduce((sum, batcher) => sum + batcher.queued, 0))

  app.addHook('onReady', async () => {
    handlers = registerVaultHandlers({
      bus: deps.bus, pool: deps.pool, db: deps.db, cipher, metrics, logger: warner,
      messageTtlMs: deps.config.messageTtlMs, batch: deps.config.batch ?? DEFAULT_BATCH, roomShare: deps.config.roomShare ?? DEFAULT_ROOM_SHARE
    })
    sweeper.start()
  })
  app.addHook('preClose', async () => {
    // Stop taking new requests first; queued and running ones finish before the bus drains.
    closing = true
    for (const subscription of handlers?.subscriptions ?? []) subscription.unsubscribe()
    await Promise.all([...handlers?.batchers.values() ?? []].map(async (batcher) => batcher.drained()))
    await sweeper.stop()
  })

  // /metrics on its own server (METRICS_PORT), not beside the health checks; ready = database and bus answer.
  await registerOps(app, {
    metrics, logger: deps.logger, closing: () => closing,
    ready: async () => { await sql`select 1`.execute(deps.db); await deps.bus.ping() }
  })

  return app
}
