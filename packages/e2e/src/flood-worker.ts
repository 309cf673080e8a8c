/**
 * The attacker of flood.test.ts, in a process of its own so that the honest
 * clients' measurements do not share an event loop with it: one address
 * (127.0.0.1), FLOOD_CONFIG.connections raw WebSockets joined to one room, each
 * sending valid 16 KiB envelopes at the full rate a connection is allowed (a token
 * bucket of the gateway's RATE_SEND), never revealing anything. With `garbage`,
 * each also sends malformed frames at that rate; a connection closed for too many
 * bad frames (1008) reconnects with the same member secret and carries on.
 *
 * Writes `ready` on stdout once every connection has joined; on SIGTERM closes
 * everything and writes its figures as one JSON line.
 */
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'

export interface FloodConfig {
  urls: string[]
  connections: number
  roomId: string
  garbage: boolean
  perSecond: number
  burst: number
}

export interface FloodStats {
  connectionsOpened: number
  joins: number
  sends: number
  garbage: number
  /** Answers by type (`sent`, `error:<code>`). */
  replies: Record<string, number>
  /** Closes by WebSocket close code. */
  closes: Record<string, number>
}

const config = JSON.parse(process.env.FLOOD_CONFIG ?? '{}') as FloodConfig
const stats: FloodStats = { connectionsOpened: 0, joins: 0, sends: 0, garbage: 0, replies: {}, closes: {} }
const sockets = new Set<WebSocket>()
let stopping = false
let joinedOnce = 0

/** Malformed JSON and well-formed frames of the wrong shape. */
const GARBAGE = [
  '{"v":1,"type":"send",',
  'not json at all',
  '{"v":1,"type":"send","id":42,"iv":true,"ct":[]}',
  '{"v":"1","type":"reveal","id":7}',
  '[]',
  '{"v":1,"type":"join","roomId":123,"memberSecret":null}',
  'null',
  '{"v":1,"type":"viewed","id":"' + 'x'.repeat(300) + '"}'
]

const bump = (counts: Record<string, number>, key: string): void => { counts[key] = (counts[key] ?? 0) + 1 }

function sendFrame (): string {
  return JSON.stringify({
    v: 1,
    type: 'send',
    id: randomBytes(16).toString('base64url'),
    iv: randomBytes(12).toString('base64url'),
    ct: randomBytes(16384 + 16).toString('base64url')
  })
}

function connect (index: number, memberSecret: string, first: boolean): void {
  const socket = new WebSocket(config.urls[index % config.urls.length] ?? '')
  stats.connectionsOpened++
  sockets.add(socket)
  let timer: NodeJS.Timeout | undefined
  let sendTokens = config.burst
  // Garbage starts with an empty bucket: a fresh connection is not closed by its very first burst.
  let garbageTokens = 0
  let last = 0
  let nextGarbage = index
  const tick = (): void => {
    const now = performance.now()
    const refill = ((now - last) * config.perSecond) / 1000
    last = now
    sendTokens = Math.min(config.burst, sendTokens + refill)
    garbageTokens = Math.min(config.burst, garbageTokens + refill)
    while (sendTokens >= 1 && socket.readyState === WebSocket.OPEN) {
      sendTokens--
      socket.send(sendFrame())
      stats.sends++
    }
    while (config.garbage && garbageTokens >= 1 && socket.readyState === WebSocket.OPEN) {
      garbageTokens--
      socket.send(GARBAGE[nextGarbage++ % GARBAGE.length] ?? 'null')
      stats.garbage++
    }
  }
  socket.on('open', () => {
    socket.send(JSON.stringify({ v: 1, type: 'join', ref: 'j', roomId: config.roomId, memberSecret }))
  })
  socket.on('message', (data: Buffer) => {
    // Only answers to our own frames are counted; cards and presence are read and dropped.
    const text = data.toString('utf8', 0, Math.min(data.length, 200))
    if (text.includes('"type":"joined"')) {
      stats.joins++
      if (first && ++joinedOnce === config.connections) process.stdout.write('ready\n')
      first = false
      last = performance.now()
      timer = setInterval(tick, 20)
      tick()
    } else if (text.includes('"type":"sent"')) {
      bump(stats.replies, 'sent')
    } else if (text.includes('"type":"error"')) {
      const code = /"code":"([a-z-]+)"/.exec(text)?.[1] ?? '?'
      bump(stats.replies, `error:${code}`)
      // A refused join (the vault busy or overloaded after the last flood) is asked again, as the SDK would.
      if (text.includes('"ref":"j"') && socket.readyState === WebSocket.OPEN) {
        const hint = Number(/"retryAfterMs":(\d+)/.exec(text)?.[1] ?? 200)
        setTimeout(() => { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ v: 1, type: 'join', ref: 'j', roomId: config.roomId, memberSecret })) }, Math.min(hint, 2000))
      }
    }
  })
  socket.on('error', () => { /* a close follows */ })
  socket.on('close', (code) => {
    clearInterval(timer)
    sockets.delete(socket)
    bump(stats.closes, String(code))
    if (!stopping) setTimeout(() => { connect(index, memberSecret, first) }, 100)
  })
}

process.once('SIGTERM', () => {
  stopping = true
  for (const socket of sockets) socket.close(1000, 'done')
  const finish = (): void => {
    process.stdout.write(`${JSON.stringify(stats)}\n`)
    process.exit(0)
  }
  const poll = setInterval(() => { if (sockets.size === 0) { clearInterval(poll); finish() } }, 20)
  setTimeout(finish, 2000).unref()
})

for (let i = 0; i < config.connections; i++) connect(i, randomBytes(32).toString('base64url'), true)
