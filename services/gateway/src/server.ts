/** Entry point of a gateway process (config, logger, bus, listen, shutdown: service-kit's runner). */
import { runService } from '@ephemeral-chat/service-kit'
import { buildGatewayApp } from './app.js'
import { loadGatewayConfig } from './config.js'

await runService('gateway', loadGatewayConfig, async ({ config, logger, bus }) => {
  const app = await buildGatewayApp({ config, logger, bus })
  // Closing marks it unready and closes every socket with 1001, so clients reconnect elsewhere.
  return { app, close: async () => app.close() }
})
