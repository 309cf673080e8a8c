/**
 * The floor: a bare `ws` server (run as its own process by the bench) that
 * answers the product's frames from memory, with no validation, no database and
 * no bus. What it reaches is what node + ws can do for this protocol on this
 * machine; the product can only be slower.
 *
 * PORT chooses the port (127.0.0.1); GET /readyz answers 200 once it listens.
 */
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, type Card, type ClientFrame, type ServerFrame } from '@ephemeral-chat/protocol'
import { createServer } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'

const TTL_MS = 24 * 60 * 60 * 1000
const v = PROTOCOL_VERSION

interface Message {
  card: Card
  iv: string
  ct: string
  room: Room
  /** Recipients that have not yet viewed it. */
  unviewed: Set<string>
}

interface Room {
  /** Every member that ever joined, as in the vault (members stay across disconnects). */
  members: Set<string>
  connections: Set<Connection>
  messages: Set<Message>
  /** Sent while nobody else was a member: they go to the next member who joins. */
  waiting: Message[]
}

interface Connection {
  socket: WebSocket
  room: Room | undefined
  memberId: string
}

const rooms = new Map<string, Room>()
const messages = new Map<string, Message>()

function deliver (connection: Connection, frame: ServerFrame): void {
  connection.socket.send(JSON.stringify(frame))
}

function toRoom (room: Room, frame: ServerFrame, only?: (connection: Connection) => boolean): void {
  const text = JSON.stringify(frame)
  for (const connection of room.connections) {
    if (only === undefined || only(connection)) connection.socket.send(text)
  }
}

function join (connection: Connection, roomId: string, memberSecret: string, ref: string | undefined): void {
  let room = rooms.get(roomId)
  if (room === undefined) {
    room = { members: new Set(), connections: new Set(), messages: new Set(), waiting: [] }
    rooms.set(roomId, room)
  }
  // Any stable 22 characters do as a member id here; the product hashes the secret.
  const memberId = memberSecret.slice(0, 22)
  connection.room = room
  connection.memberId = memberId
  room.members.add(memberId)
  room.connections.add(connection)
  const stillWaiting: Message[] = []
  for (const message of room.waiting) {
    if (message.card.from === memberId) stillWaiting.push(message)
    else message.unviewed.add(memberId)
  }
  room.waiting = stillWaiting
  const pending: Card[] = []
  for (const message of room.messages) if (message.unviewed.has(memberId)) pending.push(message.card)
  deliver(connection, { v, type: 'joined', ...(ref === undefined ? {} : { ref }), memberId, members: room.connections.size, pending })
  toRoom(room, { v, type: 'presence', members: room.connections.size })
}

function send (connection: Connection, room: Room, frame: Extract<ClientFrame, { type: 'send' }>): void {
  const card: Card = { id: frame.id, from: connection.memberId, bucket: 256, expiresAt: Date.now() + TTL_MS }
  const unviewed = new Set<string>()
  for (const member of room.members) if (member !== connection.memberId) unviewed.add(member)
  const message: Message = { card, iv: frame.iv, ct: frame.ct, room, unviewed }
  messages.set(frame.id, message)
  room.messages.add(message)
  if (unviewed.size === 0) room.waiting.push(message)
  toRoom(room, { v, type: 'message', ...card }, (c) => unviewed.has(c.memberId))
  deliver(connection, { v, type: 'sent', ...(frame.ref === undefined ? {} : { ref: frame.ref }), id: frame.id, recipients: unviewed.size, expiresAt: card.expiresAt })
}

function viewed (connection: Connection, message: Message, ref: string | undefined): void {
  const { room, card } = message
  message.unviewed.delete(connection.memberId)
  const remaining = message.unviewed.size
  deliver(connection, { v, type: 'viewed', ...(ref === undefined ? {} : { ref }), id: card.id, remaining })
  toRoom(room, { v, type: 'viewed', id: card.id, remaining }, (c) => c.memberId === card.from)
  if (remaining === 0) {
    messages.delete(card.id)
    room.messages.delete(message)
    toRoom(room, { v, type: 'gone', id: card.id, reason: 'viewed' })
  }
}

function fail (connection: Connection, ref: string | undefined, code: 'not-joined' | 'not-found' | 'not-recipient', id?: string): void {
  deliver(connection, { v, type: 'error', ...(ref === undefined ? {} : { ref }), ...(id === undefined ? {} : { id }), code, message: code })
}

function receive (connection: Connection, frame: ClientFrame): void {
  const ref = 'ref' in frame ? frame.ref : undefined
  if (frame.type === 'join') { join(connection, frame.roomId, frame.memberSecret, ref); return }
  if (frame.type === 'ping') { deliver(connection, { v, type: 'pong', ...(ref === undefined ? {} : { ref }) }); return }
  const room = connection.room
  if (room === undefined) { fail(connection, ref, 'not-joined'); return }
  switch (frame.type) {
    case 'send':
      send(connection, room, frame)
      return
    case 'reveal': {
      const message = messages.get(frame.id)
      if (message === undefined) { fail(connection, ref, 'not-found', frame.id); return }
      if (!message.unviewed.has(connection.memberId)) { fail(connection, ref, 'not-recipient', frame.id); return }
      deliver(connection, { v, type: 'payload', ...(ref === undefined ? {} : { ref }), id: frame.id, iv: message.iv, ct: message.ct })
      return
    }
    case 'viewed': {
      const message = messages.get(frame.id)
      if (message === undefined) { fail(connection, ref, 'not-found', frame.id); return }
      viewed(connection, message, ref)
      return
    }
    case 'typing':
      toRoom(room, { v, type: 'typing', from: connection.memberId, active: frame.active }, (c) => c !== connection)
      return
    case 'leave':
      room.members.delete(connection.memberId)
      room.connections.delete(connection)
      connection.room = undefined
      deliver(connection, { v, type: 'left', ...(ref === undefined ? {} : { ref }) })
      toRoom(room, { v, type: 'presence', members: room.connections.size })
  }
}

const http = createServer((request, response) => {
  response.writeHead(request.url === '/readyz' ? 200 : 404, { 'content-type': 'application/json' })
  response.end(request.url === '/readyz' ? '{"status":"ready"}' : '{}')
})
const server = new WebSocketServer({ server: http, path: '/ws', perMessageDeflate: false, maxPayload: MAX_FRAME_BYTES })
server.on('connection', (socket) => {
  const connection: Connection = { socket, room: undefined, memberId: '' }
  socket.on('error', () => {})
  socket.on('message', (data: Buffer) => {
    let frame: ClientFrame
    try {
      frame = JSON.parse(data.toString('utf8')) as ClientFrame
    } catch {
      return
    }
    receive(connection, frame)
  })
  socket.on('close', () => {
    const room = connection.room
    if (room === undefined) return
    room.connections.delete(connection)
    toRoom(room, { v, type: 'presence', members: room.connections.size })
  })
})
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = http.address()
  process.stdout.write(`floor listening on ${typeof address === 'object' && address !== null ? address.port : '?'}\n`)
})
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const client of server.clients) client.terminate()
    http.close(() => { process.exit(0) })
    setTimeout(() => { process.exit(0) }, 1000).unref()
  })
}
