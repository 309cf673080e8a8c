/**
 * One simulated browser tab: a raw WebSocket speaking the protocol's frames. The
 * server cannot tell real ciphertext from random bytes, so the bench sends random
 * bytes of the exact shapes and skips the browser's cryptography; frames are not
 * validated on receipt either, to keep the load generator cheap.
 */
import {
  PROTOCOL_VERSION,
  type Card, type ErrorCode, type JoinedFrame, type JoinFrame, type PayloadFrame, type RevealFrame,
  type SendFrame, type SentFrame, type ServerFrame, type ViewedFrame
} from '@ephemeral-chat/protocol'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { within } from './util.js'

export type RequestKind = 'send' | 'reveal' | 'viewed'

/** What a client reports; the traffic model decides what happens next. */
export interface ClientEvents {
  /** `attempt`: which try of this send was stored (1 unless it was refused before). */
  sent (client: BenchClient, frame: SentFrame, at: number, attempt: number): void
  card (client: BenchClient, card: Card, at: number): void
  payload (client: BenchClient, frame: PayloadFrame, at: number): void
  /** The answer to this client's own `viewed`. */
  confirmed (client: BenchClient, id: string, at: number): void
  /** A request answered with an error frame; `retryAfterMs` when the server said when to try again. */
  refused (client: BenchClient, kind: RequestKind, id: string, code: ErrorCode, attempt: number, at: number, retryAfterMs: number | undefined): void
  /** Frames nobody asked for (receipts, gone, presence) and errors without a known ref, by type or code. */
  other (type: string): void
}

interface Pending {
  kind: RequestKind
  id: string
  attempt: number
}

// Request refs are base36 counters, which never contain '_'.
const JOIN_REF = 'join_'

export class BenchClient {
  readonly #socket: WebSocket
  readonly #events: ClientEvents
  readonly #pending = new Map<string, Pending>()
  #nextRef = 0
  #joined: ((frame: ServerFrame) => void) | undefined
  memberId = ''

  constructor (url: string, events: ClientEvents) {
    this.#events = events
    this.#socket = new WebSocket(url, {
      perMessageDeflate: false,
      // The server unmasks every frame whatever the key; an all-zero key lets ws skip masking
      // on our side, and the gateway validates UTF-8 for us: both only spare the load generator.
      generateMask: () => {},
      skipUTF8Validation: true
    })
    // Errors surface as a close; without a listener an `error` event would crash the bench.
    this.#socket.on('error', () => {})
    this.#socket.on('message', (data: Buffer) => { this.#receive(data) })
  }

  get open (): boolean {
    return this.#socket.readyState === WebSocket.OPEN
  }

  /** Requests sent and not yet answered. */
  get outstanding (): number {
    return this.#pending.size
  }

  /** Opens the socket and joins; rejects on a refusal, a close or the deadline. */
  async join (roomId: string, memberSecret: string, timeoutMs: number): Promise<JoinedFrame> {
    return within(timeoutMs, 'join', new Promise<JoinedFrame>((resolve, reject) => {
      const closed = (code: number): void => { reject(new Error(`socket closed (${code}) before joining`)) }
      this.#socket.once('close', closed)
      this.#joined = (frame) => {
        this.#joined = undefined
        this.#socket.removeListener('close', closed)
        if (frame.type === 'joined') {
          this.memberId = frame.memberId
          resolve(frame)
        } else {
          reject(new Error(`join refused: ${frame.type === 'error' ? frame.code : frame.type}`))
        }
      }
      once(this.#socket, 'open').then(() => {
        const join: JoinFrame = { v: PROTOCOL_VERSION, type: 'join', ref: JOIN_REF, roomId, memberSecret }
        this.#socket.send(JSON.stringify(join))
      }, reject)
    }))
  }

  send (id: string, iv: string, ct: string, attempt = 1): void {
    const frame: SendFrame = { v: PROTOCOL_VERSION, type: 'send', ref: this.#ref({ kind: 'send', id, attempt }), id, iv, ct }
    this.#write(frame)
  }

  reveal (id: string, attempt = 1): void {
    const frame: RevealFrame = { v: PROTOCOL_VERSION, type: 'reveal', ref: this.#ref({ kind: 'reveal', id, attempt }), id }
    this.#write(frame)
  }

  viewed (id: string, attempt = 1): void {
    const frame: ViewedFrame = { v: PROTOCOL_VERSION, type: 'viewed', ref: this.#ref({ kind: 'viewed', id, attempt }), id }
    this.#write(frame)
  }

  /** Stops parsing what arrives (idle connections only hear presence). */
  quiet (): void {
    this.#socket.removeAllListeners('message')
  }

  close (): void {
    this.#socket.terminate()
  }

  #ref (pending: Pending): string {
    const ref = (this.#nextRef++).toString(36)
    this.#pending.set(ref, pending)
    return ref
  }

  #write (frame: SendFrame | RevealFrame | ViewedFrame): void {
    // A closed socket answers nothing: the request stays outstanding and the scenario reports it as lost.
    if (this.open) this.#socket.send(JSON.stringify(frame))
  }

  #take (ref: string | undefined): Pending | undefined {
    if (ref === undefined) return undefined
    const pending = this.#pending.get(ref)
    this.#pending.delete(ref)
    return pending
  }

  #receive (data: Buffer): void {
    const at = performance.now()
    const frame = JSON.parse(data.toString('utf8')) as ServerFrame
    const events = this.#events
    switch (frame.type) {
      case 'sent':
        events.sent(this, frame, at, this.#take(frame.ref)?.attempt ?? 1)
        return
      case 'message':
        events.card(this, frame, at)
        return
      case 'payload':
        this.#take(frame.ref)
        events.payload(this, frame, at)
        return
      case 'viewed':
        // With a ref it answers our own `viewed`; without, it is a receipt for a message we sent.
        if (frame.ref === undefined) { events.other('receipt'); return }
        this.#take(frame.ref)
        events.confirmed(this, frame.id, at)
        return
      case 'joined':
      case 'error': {
        if (frame.ref === JOIN_REF && this.#joined !== undefined) { this.#joined(frame); return }
        if (frame.type === 'joined') { events.other('joined'); return }
        const pending = this.#take(frame.ref)
        if (pending === undefined) events.other(`error:${frame.code}`)
        else events.refused(this, pending.kind, pending.id, frame.code, pending.attempt, at, retryAfter(frame))
        return
      }
      default:
        events.other(frame.type)
    }
  }
}

/** The error frame's retry hint, read structurally: protocol versions without the field answer undefined. */
function retryAfter (frame: ServerFrame): number | undefined {
  const value = (frame as { retryAfterMs?: unknown }).retryAfterMs
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}
