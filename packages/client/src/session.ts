/**
 * The client end of the WebSocket protocol: one room per session. Seals before
 * sending, opens after revealing, retries sends with the same message id until
 * the vault has them, and reconnects with jittered backoff, rejoining with the
 * same member secret so pending cards come back.
 */
import { codecs, PROTOCOL_VERSION, type Card, type ClientFrame, type ErrorCode, type GoneReason, type ServerFrame } from '@ephemeral-chat/protocol'
import { Emitter } from './emitter.js'
import { openMessage, sealMessage, type MessagePayload, type SealedEnvelope } from './envelope.js'
import type { RoomKeys } from './keys.js'
import { newMessageId } from './member.js'
import { defaultSocketFactory, SOCKET_OPEN, type SocketFactory, type SocketLike } from './socket.js'

export type SessionState = 'connecting' | 'joined' | 'reconnecting' | 'closed'

export interface SessionEvents {
  /** Connection state changes; `code` is the close code that caused it, if any. */
  state: { state: SessionState, code?: number, error?: SessionErrorCode }
  /** A message addressed to this member: no text until revealed. */
  card: Card
  /** A recipient viewed one of this member's messages. */
  receipt: { id: string, remaining: number }
  /** A message no longer exists. */
  gone: { id: string, reason: GoneReason }
  typing: { from: string, active: boolean }
  presence: { members: number }
  /** An error the server reported outside any request of this session. */
  error: { code: ErrorCode }
  /** v2: a message waits on this device until someone else is in the room's group (it is sent then). */
  queued: { id: string }
  /** v2: the members of the room's group and their fingerprints, after every change. */
  roster: { members: Array<{ memberId: string, fingerprint: string, self: boolean }> }
  /** v2: a commit this member refused (it is not applied; the member joins the group again). */
  refused: { reason: string }
}

/** `group-failed` (v2): this member could not get into the room's MLS group (its state refused every way in). */
export type SessionErrorCode = ErrorCode | 'closed' | 'timeout' | 'group-failed'

export class SessionError extends Error {
  readonly code: SessionErrorCode
  /** For send failures: the message id to pass to `retrySend`. */
  readonly id: string | undefined
  /** The server's hint (with `unavailable`): trying again sooner is pointless. */
  readonly retryAfterMs: number | undefined

  constructor (code: SessionErrorCode, message: string, id?: string, retryAfterMs?: number) {
    super(message)
    this.name = 'SessionError'
    this.code = code
    this.id = id
    this.retryAfterMs = retryAfterMs
  }
}

export interface SessionOptions extends ConnectionOptions {
  keys: RoomKeys
  /** This member's secret for the room; keep it to stay the same member across reconnects and reloads. */
  memberSecret: string
}

/** An opened message; v2 adds its sender's fingerprint, checked against the card's `from`. */
export interface RevealedMessage extends MessagePayload {
  /** v2: the sender's fingerprint in this room (architecture §10). */
  fingerprint?: string
}

export interface SentMessage {
  id: string
  /** 0 when nobody else is in the room yet: the next member to join receives it. */
  recipients: number
  expiresAt: number
  /** Set when an earlier attempt had stored it and it has since been deleted (it is not stored again). */
  gone?: GoneReason
}

export type Expect<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>

interface PendingRequest {
  expect: ServerFrame['type']
  resolve (frame: ServerFrame): void
  reject (error: SessionError): void
  timer: ReturnType<typeof setTimeout>
}

/** Errors after which the same request may succeed later. */
export const RETRYABLE: ReadonlySet<SessionErrorCode> = new Set(['unavailable', 'closed', 'timeout', 'rate-limited', 'room-busy', 'internal'])
/** Join answers that end the session: retrying cannot help. */
const TERMINAL_JOIN: ReadonlySet<SessionErrorCode> = new Set(['room-full', 'bad-frame', 'unsupported-version', 'protocol-mismatch', 'group-failed'])
/** Card ids a session remembers (so a card is announced once), oldest forgotten first. */
const KNOWN_CARDS_LIMIT = 10_000

/** The options every session takes, whichever protocol version. */
export interface ConnectionOptions {
  /** WebSocket URL of a gateway, e.g. `wss://chat.example/ws`, or a function asked before every (re)connection. */
  url: string | (() => string)
  nick?: string
  createSocket?: SocketFactory
  /** How long a request waits for its answer (default 10 s). */
  requestTimeoutMs?: number
  /** Reconnect backoff: full jitter between 0 and min(max, initial × 2^attempt). */
  reconnect?: { initialDelayMs?: number, maxDelayMs?: number }
  /** Send attempts before `send` gives up and leaves the message for `retrySend` (default 6). */
  sendAttempts?: number
}

