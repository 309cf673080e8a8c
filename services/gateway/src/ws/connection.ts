/**
 * One WebSocket connection: validates every frame, enforces its rates, and turns
 * frames into vault requests and room events. The room id and member secret of a
 * join are turned into their hashes at once and not kept.
 */
import {
  CLOSE_CODES, codecs, errorMessage, MAX_FRAME_BYTES, MAX_VIOLATIONS_PER_CONNECTION, PATTERNS, PROTOCOL_VERSION,
  type ClientFrame, type GoneReason, type RateLimit, type ErrorCode, type Result, type ServerFrame, type VaultSuccess
} from '@ephemeral-chat/protocol'

type Stored = VaultSuccess<'message.store'>
import type { ServiceMetrics } from '@ephemeral-chat/service-kit'
import { createHash } from 'node:crypto'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { RateName } from '../config.js'
import type { VaultClient } from '../vault-client.js'
import type { RoomMember, RoomRegistry } from './rooms.js'
import type { Admission } from './admission.js'
import type { PresenceLedger } from './presence.js'
import { TokenBucket } from './token-bucket.js'
import { memberIdOfPublicKey, verifyJoinV2 } from './v2-join.js'

export interface ConnectionDeps {
  vault: VaultClient
  rooms: RoomRegistry
  metrics: ServiceMetrics
  gatewayId: string
  /** This gateway's connections as the vault should count them. */
  presence: PresenceLedger
  rates: Readonly<Record<RateName, RateLimit>>
  admission: Admission
  /** Bytes a socket may have waiting; beyond it the client is not reading and is disconnected. */
  maxBufferedBytes: number
  tooSlow: { inc (): void }
  /** v2: this connection's challenge (computed from its number: nothing is kept per connection). */
  challengeOf (connectionId: number): Buffer
}

const FRAME_OPERATION: Record<ClientFrame['type'], string> = {
  send: 'frame.send', typing: 'frame.typing', reveal: 'frame.reveal', viewed: 'frame.viewed', join: 'frame.join', leave: 'frame.leave', ping: 'frame.ping',
  'join-v2': 'frame.join-v2', 'send-v2': 'frame.send-v2', read: 'frame.read', commit: 'frame.commit', group: 'frame.group'
}

/** Frames of one protocol version only; `viewed`, `typing`, `leave` and `ping` serve both. */
const V1_ONLY: ReadonlySet<ClientFrame['type']> = new Set(['send', 'reveal'])
const V2_ONLY: ReadonlySet<ClientFrame['type']> = new Set(['send-v2', 'read', 'commit', 'group'])

/** Failures of a catch-up join that pass: it is asked again (see resync). */
const RETRIED_CATCH_UP: ReadonlySet<ErrorCode> = new Set(['unavailable', 'room-busy', 'internal'])

/** A failed v2 join counts as this many bad frames: a connection gets three tries. */
const FAILED_JOIN_V2_WEIGHT = Math.ceil(MAX_VIOLATIONS_PER_CONNECTION / 3) + 1

/** Sends remembered per connection to recognise retries: the SDK's whole outbox fits. */
const RECENT_SENDS = 32

const RATE_OF: Record<ClientFrame['type'], RateName> = {
  send: 'send', typing: 'typing', reveal: 'reveal', viewed: 'reveal', join: 'control', leave: 'control', ping: 'control',
  // A commit costs what a send does (and its bytes come from the room's share at the vault).
  'join-v2': 'control', 'send-v2': 'send', read: 'reveal', commit: 'send', group: 'control'
}

export function roomHashOf (roomId: string): string {
  return createHash('sha256').update(Buffer.from(roomId, 'base64url')).digest('hex')
}

export function memberIdOf (memberSecret: string): string {
  return createHash('sha256').update(Buffer.from(memberSecret, 'base64url')).digest().subarray(0, 16).toString('base64url')
}

/**
 * Frames for one socket within one turn of the event loop leave in one write: a burst of
 * events for a member costs one system call instead of one per frame.
 */
const corked = new Set<Socket>()

function cork (tcp: Socket): void {
  if (corked.has(tcp)) return
  if (corked.size === 0) setImmediate(uncorkAll)
  tcp.cork()
  corked.add(tcp)
}

function uncorkAll (): void {
  for (const tcp of corked) tcp.uncork()
  corked.clear()
}

/** The connection a socket belongs to; listeners are shared functions (one closure per socket each would cost memory). */
const CONNECTION = Symbol('connection')
type Owned = WebSocket & { [CONNECTION]?: Connection }

