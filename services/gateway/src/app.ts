/**
 * The gateway: owns browser WebSockets, validates and rate-limits frames, fans
 * room events out to its local members, and asks the vault for everything
 * durable. Holds no durable state: any number of instances behind any balancer.
 */
import websocket from '@fastify/websocket'
import type { Bus } from '@ephemeral-chat/bus'
import { CLOSE_CODES, MAX_FRAME_BYTES, PRESENCE_SYNC_CHUNK } from '@ephemeral-chat/protocol'
import { createMetrics, quietClientError, registerOps, type ServiceMetrics } from '@ephemeral-chat/service-kit'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify'
import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { GatewayConfig } from './config.js'
import { securityHeaders } from './plugins/security.js'
import { webClient } from './plugins/web.js'
import { createVaultClient } from './vault-client.js'
import { AddressLimiter } from './ws/address-limiter.js'
import { Connection } from './ws/connection.js'
import { Admission } from './ws/admission.js'
import { PresenceLedger } from './ws/presence.js'
import { RoomRegistry } from './ws/rooms.js'
import { challenges } from './ws/v2-join.js'

/**
 * After a NATS reconnect, a connection whose catch-up the vault could not answer is asked
 * again after 200 ms, 400 ms, … up to every 2 s; one still behind after `catchUpGiveUpMs`
 * (30 s by default) is closed with 1013, and its client reconnects and joins again on its
 * own backoff.
 */
const CATCH_UP_FIRST_RETRY_MS = 200
const CATCH_UP_MAX_RETRY_MS = 2000

export interface GatewayDeps {
  config: Omit<GatewayConfig, 'host' | 'port' | 'natsUrl' | 'natsSubjectPrefix' | 'logLevel'>
  logger: FastifyBaseLogger
  bus: Bus
  metrics?: ServiceMetrics
}

/** Same origin unless ALLOWED_ORIGINS lists others; a client that sends no Origin (not a browser) is not a cross-site risk. */
export function originAllowed (request: FastifyRequest, allowed: readonly string[]): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return true
  if (allowed.length > 0) return allowed.includes(origin)
  try {
    return new URL(origin).host === request.headers.host
  } catch {
    return false
  }
}

function terminateOnError (this: WebSocket): void {
  this.terminate()
}

/**
 * Lets the upgrade's HTTP objects go once the WebSocket is open: @fastify/websocket's error
 * listener holds Fastify's request and reply, and the socket holds its HTTP response (and
 * through it the request), for as long as the connection lives — most of an idle
 * connection's memory otherwise.
 */
function release (socket: WebSocket, request: FastifyRequest): void {
  socket.removeAllListeners('error')
  socket.on('error', terminateOnError)
  const raw = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null }
  raw._httpMessage?.detachSocket(raw)
}

