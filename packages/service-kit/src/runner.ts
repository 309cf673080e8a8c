/**
 * One entry point for every service process: configuration (exit 78 on a bad setting),
 * logger, NATS bus (exit 1 when unreachable, without echoing the URL), listen on the
 * public port and on METRICS_PORT, and a graceful shutdown on SIGTERM/SIGINT.
 */
import { connectNatsBus, withSubjectPrefix, type Bus } from '@ephemeral-chat/bus'
import { pino, type Logger } from 'pino'
import { loadConfigOrExit, type Env, type LogLevel } from './env.js'
import { limitedWarner } from './log-limit.js'
import { loggerOptions } from './logger.js'

export interface ServiceConfig {
  readonly host: string
  readonly port: number
  readonly metricsPort: number | undefined
  readonly natsUrl: string
  readonly natsSubjectPrefix: string | undefined
  readonly logLevel: LogLevel
}

interface Listener {
  listen (options: { host: string, port: number }): Promise<unknown>
}

export interface RunningService {
  /** The public server, and the Prometheus one served apart. */
  app: Listener & { metricsApp: Listener }
  /** Stops serving; the runner then drains the bus, then calls `release`. */
  close (): Promise<unknown>
  /** What goes after the bus (e.g. the database pool). */
  release? (): Promise<unknown>
}

export async function runService<C extends ServiceConfig> (
  name: string,
  loadConfig: (env: Env) => C,
  start: (deps: { config: C, logger: Logger, bus: Bus }) => Promise<RunningService>
): Promise<void> {
  const config = loadConfigOrExit(name, loadConfig)
  const logger = pino(loggerOptions(name, config.logLevel))
  const nats = await connectNatsBus({ servers: config.natsUrl, name, logger: limitedWarner(logger) }).catch(() => {
    // The URL is not echoed: it may carry credentials. An orchestrator restarts us; NATS may just be starting.
    process.stderr.write(`${name}: cannot reach NATS (NATS_URL); exiting\n`)
    return process.exit(1)
  })
  const bus = config.natsSubjectPrefix === undefined ? nats : withSubjectPrefix(nats, config.natsSubjectPrefix)
  const service = await start({ config, logger, bus })
  await service.app.listen({ host: config.host, port: config.port })
  if (config.metricsPort !== undefined) await service.app.metricsApp.listen({ host: config.host, port: config.metricsPort })

  let stopping = false
  const shutdown = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    await service.close()
    await bus.close()
    await service.release?.()
    process.exit(0)
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { void shutdown() })
}
