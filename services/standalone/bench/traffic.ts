/**
 * The message lifecycle as the bench's clients play it: a sender sends; every
 * recipient that gets the card reveals it and, on the payload, confirms it viewed.
 * A lifecycle settles when the send is refused, or when every recipient's `viewed`
 * was answered (or failed for good). Reveals and confirmations refused with a
 * retryable code are tried again (after the server's retryAfterMs when it gives
 * one), as the web client confirms again after a reconnect: a row left behind
 * then means the product lost it, not that a client gave up early. With
 * `retrySends` (the closed-loop scenarios, whose clients stand for people using
 * the SDK) a refused send is tried again the same way, under the same id and
 * bytes, as the SDK does; in the open-loop ones a refused send is a figure.
 */
import { GCM_IV_BYTES, GCM_TAG_BYTES, MESSAGE_ID_BYTES, PADDING_BUCKETS, type Card, type ErrorCode, type PayloadFrame, type SentFrame } from '@ephemeral-chat/protocol'
import { performance } from 'node:perf_hooks'
import type { BenchClient, ClientEvents, RequestKind } from './client.js'
import { b64, increment } from './util.js'

/** The smallest padding bucket plus the GCM tag: 272 bytes, what a short chat line is. */
const CIPHERTEXT_BYTES = PADDING_BUCKETS[0] + GCM_TAG_BYTES
const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['unavailable', 'internal', 'rate-limited'])
const RETRY_DELAY_MS = 250

export interface Lifecycle {
  readonly id: string
  readonly iv: string
  readonly ct: string
  readonly sender: BenchClient
  /** When the send went out: latencies start here. */
  readonly sentAt: number
  readonly deadlineAt: number
  answer: 'pending' | 'sent' | 'refused'
  /** The answer (either kind) came before the deadline. */
  inTime: boolean
  /** Recipients named by `sent`; unknown (−1) before it arrives. */
  recipients: number
  confirmed: number
  failed: number
}

export class Traffic implements ClientEvents {
  /** Lifecycles not yet settled, by message id. */
  readonly open = new Map<string, Lifecycle>()
  readonly errors = new Map<string, number>()
  readonly others = new Map<string, number>()
  started = 0
  payloads = 0
  confirmations = 0
  sentInTime = 0
  sentLate = 0
  refusedInTime = 0
  refusedLate = 0
  readonly refusalCodes = new Map<string, number>()
  /** Send → error frame, ms, per refused send. */
  readonly refusalMs: number[] = []
  /** Send → payload, ms, with the time it arrived (to pick a window). */
  readonly payloadMs: number[] = []
  readonly payloadAt: number[] = []
  /** Completion times of lifecycles every recipient confirmed, and whether their `sent` came within the deadline. */
  readonly completedAt: number[] = []
  readonly completedInTime: boolean[] = []
  failedLifecycles = 0
  #retrying = 0
  readonly #attempts: number
  readonly #retrySends: boolean
  /** Sends refused and then stored on a later attempt. */
  sendsRetried = 0
  /** Called once per lifecycle when it settles (closed-loop senders refill their window here). */
  onSettled: ((lifecycle: Lifecycle) => void) | undefined

  constructor (attempts: number, { retrySends = false }: { retrySends?: boolean } = {}) {
    this.#attempts = attempts
    this.#retrySends = retrySends
  }

  /** Retries waiting for their timer. */
  get retrying (): number {
    return this.#retrying
  }

  /** Nothing left to happen: every lifecycle settled, no retry waiting, every request of `clients` answered. */
  finished (clients: readonly BenchClient[]): boolean {
    return this.open.size === 0 && this.#retrying === 0 && clients.every((client) => client.outstanding === 0)
  }

  /** Sends a new message of random bytes of the real shapes from `sender`. */
  begin (sender: BenchClient, sentAt = performance.now(), deadlineMs = Number.POSITIVE_INFINITY): Lifecycle {
    const lifecycle: Lifecycle = {
      id: b64(MESSAGE_ID_BYTES), iv: b64(GCM_IV_BYTES), ct: b64(CIPHERTEXT_BYTES), sender, sentAt, deadlineAt: sentAt + deadlineMs,
      answer: 'pending', inTime: false, recipients: -1, confirmed: 0, failed: 0
    }
    this.open.set(lifecycle.id, lifecycle)
    this.started++
    sender.send(lifecycle.id, lifecycle.iv, lifecycle.ct)
    return lifecycle
  }