export type JoinedFrame = Expect<'joined'>

/**
 * The connection under a session of either protocol version: one socket at a time, requests
 * matched to answers by `ref`, reconnects with jittered backoff, a join on every connection
 * (the subclass's `joinRoom`), cards announced once, and the shared frames (`viewed`,
 * `typing`, `leave`). Frames it does not handle go to `frame`.
 */
export abstract class SessionCore extends Emitter<SessionEvents> {
  readonly #url: () => string
  protected readonly settings: { nick: string, requestTimeoutMs: number, sendAttempts: number, initialDelayMs: number, maxDelayMs: number }
  readonly #createSocket: SocketFactory
  readonly #pending = new Map<string, PendingRequest>()
  /**
   * Ids of cards announced, kept after the message is viewed or gone (ids are never reused in a
   * room): a rejoin's pending list can be older than a `gone` that overtook it, and the card must
   * not come back. The oldest are forgotten beyond KNOWN_CARDS_LIMIT.
   */
  readonly #knownCards = new Set<string>()
  /** The room's latest count: a `presence` frame can overtake the handling of the join's answer. */
  #members = 0
  #socket: SocketLike | undefined
  /** Counts connections: a join that outlived its socket must not act on the next one. */
  #connection = 0
  #state: SessionState = 'connecting'
  #nextRef = 0
  #attempt = 0
  /** The earliest time to reconnect after a refused join (Unix ms). */
  #notBefore = 0
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #closedByUser = false
  #joinedWaiters: Array<{ resolve (): void, reject (error: SessionError): void }> = []
  memberId: string | undefined

  constructor (options: ConnectionOptions) {
    super()
    const url = options.url
    this.#url = typeof url === 'string' ? () => url : url
    this.settings = {
      nick: options.nick ?? '',
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      sendAttempts: options.sendAttempts ?? 6,
      initialDelayMs: options.reconnect?.initialDelayMs ?? 250,
      maxDelayMs: options.reconnect?.maxDelayMs ?? 10_000
    }
    this.#createSocket = options.createSocket ?? defaultSocketFactory()
  }

  get state (): SessionState {
    return this.#state
  }

  /** Opens the connection and joins; resolves once joined, rejects if the room refuses this member. */
  async connect (): Promise<void> {
    this.#closedByUser = false
    this.#open()
    await this.whenJoined(Number.POSITIVE_INFINITY)
  }

  /** Confirms a revealed message was displayed; the server forgets it once every recipient has. */
  async viewed (id: string): Promise<{ remaining: number }> {
    const receipt = await this.request({ v: PROTOCOL_VERSION, type: 'viewed', id }, 'viewed')
    return { remaining: receipt.remaining }
  }

  typing (active: boolean): void {
    if (this.#state === 'joined') this.#write({ v: PROTOCOL_VERSION, type: 'typing', active })
  }

  /** Leaves the room for good (messages waiting for this member are dropped) and closes. */
  async leave (): Promise<void> {
    try {
      await this.request({ v: PROTOCOL_VERSION, type: 'leave' }, 'left')
    } finally {
      this.close()
    }
  }

  /** Closes without leaving: this member stays in the room and can come back with its secret. */
  close (): void {
    this.#closedByUser = true
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer)
    this.#socket?.close(1000, 'bye')
    this.#settleClosed()
  }

  // ── for the protocol versions ───────────────────────────────────────────

  /** Joins on a new connection: resolves with the `joined` answer, rejects to refuse (terminal codes) or retry. */
  protected abstract joinRoom (): Promise<JoinedFrame>
  /** A frame no request waits for and the core does not handle. */
  protected frame (_frame: ServerFrame): void {}
  /** A new connection is being opened (nothing of the previous one holds any more). */
  protected connectionOpened (): void {}
  /** The session has been closed by its user. */
  protected closed (): void {}

  protected get closedByUser (): boolean {
    return this.#closedByUser
  }

  /** The number of the current connection (it grows with every socket opened). */
  protected get connection (): number {
    return this.#connection
  }

  /** Drops the current connection so that the session connects and joins again (as after a network loss). */
  protected reconnect (): void {
    this.#socket?.close(4000, 'rejoin')
  }

  protected backoff (attempt: number): number {
    const ceiling = Math.min(this.settings.maxDelayMs, this.settings.initialDelayMs * 2 ** attempt)
    return Math.random() * ceiling
  }

