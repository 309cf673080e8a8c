/**
 * Scenario 2: gateway memory per idle connection. One gateway in a child
 * process; C raw WebSockets (the bench's own, so client memory stays out of the
 * gateway's figure) each join a room as a distinct member and then stay idle.
 * The gateway's RSS after a forced GC, before and after, divided by C.
 */
import { deriveRoomKeys, generateRoomCode, newMemberSecret } from '@ephemeral-chat/client'
import { codecs, PROTOCOL_VERSION, type ClientFrame } from '@ephemeral-chat/protocol'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { GatewayProcess, type MemorySample } from './gateway-process.js'
import { mapLimit, percentile, say, sortedCopy, within, type Cleanup } from './support.js'

export interface IdleMemoryOptions {
  natsUrl: string
  subjectPrefix: string
  connections: number
  membersPerRoom: number
  joinsInFlight: number
  timeoutMs: number
  settleMs: number
}

export interface IdleMemoryResult {
  connections: number
  rooms: number
  before: MemorySample
  after: MemorySample
  gatewayCountsConnections: number
  deriveSeconds: number
  joinSeconds: number
  joinLatencyMs: number[]
}

/** Opens a socket and joins; resolves with the open socket once `joined` arrives. */
async function joinOne (url: string, roomId: string, timeoutMs: number, sockets: Set<WebSocket>): Promise<void> {
  const socket = new WebSocket(url, { perMessageDeflate: false })
  sockets.add(socket)
  // Errors surface as a close; without a listener an `error` event would crash the bench.
  socket.on('error', () => {})
  const joined = new Promise<void>((resolve, reject) => {
    socket.on('message', (data: Buffer) => {
      const decoded = codecs.serverFrame.decode(data.toString('utf8'))
      if (!decoded.ok || !('ref' in decoded.value) || decoded.value.ref !== 'j') return
      socket.removeAllListeners('message')
      if (decoded.value.type === 'joined') resolve()
      else reject(new Error(`join refused: ${decoded.value.type === 'error' ? decoded.value.code : decoded.value.type}`))
    })
    socket.once('close', (code) => { reject(new Error(`socket closed with ${code} before joining`)) })
  })
  // Awaited below; this only keeps an early close (before `open`) from being an unhandled rejection.
  joined.catch(() => {})
  await within(timeoutMs, 'one join', (async () => {
    await once(socket, 'open')
    const frame: ClientFrame = { v: PROTOCOL_VERSION, type: 'join', ref: 'j', roomId, memberSecret: newMemberSecret() }
    socket.send(JSON.stringify(frame))
    await joined
  })())
}

export async function measureIdleMemory (options: IdleMemoryOptions, cleanup: Cleanup): Promise<IdleMemoryResult> {
  const { connections, membersPerRoom, timeoutMs } = options
  const rooms = Math.ceil(connections / membersPerRoom)

  say(`idle memory: deriving ${rooms} room keys (PBKDF2, 600 000 iterations each)…`)
  const deriveStarted = performance.now()
  // A few at a time: PBKDF2 runs on libuv's thread pool, and a queue of hundreds would hold up anything else that needs it.
  const roomIds = await within(timeoutMs * 4, `deriving ${rooms} room keys`, mapLimit(rooms, 4, async () => (await deriveRoomKeys(generateRoomCode())).roomId))
  const deriveSeconds = (performance.now() - deriveStarted) / 1000

  const gateway = await GatewayProcess.start({
    natsUrl: options.natsUrl, subjectPrefix: options.subjectPrefix,
    maxConnectionsPerAddress: connections + 100, startTimeoutMs: 20_000
  })
  cleanup.add('stop the gateway process', async () => { await gateway.stop(20_000) })
  const sockets = new Set<WebSocket>()
  cleanup.add('close the idle sockets', () => { for (const socket of sockets) socket.terminate() })

  const before = await gateway.settledMemory(options.settleMs)
  say(`idle memory: gateway pid ${gateway.pid} ready, RSS ${(before.rssKiB / 1024).toFixed(1)} MiB; opening ${connections} connections, ${options.joinsInFlight} joins in flight…`)

  const joinLatencyMs: number[] = []
  const started = performance.now()
  await within(timeoutMs * 4, `opening ${connections} connections`, mapLimit(connections, options.joinsInFlight, async (i) => {
    const t0 = performance.now()
    try {
      await joinOne(gateway.wsUrl, roomIds[Math.floor(i / membersPerRoom)] as string, timeoutMs, sockets)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw new Error(`connection ${i + 1} of ${connections} failed (${reason})${gateway.running ? '' : `; the gateway process exited: ${gateway.output}`}`)
    }
    joinLatencyMs.push(performance.now() - t0)
  }))
  const joinSeconds = (performance.now() - started) / 1000
  say(`idle memory: ${connections} joined in ${joinSeconds.toFixed(1)} s; letting presence fan-out settle, then GC…`)

  const after = await gateway.settledMemory(options.settleMs)
  const gatewayCountsConnections = await gateway.connections()
  if (gatewayCountsConnections !== connections) throw new Error(`the gateway counts ${gatewayCountsConnections} connections, expected ${connections}`)

  // Graceful shutdown with the sockets still open: the gateway closes them with 1001 and tells the vault.
  await gateway.stop(20_000)
  for (const socket of sockets) socket.terminate()

  return { connections, rooms, before, after, gatewayCountsConnections, deriveSeconds, joinSeconds, joinLatencyMs: sortedCopy(joinLatencyMs) }
}

export function describeIdleMemory (r: IdleMemoryResult): Array<[string, string]> {
  const perConnection = (before: number, after: number): string => `${((after - before) / r.connections).toFixed(2)} KiB`
  const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`
  return [
    ['idle connections (gateway /metrics)', `${r.gatewayCountsConnections} in ${r.rooms} rooms`],
    ['gateway RSS before → after', `${mib(r.before.rssKiB)} → ${mib(r.after.rssKiB)}`],
    ['RSS per idle connection', perConnection(r.before.rssKiB, r.after.rssKiB)],
    ['V8 heap used per idle connection', perConnection(r.before.heapUsedKiB, r.after.heapUsedKiB)],
    ['external (Buffers) per idle connection', perConnection(r.before.externalKiB, r.after.externalKiB)],
    ['joins per second / p50 / p99', `${(r.connections / r.joinSeconds).toFixed(0)} / ${percentile(r.joinLatencyMs, 0.5).toFixed(1)} ms / ${percentile(r.joinLatencyMs, 0.99).toFixed(1)} ms`],
    ['room key derivation (bench side)', `${r.rooms} rooms in ${r.deriveSeconds.toFixed(1)} s`]
  ]
}