export async function buildGatewayApp (deps: GatewayDeps): Promise<FastifyInstance> {
  const { config, bus } = deps
  const metrics = deps.metrics ?? createMetrics('gateway')
  const app = Fastify({
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustProxy,
    clientErrorHandler: quietClientError
  })
  const gatewayId = randomBytes(16).toString('hex')
  const vault = createVaultClient(bus, metrics, config.requestTimeoutMs)
  const rooms = new RoomRegistry(bus)
  const addresses = new AddressLimiter(config.maxConnectionsPerAddress)
  const connections = new Set<Connection>()
  const admission = new Admission(config.maxNewWorkInFlight)
  const presence = new PresenceLedger()
  const resyncs = metrics.counter('presence_resyncs_total', 'Times the vault\'s presence rows for this gateway were replaced by its own')
  let syncing = false
  /** Tells the vault we live and what we hold; when its rows disagree, sends them ours. */
  async function heartbeat (): Promise<void> {
    const beat = await vault.heartbeat({ gatewayId, intervalMs: config.heartbeatIntervalMs, connections: presence.count, digest: presence.digest })
    if (!beat.ok || !beat.value.resync || syncing) return
    syncing = true
    try {
      resyncs.inc()
      for (const chunk of presence.chunks(PRESENCE_SYNC_CHUNK)) {
        // A chunk that fails leaves the rest for the next heartbeat, which asks again.
        if (!(await vault.sync({ gatewayId, ...chunk })).ok) return
      }
    } finally {
      syncing = false
    }
  }
  const tooSlow = metrics.counter('slow_consumers_total', 'Sockets closed for not reading what they were sent (MAX_BUFFERED_BYTES)')
  // v2: every connection's challenge, derived from its number under a key of this process.
  const challengeOf = challenges()
  metrics.gauge('new_work_in_flight', 'Sends and joins waiting for the vault (refused beyond MAX_NEW_WORK_IN_FLIGHT)', () => admission.inFlight)
  metrics.gauge('connections', 'Open WebSocket connections', () => connections.size)
  metrics.gauge('rooms', 'Rooms with at least one local member', () => rooms.size)
  let closing = false
  let timers: NodeJS.Timeout[] = []

  await app.register(securityHeaders)
  await app.register(websocket, {
    // We track connections ourselves; ws's own set would cost a listener and an entry per socket.
    // Text frames reach our decoder unchecked, so invalid UTF-8 gets the typed `bad-frame` like
    // any other bad frame instead of a 1007 close.
    options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false, skipUTF8Validation: true },
    // A broken connection is cut without a log line (the default logs each with its stack).
    errorHandler: (_error, socket) => { socket.terminate() },
    // Our own preClose below closes sockets with 1001 and waits for their disconnects.
    preClose: (done) => { done() }
  })
  await app.register(webClient, { root: config.webRoot })

  app.get('/ws', {
    websocket: true,
    // An upgrade answers with 101 and no page: the security headers (computed per request) would be thrown away.
    helmet: false,
    preValidation: async (request, reply) => {
      if (!originAllowed(request, config.allowedOrigins)) {
        metrics.observe('upgrade', 'forbidden-origin', 0)
        return reply.code(403).send({ error: 'origin not allowed' })
      }
    }
  }, (socket, request) => {
    const address = request.ip
    release(socket, request)
    if (closing) return socket.close(CLOSE_CODES.goingAway, 'shutting down')
    if (connections.size >= config.maxConnections) {
      metrics.observe('upgrade', 'gateway-full', 0)
      return socket.close(CLOSE_CODES.tryAgainLater, 'too many connections')
    }
    if (!addresses.acquire(address)) {
      metrics.observe('upgrade', 'too-many-connections', 0)
      return socket.close(CLOSE_CODES.tryAgainLater, 'too many connections')
    }
    const connection = new Connection(socket, request.raw.socket, { vault, rooms, metrics, gatewayId, presence, rates: config.rates, admission, maxBufferedBytes: config.maxBufferedBytes, tooSlow, challengeOf })
    connections.add(connection)
    socket.on('close', () => {
      connections.delete(connection)
      addresses.release(address)
      void connection.closed()
    })
  })

  // /metrics on its own server (METRICS_PORT), never on the public port; health and readiness.
  await registerOps(app, { metrics, logger: deps.logger, closing: () => closing, ready: async () => { await bus.ping() } })

  // After a NATS outage: events published meanwhile never reached us. Every joined connection
  // catches up, and the vault is told at once what we hold (our disconnects may have been lost).
  const catchUps = metrics.counter('catch_up_retries_total', 'Joined connections asked again to catch up after a NATS reconnect because the vault did not answer yet')
  let catchUpRound = 0
  /**
   * Every joined connection catches up (see Connection.resync); those the vault could not answer
   * yet (it reconnects on its own schedule) are asked again with backoff, until each has caught
   * up or closed, or the next reconnect starts a new round.
   */
  async function catchUp (): Promise<void> {
    const round = ++catchUpRound
    const giveUpAt = performance.now() + config.catchUpGiveUpMs
    let waiting = [...connections]
    for (let attempt = 0; waiting.length > 0; attempt++) {
      if (attempt > 0) {
        if (performance.now() >= giveUpAt) {
          for (const connection of waiting) connection.close(CLOSE_CODES.tryAgainLater, 'could not catch up')
          return
        }
        catchUps.inc(waiting.length)
        await new Promise((resolve) => setTimeout(resolve, Math.min(CATCH_UP_FIRST_RETRY_MS * 2 ** (attempt - 1), CATCH_UP_MAX_RETRY_MS)).unref())
        if (round !== catchUpRound || closing) return
      }
      const outcomes = await Promise.all(waiting.map(async (connection) => connection.resync()))
      waiting = waiting.filter((connection, i) => outcomes[i] === 'retry' && connections.has(connection))
    }
  }
  const reconnected = bus.onReconnect(() => {
    void heartbeat()
    void catchUp()
  })

  app.addHook('onReady', async () => {
    const beat = (): void => { void heartbeat() }
    beat()
    const reap = (): void => {
      for (const connection of connections) {
        if (!connection.alive) { connection.terminate(); continue }
        connection.alive = false
        connection.ping()
      }
    }
    timers = [setInterval(beat, config.heartbeatIntervalMs), setInterval(reap, config.pingIntervalMs)]
    for (const timer of timers) timer.unref()
  })

  app.addHook('preClose', async () => {
    closing = true
    // From here an upgrade takes the ordinary path: fastify answers 503 with `Connection: close`
    // and Node closes the socket. (Through the websocket plugin the 503 was written on a socket
    // that nothing closed, so a client that kept it open, as Chromium can, held `close` forever.)
    app.server.removeAllListeners('upgrade')
    reconnected.unsubscribe()
    for (const timer of timers) clearInterval(timer)
    const disconnects: Array<Promise<void>> = []
    for (const connection of connections) {
      disconnects.push(connection.whenClosed())
      connection.close(CLOSE_CODES.goingAway, 'server shutting down')
    }
    await Promise.race([Promise.all(disconnects), new Promise((resolve) => setTimeout(resolve, config.requestTimeoutMs).unref())])
    // A client that has not answered the close frame by now is cut: shutdown waits for no one.
    for (const connection of connections) connection.terminate()
    rooms.clear()
  })

  return app
}
