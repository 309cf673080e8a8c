/** Entry point of a gateway process: config, bus, listen, graceful shutdown. */
import { connectNatsBus, withSubjectPrefix } from '@ephemeral-chat/bus'
import { limitedWarner, loadConfigOrExit, loggerOptions } from '@ephemeral-chat/service-kit'
import { pino } from 'pino'
import { buildGatewayApp } from './app.js'
import { loadGatewayConfig } from './config.js'

const config = loadConfigOrExit('gateway', loadGatewayConfig)

const logger = pino(loggerOptions('gateway', config.logLevel))
const nats = await connectNatsBus({ servers: config.natsUrl, name: 'gateway', logger: limitedWarner(logger) }).catch(() => {
  // The URL is not echoed: it may carry credentials. An orchestrator restarts us; NATS may just be starting.
  process.stderr.write('gateway: cannot reach NATS (NATS_URL); exiting\n')
  return process.exit(1)
})
const bus = config.natsSubjectPrefix === undefined ? nats : withSubjectPrefix(nats, config.natsSubjectPrefix)
const app = await buildGatewayApp({ config, logger, bus })
await app.listen({ host: config.host, port: config.port })
if (config.metricsPort !== undefined) await app.metricsApp.listen({ host: config.host, port: config.metricsPort })

let stopping = false
async function shutdown (): Promise<void> {
  if (stopping) return
  stopping = true
  // Mark unready and close every socket with 1001 so clients reconnect elsewhere, then drain NATS.
  await app.close()
  await bus.close()
  process.exit(0)
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => { void shutdown() })
