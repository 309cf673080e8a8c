/**
 * The product in this process, for end-to-end tests: one database per test file
 * (emptied for each test), vaults and gateways built from the services' own
 * `buildVaultApp` / `buildGatewayApp` on one private NATS subject prefix, gateways
 * on their own ports (serving a web build when given one), and SDK clients
 * connected through real WebSockets. `processes.ts` is the same deployment as
 * separate processes, for the fault and flood tests.
 */
import { ChatSession, ChatSessionV2, deriveRoomKeys, generateRoomCode, newMemberSecret, type RoomKeys, type RoomKeysV2, type SessionCore, type SessionEvents, type SessionOptions, type SessionV2Options } from '@ephemeral-chat/client'
import type { Bus } from '@ephemeral-chat/bus'
import { buildGatewayApp, loadGatewayConfig, type GatewayConfig } from '@ephemeral-chat/gateway'
import { connectTestBus, fileTestDatabase, randomPrefix, waitFor, withSubjectPrefix, type TestDatabase } from '@ephemeral-chat/testkit'
import { buildVaultApp, createDatabase, createPool, migrateDatabase, type Database, type RoomShareOptions } from '@ephemeral-chat/vault'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { pino } from 'pino'
import WebSocket from 'ws'

interface TestLike { teardown (fn: () => Promise<void> | void): void }

export interface RunningGateway {
  app: FastifyInstance
  /** Origin of the gateway, e.g. http://127.0.0.1:41234 */
  url: string
  wsUrl: string
  port: number
  stop (): Promise<void>
}

export interface RunningVault {
  /** One pass of the vault's sweeper now (expiry, absence, pruning). */
  sweep (): Promise<void>
  stop (): Promise<void>
}

export interface DeploymentOptions {
  messageTtlMs?: number
  roomShare?: RoomShareOptions
  /** Gateway settings for every gateway of the deployment (each start may override them). */
  gateway?: Partial<GatewayDeployConfig>
}

export interface Deployment {
  prefix: string
  database: TestDatabase
  db: Kysely<Database>
  startVault (): Promise<RunningVault>
  /**
   * `port` to restart a gateway where its pages expect it (0 or none: a free one);
   * `wrapBus` lets a test stand between the gateway and NATS (e.g. to play an outage).
   */
  startGateway (overrides?: Partial<GatewayDeployConfig> & { port?: number }, wrapBus?: (bus: Bus) => Bus): Promise<RunningGateway>
}

export type GatewayDeployConfig = Omit<GatewayConfig, 'host' | 'port' | 'natsUrl' | 'natsSubjectPrefix' | 'logLevel'>

export const silent = pino({ level: 'silent' })

export function gatewayConfig (overrides: Partial<GatewayDeployConfig> = {}): GatewayDeployConfig {
  // The documented defaults, with what tests need: many connections from one address, short waits.
  return {
    ...loadGatewayConfig({}),
    maxConnectionsPerAddress: 10_000,
    requestTimeoutMs: 2000,
    heartbeatIntervalMs: 1000,
    pingIntervalMs: 30_000,
    webRoot: '/nonexistent',
    ...overrides
  }
}

/** `stop` run once, however often it is asked for; a second call waits for the first. */
function once (stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined
  return async () => { stopping ??= stop(); await stopping }
}

/** A database and a NATS prefix for one test; vaults and gateways are started on demand, and all stop at teardown. */
export async function deployment (t: TestLike, options: DeploymentOptions = {}): Promise<Deployment> {
  const database = await fileTestDatabase(migrateDatabase)
  const db = createDatabase(createPool({ ...database, maxConnections: 5 }))
  const prefix = randomPrefix()
  const stops: Array<() => Promise<void>> = []

  const d: Deployment = {
    prefix, database, db,
    async startVault () {
      const bus = withSubjectPrefix(await connectTestBus('vault'), prefix)
      const vaultPool = createPool({ ...database, maxConnections: 10 })
      const vaultDb = createDatabase(vaultPool)
      let built: FastifyInstance | undefined
      // Registered before the start, so that what a failed start opened is closed too.
      const stop = once(async () => {
        await built?.close()
        await bus.close()
        await vaultDb.destroy()
      })
      stops.push(stop)
      const app = built = await buildVaultApp({
        config: { encryptionKey: Buffer.alloc(32, 7), retiredKeys: [], messageTtlMs: options.messageTtlMs ?? 60_000, sweepIntervalMs: 3_600_000, ...(options.roomShare === undefined ? {} : { roomShare: options.roomShare }) },
        logger: silent, bus, db: vaultDb, pool: vaultPool
      })
      await app.ready()
      await bus.ping()
      return { stop, sweep: async () => app.sweeper.sweep() }
    },
    async startGateway ({ port = 0, ...overrides } = {}, wrapBus = (bus: Bus) => bus) {
      const bus = wrapBus(withSubjectPrefix(await connectTestBus('gateway'), prefix))
      let built: FastifyInstance | undefined
      // Registered before the start: a port taken meanwhile (a restart on the same port) must not leave the bus open.
      const stop = once(async () => {
        await built?.close()
        await bus.close()
      })
      stops.push(stop)
      const app = built = await buildGatewayApp({ config: gatewayConfig({ ...options.gateway, ...overrides }), logger: silent, bus })
      await app.listen({ host: '127.0.0.1', port })
      const address = app.server.address()
      if (address === null || typeof address === 'string') throw new Error('no port')
      return { app, url: `http://127.0.0.1:${address.port}`, wsUrl: `ws://127.0.0.1:${address.port}/ws`, port: address.port, stop }
    }
  }
  t.teardown(async () => {
    for (const stop of stops.reverse()) await stop()
    await db.destroy()
  })
  return d
}

