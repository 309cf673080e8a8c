/**
 * `npm start`: the whole product in one process. Gateway and vault share an
 * in-process bus (or NATS when NATS_URL is set) and an embedded PostgreSQL (or
 * the server PGHOST / DATABASE_URL names). Nothing needs configuring.
 */
import { connectNatsBus, createMemoryBus, withSubjectPrefix, type Bus } from '@ephemeral-chat/bus'
import { buildGatewayApp, loadGatewayConfig } from '@ephemeral-chat/gateway'
import { ConfigError, limitedWarner, loggerOptions } from '@ephemeral-chat/service-kit'
import { buildVaultApp, createDatabase, createPool, ensureDatabase, loadVaultConfig, migrateToLatest } from '@ephemeral-chat/vault'
import type { FastifyInstance } from 'fastify'
import { createServer } from 'node:net'
import { relative } from 'node:path'
import { pino } from 'pino'
import { DEFAULT_DATA_DIR, lockDataDir, persistentSecret, randomHex, StartError } from './data-dir.js'
import { clusterDirFor, EmbeddedDatabaseError, startEmbeddedPostgres, type EmbeddedDatabase } from '@ephemeral-chat/embedded-db'

const say = (line: string): void => { process.stdout.write(`${line}\n`) }

async function assertPortFree (host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer()
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? new StartError(`port ${port} is in use (is another instance running?); stop it or set PORT to a free port`)
        : new StartError(`cannot listen on ${host}:${port} (${error.code ?? 'unknown error'})`))
    })
    probe.listen(port, host, () => { probe.close(() => { resolve() }) })
  })
}

interface Running {
  stop (): Promise<void>
}

async function start (env: NodeJS.ProcessEnv): Promise<Running> {
  const cleanups: Array<() => Promise<void> | void> = []
  const stop = async (): Promise<void> => {
    // Every part is stopped even if an earlier one fails, so the embedded database never outlives us.
    const failures: string[] = []
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup()
      } catch (error) {
        failures.push(error instanceof Error ? error.message : 'unknown error')
      }
    }
    if (failures.length > 0) throw new StartError(`stopping failed: ${failures.join('; ')}`)
  }
  try {
    const gatewayConfig = loadGatewayConfig({ HOST: '127.0.0.1', ...env })
    await assertPortFree(gatewayConfig.host, gatewayConfig.port)
    const dataDir = env.DATA_DIR ?? DEFAULT_DATA_DIR
    cleanups.push(lockDataDir(dataDir))
    const shownDir = relative(process.cwd(), dataDir) || '.'

    let encryptionKey = env.ENCRYPTION_KEY
    if (encryptionKey === undefined || encryptionKey.trim() === '') {
      const key = persistentSecret(dataDir, 'encryption.key', randomHex(32))
      encryptionKey = key.value
      say(key.created
        ? `No ENCRYPTION_KEY set: generated a new at-rest key in ${shownDir}/encryption.key (readable by you only). Keep it: without it stored messages cannot be opened.`
        : `No ENCRYPTION_KEY set: using the at-rest key in ${shownDir}/encryption.key.`)
    }

    let databaseEnv: NodeJS.ProcessEnv = {}
    let databaseLabel: string
    if (env.PGHOST === undefined && env.DATABASE_URL === undefined) {
      const started = Date.now()
      const embedded: EmbeddedDatabase = await startEmbeddedPostgres({
        databaseDir: clusterDirFor(dataDir),
        password: persistentSecret(dataDir, 'postgres.password', randomHex(24)).value
      })
      cleanups.push(async () => { await embedded.stop() })
      databaseEnv = { PGHOST: embedded.host, PGPORT: String(embedded.port), PGUSER: embedded.user, PGPASSWORD: embedded.password }
      const shown = (path: string): string => path.startsWith('/var/') ? path : relative(process.cwd(), path)
      // As root the server runs as the postgres user, from a copy of its binaries it can reach: say where both are.
      const binaries = embedded.binariesDir.includes('node_modules') ? '' : `, binaries in ${embedded.binariesDir}`
      databaseLabel = `embedded PostgreSQL in ${shown(embedded.databaseDir)}${binaries} (started in ${Date.now() - started} ms)`
    } else {
      databaseLabel = env.DATABASE_URL === undefined ? `PostgreSQL at ${env.PGHOST}` : 'PostgreSQL from DATABASE_URL'
    }
    const vaultConfig = loadVaultConfig({ ...env, ...databaseEnv, ENCRYPTION_KEY: encryptionKey })
    await ensureDatabase(vaultConfig.database).catch((error: unknown) => {
      // One line that says what to check; the server's own words, but never a password or a stack.
      const reason = error instanceof Error ? error.message.split('\n')[0] : 'unknown error'
      throw new StartError(`cannot use the PostgreSQL server at ${vaultConfig.database.host ?? 'the default host'}:${vaultConfig.database.port ?? 5432} (${reason}); check PGHOST, PGPORT, PGUSER and PGPASSWORD`)
    })
    const pool = createPool(vaultConfig.database)
    const db = createDatabase(pool)
    cleanups.push(async () => { await db.destroy() })
    const migrated = await migrateToLatest(db)
    if (migrated.error !== undefined) throw new StartError('the database migration failed')

    const logger = pino(loggerOptions('ephemeral-chat', gatewayConfig.logLevel))
    let bus: Bus
    if (env.NATS_URL === undefined) {
      bus = createMemoryBus({ logger: limitedWarner(logger) })
    } else {
      const nats = await connectNatsBus({ servers: gatewayConfig.natsUrl, name: 'standalone', logger: limitedWarner(logger) })
      bus = gatewayConfig.natsSubjectPrefix === undefined ? nats : withSubjectPrefix(nats, gatewayConfig.natsSubjectPrefix)
    }
    cleanups.push(async () => { await bus.close() })

    const vault: FastifyInstance = await buildVaultApp({ config: vaultConfig, logger, bus, db, pool })
    cleanups.push(async () => { await vault.close() })
    await vault.ready()
    const gateway = await buildGatewayApp({ config: gatewayConfig, logger, bus })
    cleanups.push(async () => { await gateway.close() })
    await gateway.listen({ host: gatewayConfig.host, port: gatewayConfig.port })

    const shownHost = ['127.0.0.1', '0.0.0.0', '::'].includes(gatewayConfig.host) ? 'localhost' : gatewayConfig.host
    say(`Database: ${databaseLabel}. Bus: ${env.NATS_URL === undefined ? 'in-process' : 'NATS'}.`)
    say(`Ephemeral chat is running: open http://${shownHost}:${gatewayConfig.port}  (Ctrl-C stops it)`)
    return { stop }
  } catch (error) {
    await stop()
    throw error
  }
}

try {
  const running = await start(process.env)
  let stopping = false
  const shutdown = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    say('Stopping…')
    try {
      await running.stop()
      process.exit(0)
    } catch (error) {
      process.stderr.write(`ephemeral-chat: ${error instanceof Error ? error.message : 'stopping failed'}\n`)
      process.exit(1)
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { void shutdown() })
} catch (error) {
  if (error instanceof StartError || error instanceof ConfigError || error instanceof EmbeddedDatabaseError) {
    process.stderr.write(`ephemeral-chat: ${error instanceof ConfigError ? 'configuration error: ' : ''}${error.message}\n`)
    process.exit(1)
  }
  throw error
}