function onMessage (this: Owned, data: Buffer, isBinary: boolean): void {
  void this[CONNECTION]?.receive(data, isBinary)
}

function onPong (this: Owned): void {
  const connection = this[CONNECTION]
  if (connection !== undefined) connection.alive = true
}

export class Connection implements RoomMember {
  readonly #socket: WebSocket
  readonly #deps: ConnectionDeps
  /** Created on first use: an idle connection only ever used its join. */
  readonly #buckets: Partial<Record<RateName, TokenBucket>> = {}
  #violations = 0
  /** Ids of this connection's latest sends (created on its first send), to tell a retry from a new message. */
  #recentSends: string[] | undefined
  #roomHash: string | undefined
  #memberId = ''
  /** The protocol version of the room joined (1 or 2; 0 before a join). */
  #protocol = 0
  #joining = false
  /** Answered by pong; a socket that misses one ping interval is reaped. */
  alive = true
  #closed = false
  #whenClosed: Array<() => void> | undefined

  /** The TCP socket under the WebSocket: corked while frames for it accumulate within one turn of the event loop. */
  readonly #tcp: Socket

  /** This connection's number at this gateway: its presence row at the vault is its own. */
  readonly #id: number

  constructor (socket: WebSocket, tcp: Socket, deps: ConnectionDeps) {
    this.#id = deps.presence.nextConnectionId()
    this.#socket = socket
    this.#tcp = tcp
    this.#deps = deps
    ;(socket as Owned)[CONNECTION] = this
    socket.on('message', onMessage)
    socket.on('pong', onPong)
    // v2 joins sign it; v1 clients ignore it.
    this.deliver({ v: PROTOCOL_VERSION, type: 'challenge', challenge: deps.challengeOf(this.#id).toString('base64url') })
  }

  /** Resolves once the socket closed and the vault was told. */
  async whenClosed (): Promise<void> {
    if (this.#closed) return
    await new Promise<void>((resolve) => { (this.#whenClosed ??= []).push(resolve) })
  }

  ping (): void {
    this.#socket.ping()
  }

  terminate (): void {
    this.#socket.terminate()
  }

  get memberId (): string {
    return this.#memberId
  }

  deliver (frame: ServerFrame): void {
    if (!this.#writable()) return
    cork(this.#tcp)
    this.#socket.send(JSON.stringify(frame))
  }

  deliverEncoded (frame: Buffer): void {
    if (!this.#writable()) return
    cork(this.#tcp)
    this.#socket.send(frame, { binary: false })
  }

  /** Open and keeping up. A client that does not read would otherwise hold ever more of our memory: it is cut off. */
  #writable (): boolean {
    if (this.#socket.readyState !== this.#socket.OPEN) return false
    if (this.#socket.bufferedAmount <= this.#deps.maxBufferedBytes) return true
    this.#deps.tooSlow.inc()
    // Not a close frame: it would queue behind everything the client is not reading.
    this.#socket.terminate()
    return false
  }

  close (code: number, reason: string): void {
    this.#socket.close(code, reason)
  }

  /** Called once the socket closed: the member stays in the room as disconnected. */
  async closed (): Promise<void> {
    try {
      const roomHash = this.#roomHash
      if (roomHash === undefined) return
      const memberId = this.#memberId
      this.#deps.rooms.remove(roomHash, this)
      this.#deps.presence.remove(this.#id)
      this.#roomHash = undefined
      // A join still in flight sends the disconnect itself once the vault has answered it.
      if (this.#joining) return
      // Should this be lost (NATS down), the next heartbeat's digest reconciles it.
      await this.#deps.vault.leave({ roomHash, memberId, gatewayId: this.#deps.gatewayId, connectionId: this.#id, mode: 'disconnect' })
    } finally {
      this.#closed = true
      for (const resolve of this.#whenClosed?.splice(0) ?? []) resolve()
    }
  }

  /** Whether this connection sent `id` before (recently); remembers it. */
  #seen (id: string): boolean {
    const recent = (this.#recentSends ??= [])
    if (recent.includes(id)) return true
    recent.push(id)
    if (recent.length > RECENT_SENDS) recent.shift()
    return false
  }

  /** About when the next token of `rate` is there, as a retry hint. */
  #refillMs (rate: RateName): number {
    return Math.ceil(1000 / this.#deps.rates[rate].perSecond)
  }

  #bucket (rate: RateName): TokenBucket {
    return (this.#buckets[rate] ??= new TokenBucket(this.#deps.rates[rate]))
  }

  #fail (code: ErrorCode, ref: string | undefined, id?: string, retryAfterMs?: number): void {
    this.deliver({
      v: PROTOCOL_VERSION, type: 'error', ...(ref === undefined ? {} : { ref }), ...(id === undefined ? {} : { id }),
      code, message: errorMessage(code), ...(retryAfterMs === undefined ? {} : { retryAfterMs })
    })
  }

  /** Counts a bad frame or rate overrun (`weight` of them); too many closes the connection with 1008. */
  #violation (weight = 1): void {
    this.#violations += weight
    if (this.#violations > MAX_VIOLATIONS_PER_CONNECTION) this.close(CLOSE_CODES.policyViolation, 'too many bad frames')
  }

  async receive (data: Buffer, isBinary: boolean): Promise<void> {
    const decoded = isBinary ? { ok: false as const, code: 'bad-frame' as const } : codecs.clientFrame.decode(data, MAX_FRAME_BYTES)
    if (!decoded.ok) {
      this.#deps.metrics.observe('frame', decoded.code, 0)
      this.#fail(decoded.code, refOf(data))
      this.#violation()
      return
    }
    const frame = decoded.value
    // A resend of a message this connection already tried is a retry, whatever the outcome: never abuse.
    const isSend = frame.type === 'send' || frame.type === 'send-v2'
    const retry = isSend && this.#seen(frame.id)
    if (!this.#bucket(RATE_OF[frame.type]).take()) {
      this.#deps.metrics.observe(FRAME_OPERATION[frame.type], 'rate-limited', 0)
      if (frame.type !== 'typing') this.#fail('rate-limited', 'ref' in frame ? frame.ref : undefined, isSend ? frame.id : undefined, retry ? this.#refillMs(RATE_OF[frame.type]) : undefined)
      if (!retry) this.#violation()
      return
    }
    const started = performance.now()
    const outcome = await this.#handle(frame)
    this.#deps.metrics.observe(FRAME_OPERATION[frame.type], outcome, (performance.now() - started) / 1000)
  }

  async #handle (frame: ClientFrame): Promise<string> {
    const ref = 'ref' in frame ? frame.ref : undefined
    const v = PROTOCOL_VERSION
    const answer = (code: ErrorCode, id?: string, retryAfterMs?: number): string => { this.#fail(code, ref, id, retryAfterMs); return code }

    if (frame.type === 'ping') {
      this.deliver({ v, type: 'pong', ...(ref === undefined ? {} : { ref }) })
      return 'ok'
    }
    // New work (joins, sends) passes admission; reveals and confirmations finish what was admitted.
    if (frame.type === 'join' || frame.type === 'join-v2') {
      if (this.#roomHash !== undefined || this.#joining) return answer('already-joined')
      let memberId: string
      if (frame.type === 'join') {
        memberId = memberIdOf(frame.memberSecret)
      } else {
        // The member proves it holds the key that names it, over this connection's challenge and this room.
        const publicKey = Buffer.from(frame.publicKey, 'base64url')
        if (!verifyJoinV2(publicKey, this.#deps.challengeOf(this.#id), Buffer.from(frame.roomId, 'base64url'), Buffer.from(frame.signature, 'base64url'))) {
          // A signature check is the dearest thing an unjoined client can ask for: the third failure closes the connection.
          this.#violation(FAILED_JOIN_V2_WEIGHT)
          return answer('bad-frame')
        }
        memberId = memberIdOfPublicKey(publicKey)
      }
      const { admission } = this.#deps
      if (!admission.enter()) return answer('unavailable', undefined, admission.retryAfterMs())
      const started = performance.now()
      try {
        return await this.#join(roomHashOf(frame.roomId), memberId, frame.type === 'join' ? 1 : 2, ref)
      } finally {
        admission.leave(started)
      }
    }
    const roomHash = this.#roomHash
    const memberId = this.#memberId
    if (roomHash === undefined) return answer('not-joined')
    if ((this.#protocol === 1 && V2_ONLY.has(frame.type)) || (this.#protocol === 2 && V1_ONLY.has(frame.type))) return answer('protocol-mismatch')
    const refPart = ref === undefined ? {} : { ref }

    switch (frame.type) {
      case 'send':
        // The vault announces the card to the room itself once the message is stored.
        return this.#store(roomHash, frame.id, ref, async () => this.#deps.vault.store({ roomHash, memberId, id: frame.id, iv: frame.iv, ct: frame.ct }))
      case 'send-v2':
        return this.#store(roomHash, frame.id, ref, async () => this.#deps.vault.send({ roomHash, memberId, id: frame.id, epoch: frame.epoch, message: frame.message }))
      case 'read': {
        const read = await this.#deps.vault.read({ roomHash, memberId, id: frame.id })
        if (!read.ok) return answer(read.code, frame.id, read.retryAfterMs)
        this.deliver({ v, type: 'payload-v2', ...refPart, id: frame.id, message: read.value.message })
        return 'ok'
      }
      case 'commit': {
        const { admission } = this.#deps
        if (!admission.enter()) return answer('unavailable', undefined, admission.retryAfterMs())
        const started = performance.now()
        const committed = await this.#deps.vault.commit({
          roomHash, memberId, groupId: frame.groupId, epoch: frame.epoch, groupInfo: frame.groupInfo,
          ...(frame.handshake === undefined ? {} : { handshake: frame.handshake }), ...(frame.removed === undefined ? {} : { removed: frame.removed })
        })
        admission.leave(started)
        if (!committed.ok) return answer(committed.code, undefined, committed.retryAfterMs)
        this.deliver({ v, type: 'committed', ...refPart, epoch: committed.value.epoch })
        return 'ok'
      }
      case 'group': {
        const state = await this.#deps.vault.state({ roomHash, memberId, ...(frame.since === undefined ? {} : { since: frame.since }) })
        if (!state.ok) return answer(state.code, undefined, state.retryAfterMs)
        this.deliver({ v, type: 'group', ...refPart, ...state.value })
        return 'ok'
      }
      case 'reveal': {
        const fetched = await this.#deps.vault.fetch({ roomHash, memberId, id: frame.id })
        if (!fetched.ok) return answer(fetched.code, frame.id, fetched.retryAfterMs)
        this.deliver({ v, type: 'payload', ...refPart, id: frame.id, iv: fetched.value.iv, ct: fetched.value.ct })
        return 'ok'
      }
      case 'viewed': {
        const acked = await this.#deps.vault.ack({ roomHash, memberId, id: frame.id })
        if (!acked.ok) return answer(acked.code, frame.id, acked.retryAfterMs)
        this.deliver({ v, type: 'viewed', ...refPart, id: frame.id, remaining: acked.value.remaining })
        return 'ok'
      }
      case 'typing':
        this.#deps.rooms.publish(roomHash, { v, type: 'typing', from: memberId, active: frame.active })
        return 'ok'
      case 'leave': {
        const left = await this.#deps.vault.leave({ roomHash, memberId, gatewayId: this.#deps.gatewayId, connectionId: this.#id, mode: 'leave' })
        if (!left.ok) return answer(left.code)
        this.#deps.rooms.remove(roomHash, this)
        this.#deps.presence.remove(this.#id)
        this.#roomHash = undefined
        // v2: the member's leaf stays in the room's MLS group until a member commits its removal;
        // the same event as the sweeper's for a forgotten member asks them to.
        if (this.#protocol === 2) this.#deps.rooms.publish(roomHash, { v, type: 'absent', memberId })
        this.deliver({ v, type: 'left', ...refPart })
        return 'ok'
      }
    }
  }

  /**
   * A send of either version: refused at once while the vault has called the room busy, admitted as new
   * work, then answered `sent` (or the vault's refusal, whose busy hint the room remembers).
   */
  async #store (roomHash: string, id: string, ref: string | undefined, store: () => Promise<Result<Stored>>): Promise<string> {
    const { admission, rooms } = this.#deps
    const busyMs = rooms.busyForMs(roomHash)
    if (busyMs > 0) { this.#fail('room-busy', ref, id, busyMs); return 'room-busy' }
    if (!admission.enter()) { this.#fail('unavailable', ref, id, admission.retryAfterMs()); return 'unavailable' }
    const started = performance.now()
    const stored = await store()
    admission.leave(started)
    if (!stored.ok) {
      if (stored.code === 'room-busy' && stored.retryAfterMs !== undefined) rooms.noteBusy(roomHash, stored.retryAfterMs)
      this.#fail(stored.code, ref, id, stored.retryAfterMs)
      return stored.code
    }
    const { recipients, expiresAt, gone } = stored.value
    this.deliver({ v: PROTOCOL_VERSION, type: 'sent', ...(ref === undefined ? {} : { ref }), id, recipients: recipients.length, expiresAt, ...(gone === undefined ? {} : { gone }) })
    return 'ok'
  }

  /** Receipts and deletions of this member's own messages that it may have missed while away. */
  #catchUp (joined: { receipts: Array<{ id: string, remaining: number }>, gone: Array<{ id: string, reason: GoneReason }> }): void {
    for (const { id, remaining } of joined.receipts) this.deliver({ v: PROTOCOL_VERSION, type: 'viewed', id, remaining })
    for (const { id, reason } of joined.gone) this.deliver({ v: PROTOCOL_VERSION, type: 'gone', id, reason })
  }

  /**
   * After the bus reconnected: events published meanwhile may never have reached us. Joining
   * again (the same connection: presence does not change) brings back the pending cards (the
   * client drops the ones it has), the count, and this member's receipts and deletions.
   */
  async resync (): Promise<'done' | 'retry'> {
    const roomHash = this.#roomHash
    if (roomHash === undefined || this.#joining || this.#closed) return 'done'
    const joined = await this.#deps.vault.join({ roomHash, memberId: this.#memberId, gatewayId: this.#deps.gatewayId, connectionId: this.#id, protocol: this.#protocol === 2 ? 2 : 1 })
    if (this.#roomHash !== roomHash) return 'done'
    // Right after NATS comes back the vaults may not have reconnected yet ("unavailable"): the
    // caller asks again, or cards published meanwhile would never reach this member. A refusal
    // that lasts (room-full, …) is not asked again: the member keeps what it has.
    if (!joined.ok) return RETRIED_CATCH_UP.has(joined.code) ? 'retry' : 'done'
    for (const card of joined.value.pending) this.deliver({ v: PROTOCOL_VERSION, type: 'message', ...card })
    const presence = this.#deps.rooms.notePresence(roomHash, joined.value.presenceVersion, joined.value.members)
    if (presence.news) this.#deps.rooms.broadcastPresence(roomHash, presence.members)
    this.#catchUp(joined.value)
    return 'done'
  }

  async #join (joiningHash: string, memberId: string, protocol: 1 | 2, ref: string | undefined): Promise<string> {
    this.#joining = true
    this.#memberId = memberId
    this.#protocol = protocol
    // Subscribe before asking the vault, so no event published after the join is missed.
    const roomHash = this.#deps.rooms.add(joiningHash, this)
    this.#roomHash = roomHash
    // In the ledger from now: a join the vault commits after we gave up on it is reconciled away.
    this.#deps.presence.add(this.#id, roomHash, memberId)
    const joined = await this.#deps.vault.join({ roomHash, memberId, gatewayId: this.#deps.gatewayId, connectionId: this.#id, protocol })
    this.#joining = false
    if (!joined.ok) {
      this.#deps.rooms.remove(roomHash, this)
      this.#deps.presence.remove(this.#id)
      this.#roomHash = undefined
      this.#fail(joined.code, ref, undefined, joined.retryAfterMs)
      return joined.code
    }
    if (this.#roomHash === undefined) {
      // The socket closed while the vault was joining it: undo the presence it just counted.
      await this.#deps.vault.leave({ roomHash, memberId, gatewayId: this.#deps.gatewayId, connectionId: this.#id, mode: 'disconnect' })
      return 'closed'
    }
    // Events of the room may have overtaken the answer: the member gets the latest count of the
    // two, and when the answer's is the latest, the others here get it too.
    const presence = this.#deps.rooms.notePresence(roomHash, joined.value.presenceVersion, joined.value.members)
    if (presence.news) this.#deps.rooms.broadcastPresence(roomHash, presence.members, this)
    this.deliver({
      v: PROTOCOL_VERSION, type: 'joined', ...(ref === undefined ? {} : { ref }), memberId, members: presence.members, pending: joined.value.pending,
      ...(joined.value.groupEpoch === undefined ? {} : { groupEpoch: joined.value.groupEpoch })
    })
    this.#catchUp(joined.value)
    return 'ok'
  }
}

const REF = new RegExp(PATTERNS.ref)

/** The `ref` of a frame that failed validation, when it has a usable one, so the client can match the error. */
function refOf (data: Buffer): string | undefined {
  try {
    const value = JSON.parse(data.toString('utf8')) as unknown
    const ref = typeof value === 'object' && value !== null ? (value as { ref?: unknown }).ref : undefined
    return typeof ref === 'string' && REF.test(ref) ? ref : undefined
  } catch {
    return undefined
  }
}
