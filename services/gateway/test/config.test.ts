import { MAX_CONNECTIONS_PER_ADDRESS, RATE_LIMITS } from '@ephemeral-chat/protocol'
import { ConfigError } from '@ephemeral-chat/service-kit'
import t from 'tap'
import { DEFAULT_CATCH_UP_GIVE_UP_MS, DEFAULT_MAX_NEW_WORK_IN_FLIGHT, loadGatewayConfig } from '../src/config.js'

function configError (load: () => unknown): ConfigError {
  try {
    load()
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError, got a config')
}

t.test('per-connection rates and the per-address cap default to the documented limits', async (t) => {
  const config = loadGatewayConfig({})
  t.same(config.rates, RATE_LIMITS)
  t.equal(config.maxConnectionsPerAddress, MAX_CONNECTIONS_PER_ADDRESS)
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.rates))
})

t.test('an operator can raise or lower each rate as <per second>/<burst>', async (t) => {
  const config = loadGatewayConfig({ RATE_SEND: '50/200', RATE_TYPING: '1/2', RATE_REVEAL: '0.5/10', RATE_CONTROL: '100/100', MAX_CONNECTIONS_PER_ADDRESS: '5000' })
  t.same(config.rates, { send: { perSecond: 50, burst: 200 }, typing: { perSecond: 1, burst: 2 }, reveal: { perSecond: 0.5, burst: 10 }, control: { perSecond: 100, burst: 100 } })
  t.equal(config.maxConnectionsPerAddress, 5000)
})

t.test('a malformed rate is refused, naming the variable', async (t) => {
  for (const value of ['5', '5/', '/20', '0/20', '5/0', 'fast', '-1/5', '5/2.5', '2000000/5']) {
    t.equal(configError(() => loadGatewayConfig({ RATE_SEND: value })).variable, 'RATE_SEND', `RATE_SEND=${value}`)
  }
})

t.test('MAX_NEW_WORK_IN_FLIGHT bounds the sends and joins waiting for the vault', async (t) => {
  t.equal(loadGatewayConfig({}).maxNewWorkInFlight, DEFAULT_MAX_NEW_WORK_IN_FLIGHT)
  t.equal(loadGatewayConfig({ MAX_NEW_WORK_IN_FLIGHT: '64' }).maxNewWorkInFlight, 64)
  for (const value of ['0', 'lots', '-5']) t.equal(configError(() => loadGatewayConfig({ MAX_NEW_WORK_IN_FLIGHT: value })).variable, 'MAX_NEW_WORK_IN_FLIGHT')
})

t.test('CATCH_UP_GIVE_UP bounds how long a connection is asked to catch up after a NATS reconnect', async (t) => {
  t.equal(loadGatewayConfig({}).catchUpGiveUpMs, DEFAULT_CATCH_UP_GIVE_UP_MS)
  t.equal(DEFAULT_CATCH_UP_GIVE_UP_MS, 30_000, 'the documented 30 s')
  t.equal(loadGatewayConfig({ CATCH_UP_GIVE_UP: '2m' }).catchUpGiveUpMs, 120_000)
  for (const value of ['0', '50ms', '2h', 'soon']) t.equal(configError(() => loadGatewayConfig({ CATCH_UP_GIVE_UP: value })).variable, 'CATCH_UP_GIVE_UP', `CATCH_UP_GIVE_UP=${value}`)
})