/** Every text frame a client received, for privacy scans. */
export const receivedFrames: string[] = []

export const nodeSocket: SessionOptions['createSocket'] = (url) => {
  const socket = new WebSocket(url)
  socket.on('message', (data: Buffer, isBinary) => { if (!isBinary) receivedFrames.push(data.toString('utf8')) })
  return socket as unknown as ReturnType<NonNullable<SessionOptions['createSocket']>>
}

const keyCache = new Map<string, Promise<RoomKeys>>()

export async function roomKeys (code: string): Promise<RoomKeys> {
  let keys = keyCache.get(code)
  if (keys === undefined) keyCache.set(code, keys = deriveRoomKeys(code))
  return keys
}

export async function newRoom (): Promise<{ code: string, keys: RoomKeys }> {
  const code = generateRoomCode()
  return { code, keys: await roomKeys(code) }
}

/** A session that records its events, closed at teardown. */
export interface Client<S extends SessionCore = ChatSession> {
  session: S
  memberSecret: string
  events: { [K in keyof SessionEvents]: Array<SessionEvents[K]> }
}

const SESSION_EVENTS = ['state', 'card', 'receipt', 'gone', 'typing', 'presence', 'error', 'queued', 'roster', 'refused'] as const satisfies ReadonlyArray<keyof SessionEvents>

function recorded<S extends SessionCore> (t: TestLike, session: S, memberSecret: string): Client<S> {
  const events = Object.fromEntries(SESSION_EVENTS.map((name) => [name, []])) as unknown as Client['events']
  for (const name of SESSION_EVENTS) session.on(name, (event) => { (events[name] as unknown[]).push(event) })
  t.teardown(() => { session.close() })
  return { session, memberSecret, events }
}

export async function connectClient (t: TestLike, url: string, keys: RoomKeys, options: Partial<SessionOptions> = {}): Promise<Client> {
  const memberSecret = options.memberSecret ?? newMemberSecret()
  const client = recorded(t, new ChatSession({ url, keys, memberSecret, createSocket: nodeSocket, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, requestTimeoutMs: 3000, ...options }), memberSecret)
  await client.session.connect()
  return client
}

/** A v2 session (MLS room), its state kept in `saved` (the web client's sessionStorage) unless `store` says otherwise. */
export async function connectClientV2 (t: TestLike, url: string | (() => string), keys: RoomKeysV2, options: Partial<SessionV2Options> = {}): Promise<Client<ChatSessionV2> & { saved: { state?: string } }> {
  const memberSecret = options.memberSecret ?? newMemberSecret()
  const saved: { state?: string } = {}
  const store = options.store ?? { load: () => saved.state, save: (state: string) => { saved.state = state } }
  const session = new ChatSessionV2({ url, keys, memberSecret, store, createSocket: nodeSocket, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, requestTimeoutMs: 5000, removalJitterMs: 200, ...options })
  const client = recorded(t, session, memberSecret)
  await session.connect()
  return { ...client, saved }
}

/**
 * A raw WebSocket that records every frame and its close code. The challenge every
 * connection gets first (for a v2 join) is kept apart, in `challenge`.
 */
export async function raw (gateway: RunningGateway, headers: Record<string, string> = {}) {
  const socket = new WebSocket(gateway.wsUrl, { headers })
  const frames: Array<Record<string, unknown>> = []
  let challenge: string | undefined
  let closeCode: number | undefined
  socket.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Record<string, unknown>
    if (frame.type === 'challenge' && typeof frame.challenge === 'string') challenge = frame.challenge
    else frames.push(frame)
  })
  socket.on('close', (code) => { closeCode = code })
  await new Promise<void>((resolve, reject) => { socket.once('open', () => { resolve() }); socket.once('error', reject) })
  return {
    socket,
    frames,
    closeCode: () => closeCode,
    /** This connection's challenge, once it arrived. */
    challenge: async () => waitFor('the challenge', () => challenge, 5000),
    send: (frame: unknown) => { socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) },
    async next (predicate: (frame: Record<string, unknown>) => boolean = () => true) {
      return waitFor('a frame', () => frames.find(predicate), 5000)
    },
    /** The first frame answering `ref`, removed from `frames` so the next one with that ref can be awaited. */
    async answer (ref: string) {
      const frame = await waitFor(`the answer to ${ref}`, () => frames.find((f) => f.ref === ref), 5000)
      frames.splice(frames.indexOf(frame), 1)
      return frame
    }
  }
}
export type RawSocket = Awaited<ReturnType<typeof raw>>