  protected async whenJoined (timeoutMs: number): Promise<void> {
    if (this.#state === 'joined') return
    if (this.#state === 'closed') throw new SessionError('closed', 'the session is closed')
    await new Promise<void>((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => { reject(new SessionError('timeout', 'not connected')) }, timeoutMs)
        : undefined
      this.#joinedWaiters.push({
        resolve: () => { clearTimeout(timer); resolve() },
        reject: (error) => { clearTimeout(timer); reject(error) }
      })
    })
  }

  protected async request<T extends ServerFrame['type']> (frame: ClientFrame, expect: T): Promise<Expect<T>> {
    const ref = (++this.#nextRef).toString(36)
    return new Promise<Expect<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(ref)
        reject(new SessionError('timeout', 'no answer in time'))
      }, this.settings.requestTimeoutMs)
      this.#pending.set(ref, { expect, resolve: resolve as (frame: ServerFrame) => void, reject, timer })
      if (!this.#write({ ...frame, ref } as ClientFrame)) {
        clearTimeout(timer)
        this.#pending.delete(ref)
        reject(new SessionError('closed', 'not connected'))
      }
    })
  }

  // ── connection ──────────────────────────────────────────────────────────

  #open (): void {
    this.#setState(this.#attempt === 0 ? 'connecting' : 'reconnecting')
    this.connectionOpened()
    let socket: SocketLike
    try {
      socket = this.#createSocket(this.#url())
    } catch {
      this.#scheduleReconnect()
      return
    }
    this.#socket = socket
    const connection = ++this.#connection
    socket.onopen = () => { void this.#join(socket, connection) }
    socket.onmessage = (event) => { this.#receive(event.data) }
    socket.onerror = () => { /* a close event follows */ }
    socket.onclose = (event) => {
      if (this.#socket !== socket) return
      this.#socket = undefined
      this.#failPending(new SessionError('closed', 'connection closed'))
      if (this.#closedByUser) return this.#settleClosed()
      this.#setState('reconnecting', event.code)
      this.#scheduleReconnect()
    }
  }

  async #join (socket: SocketLike, connection: number): Promise<void> {
    try {
      const joined = await this.joinRoom()
      // The socket went while joining (a v2 join can take a while): the next connection joins for itself.
      if (this.#closedByUser || connection !== this.#connection) return
      this.memberId = joined.memberId
      this.#attempt = 0
      this.#setState('joined')
      for (const waiter of this.#joinedWaiters.splice(0)) waiter.resolve()
      this.emit('presence', { members: this.#members })
      for (const card of joined.pending) this.#card(card)
    } catch (error) {
      if (connection !== this.#connection) return
      const failure = asSessionError(error)
      if (TERMINAL_JOIN.has(failure.code)) {
        this.#closedByUser = true
        for (const waiter of this.#joinedWaiters.splice(0)) waiter.reject(failure)
        this.#socket?.close(1000, 'refused')
        this.closed()
        this.#setState('closed', undefined, failure.code)
      } else {
        // Back again no sooner than the server asked (an overloaded gateway says when).
        this.#notBefore = Date.now() + (failure.retryAfterMs ?? 0)
        socket.close(4000, 'join failed')
      }
    }
  }

  #scheduleReconnect (): void {
    const wait = Math.max(this.backoff(this.#attempt++), this.#notBefore - Date.now())
    this.#reconnectTimer = setTimeout(() => { this.#open() }, wait)
  }

  #settleClosed (): void {
    this.#failPending(new SessionError('closed', 'the session is closed'))
    for (const waiter of this.#joinedWaiters.splice(0)) waiter.reject(new SessionError('closed', 'the session is closed'))
    this.closed()
    this.#setState('closed')
  }

  #setState (state: SessionState, code?: number, error?: SessionErrorCode): void {
    if (this.#state === state && code === undefined) return
    this.#state = state
    this.emit('state', { state, ...(code === undefined ? {} : { code }), ...(error === undefined ? {} : { error }) })
  }

  // ── frames ──────────────────────────────────────────────────────────────

  #write (frame: ClientFrame): boolean {
    const socket = this.#socket
    if (socket === undefined || socket.readyState !== SOCKET_OPEN) return false
    socket.send(JSON.stringify(frame))
    return true
  }

  #failPending (error: SessionError): void {
    for (const [ref, pending] of this.#pending) {
      clearTimeout(pending.timer)
      pending.reject(error)
      this.#pending.delete(ref)
    }
  }

  #receive (data: unknown): void {
    const text = typeof data === 'string' ? data : data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? new TextDecoder().decode(data as ArrayBuffer) : undefined
    if (text === undefined) return
    const decoded = codecs.serverFrame.decode(text)
    // A frame that does not match the protocol is dropped: a server cannot make the client act on garbage.
    if (!decoded.ok) return
    const frame = decoded.value
    const ref = 'ref' in frame ? frame.ref : undefined
    const pending = ref === undefined ? undefined : this.#pending.get(ref)
    if (ref !== undefined && pending !== undefined) {
      this.#pending.delete(ref)
      clearTimeout(pending.timer)
      // The join's count, until a later presence frame (handled before the join's continuation) replaces it.
      if (frame.type === 'joined') this.#members = frame.members
      if (frame.type === 'error') pending.reject(new SessionError(frame.code, frame.message, undefined, frame.retryAfterMs))
      else if (frame.type === pending.expect) pending.resolve(frame)
      else pending.reject(new SessionError('bad-frame', 'unexpected answer'))
      return
    }
    switch (frame.type) {
      case 'message': this.#card({ id: frame.id, from: frame.from, bucket: frame.bucket, expiresAt: frame.expiresAt, ...(frame.epoch === undefined ? {} : { epoch: frame.epoch }) }); break
      case 'viewed': this.emit('receipt', { id: frame.id, remaining: frame.remaining }); break
      case 'gone': this.#remember(frame.id); this.emit('gone', { id: frame.id, reason: frame.reason }); break
      case 'typing': this.emit('typing', { from: frame.from, active: frame.active }); break
      case 'presence': this.#members = frame.members; this.emit('presence', { members: frame.members }); break
      case 'error': this.emit('error', { code: frame.code }); break
      default: this.frame(frame)
    }
  }

  #card (card: Card): void {
    // A rejoin repeats pending cards; each is announced once.
    if (this.#knownCards.has(card.id)) return
    this.#remember(card.id)
    this.emit('card', card)
  }

  #remember (id: string): void {
    this.#knownCards.add(id)
    if (this.#knownCards.size > KNOWN_CARDS_LIMIT) this.#knownCards.delete(this.#knownCards.values().next().value as string)
  }
}

/** A v1 session: every message sealed under the room key derived from the code (architecture §3). */
export class ChatSession extends SessionCore {
  readonly protocol = 1
  readonly #keys: RoomKeys
  readonly #memberSecret: string
  /** Sealed messages not yet acknowledged by the vault, by id: a retry resends the same bytes. */
  readonly #outbox = new Map<string, SealedEnvelope>()

  constructor (options: SessionOptions) {
    super(options)
    this.#keys = options.keys
    this.#memberSecret = options.memberSecret
  }

  /** Message ids sealed but not yet stored (failed sends awaiting `retrySend`). */
  get unsent (): string[] {
    return [...this.#outbox.keys()]
  }

  /** Seals `text` and sends it, retrying with the same id until the vault stored it. */
  async send (text: string): Promise<SentMessage> {
    const id = newMessageId()
    this.#outbox.set(id, await sealMessage(this.#keys, id, { text, nick: this.settings.nick, sentAt: Date.now() }))
    return this.retrySend(id)
  }

  /** Sends a previously sealed message again under its original id; storing twice is impossible. */
  async retrySend (id: string): Promise<SentMessage> {
    const sealed = this.#outbox.get(id)
    if (sealed === undefined) throw new SessionError('not-found', 'no unsent message with this id', id)
    let lastError: SessionError | undefined
    for (let attempt = 0; attempt < this.settings.sendAttempts; attempt++) {
      // Jittered backoff, never sooner than the server asked: a retry storm is what keeps a server overloaded.
      if (attempt > 0) await delay(Math.max(this.backoff(attempt), lastError?.retryAfterMs ?? 0))
      try {
        await this.whenJoined(this.settings.requestTimeoutMs)
        const sent = await this.request({ v: PROTOCOL_VERSION, type: 'send', id, iv: sealed.iv, ct: sealed.ct }, 'sent')
        this.#outbox.delete(id)
        return { id, recipients: sent.recipients, expiresAt: sent.expiresAt, ...(sent.gone === undefined ? {} : { gone: sent.gone }) }
      } catch (error) {
        lastError = asSessionError(error)
        if (!RETRYABLE.has(lastError.code) || this.closedByUser) break
      }
    }
    throw new SessionError(lastError?.code ?? 'closed', lastError?.message ?? 'send failed', id)
  }

  /** Fetches and opens a message addressed to this member. Does not confirm viewing: call `viewed` once it is displayed. */
  async reveal (id: string): Promise<RevealedMessage> {
    const payload = await this.request({ v: PROTOCOL_VERSION, type: 'reveal', id }, 'payload')
    return openMessage(this.#keys, id, payload.iv, payload.ct)
  }

  protected async joinRoom (): Promise<JoinedFrame> {
    return this.request({ v: PROTOCOL_VERSION, type: 'join', roomId: this.#keys.roomId, memberSecret: this.#memberSecret }, 'joined')
  }
}

export function asSessionError (error: unknown): SessionError {
  return error instanceof SessionError ? error : new SessionError('internal', error instanceof Error ? error.message : 'failed')
}

export async function delay (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
