/**
 * Each room's share of the vault's work: a token bucket of bytes per room (per vault
 * replica), so that one room, however many connections flood it within their own rates,
 * cannot crowd out the others. A store costs its envelope's bytes; a join a little, and then
 * what it returned (its cards, receipts and deletions) is charged. A store or join over its
 * room's share is refused at once (`room-busy` with a retry hint) before it queues.
 * Buckets of rooms that have gone quiet are forgotten, so memory follows the
 * rooms active right now.
 */

export interface RoomShareOptions {
  /** Bytes of envelopes per second a room may store. */
  readonly bytesPerSecond: number
  /** Bytes a room may store at once after a quiet spell. */
  readonly burstBytes: number
}

interface Bucket {
  tokens: number
  updated: number
}

const FORGET_AFTER_MS = 60_000

export class RoomShare {
  readonly #options: RoomShareOptions
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  #nextForget = 0

  constructor (options: RoomShareOptions, now: () => number = () => performance.now()) {
    this.#options = options
    this.#now = now
  }

  get rooms (): number {
    return this.#buckets.size
  }

  /** Takes `bytes` from the room's share; false (nothing taken) when it has not that many. */
  take (roomHash: string, bytes: number): boolean {
    const now = this.#now()
    if (now >= this.#nextForget) this.#forget(now)
    let bucket = this.#buckets.get(roomHash)
    if (bucket === undefined) this.#buckets.set(roomHash, bucket = { tokens: this.#options.burstBytes, updated: now })
    bucket.tokens = Math.min(this.#options.burstBytes, bucket.tokens + ((now - bucket.updated) / 1000) * this.#options.bytesPerSecond)
    bucket.updated = now
    if (bucket.tokens < bytes) return false
    bucket.tokens -= bytes
    return true
  }

  /**
   * Charges work already done for the room (e.g. the cards a join returned) against its share:
   * the bucket may go into debt, down to minus a burst, which the room's next requests repay.
   */
  charge (roomHash: string, bytes: number): void {
    const bucket = this.#buckets.get(roomHash)
    if (bucket === undefined || bytes <= 0) return
    bucket.tokens = Math.max(-this.#options.burstBytes, bucket.tokens - bytes)
  }

  /** When `bytes` more will fit in the room's share. */
  retryAfterMs (roomHash: string, bytes: number): number {
    const bucket = this.#buckets.get(roomHash)
    const missing = bytes - (bucket?.tokens ?? this.#options.burstBytes)
    return Math.min(60_000, Math.max(50, Math.ceil((missing / this.#options.bytesPerSecond) * 1000)))
  }

  /** Drops buckets that have refilled and stayed quiet: they hold nothing a new bucket would not. */
  #forget (now: number): void {
    this.#nextForget = now + FORGET_AFTER_MS
    for (const [room, bucket] of this.#buckets) {
      if (now - bucket.updated > FORGET_AFTER_MS) this.#buckets.delete(room)
    }
  }
}