  sent (_client: BenchClient, frame: SentFrame, at: number, attempt = 1): void {
    const lifecycle = this.open.get(frame.id)
    if (lifecycle === undefined || lifecycle.answer !== 'pending') { increment(this.others, 'sent-unexpected'); return }
    if (attempt > 1) this.sendsRetried++
    lifecycle.answer = 'sent'
    lifecycle.recipients = frame.recipients
    lifecycle.inTime = at <= lifecycle.deadlineAt
    if (lifecycle.inTime) this.sentInTime++
    else this.sentLate++
    this.#settleIfDone(lifecycle, at)
  }

  card (client: BenchClient, card: Card): void {
    client.reveal(card.id)
  }

  payload (client: BenchClient, frame: PayloadFrame, at: number): void {
    this.payloads++
    const lifecycle = this.open.get(frame.id)
    if (lifecycle !== undefined) {
      this.payloadMs.push(at - lifecycle.sentAt)
      this.payloadAt.push(at)
    }
    client.viewed(frame.id)
  }

  confirmed (_client: BenchClient, id: string, at: number): void {
    this.confirmations++
    const lifecycle = this.open.get(id)
    if (lifecycle === undefined) return
    lifecycle.confirmed++
    this.#settleIfDone(lifecycle, at)
  }

  refused (client: BenchClient, kind: RequestKind, id: string, code: ErrorCode, attempt: number, at: number, retryAfterMs: number | undefined): void {
    increment(this.errors, `${kind}:${code}`)
    const lifecycle = this.open.get(id)
    if (kind === 'send') {
      if (lifecycle === undefined || lifecycle.answer !== 'pending') return
      if (this.#retrySends && RETRYABLE.has(code) && attempt < this.#attempts) {
        this.#retry(attempt, retryAfterMs, () => { client.send(id, lifecycle.iv, lifecycle.ct, attempt + 1) })
        return
      }
      lifecycle.answer = 'refused'
      lifecycle.inTime = at <= lifecycle.deadlineAt
      increment(this.refusalCodes, code)
      this.refusalMs.push(at - lifecycle.sentAt)
      if (lifecycle.inTime) this.refusedInTime++
      else this.refusedLate++
      this.#settle(lifecycle)
      return
    }
    // A retried confirmation finding the message gone means an earlier attempt did delete it after all.
    if (kind === 'viewed' && attempt > 1 && code === 'already-gone') {
      this.confirmed(client, id, at)
      return
    }
    if (RETRYABLE.has(code) && attempt < this.#attempts) {
      this.#retry(attempt, retryAfterMs, () => {
        if (kind === 'reveal') client.reveal(id, attempt + 1)
        else client.viewed(id, attempt + 1)
      })
      return
    }
    if (lifecycle === undefined) return
    lifecycle.failed++
    this.#settleIfDone(lifecycle, at)
  }

  /** As the SDK: jittered, growing with the attempt, never sooner than the server's hint. */
  #retry (attempt: number, retryAfterMs: number | undefined, again: () => void): void {
    this.#retrying++
    setTimeout(() => {
      this.#retrying--
      again()
    }, Math.max(Math.random() * RETRY_DELAY_MS * 2 ** attempt, retryAfterMs ?? 0))
  }

  other (type: string): void {
    increment(this.others, type)
  }

  #settleIfDone (lifecycle: Lifecycle, at: number): void {
    if (lifecycle.answer !== 'sent' || lifecycle.confirmed + lifecycle.failed < lifecycle.recipients) return
    if (lifecycle.failed === 0) {
      this.completedAt.push(at)
      this.completedInTime.push(lifecycle.inTime)
    } else {
      this.failedLifecycles++
    }
    this.#settle(lifecycle)
  }

  #settle (lifecycle: Lifecycle): void {
    this.open.delete(lifecycle.id)
    this.onSettled?.(lifecycle)
  }
}
