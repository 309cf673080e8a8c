/**
 * Admission for new work: sends and joins, each of which starts work that later
 * frames (reveals, confirmations, cards) must finish. At most `maxInFlight` of
 * them wait for the vault at once; beyond that a new one is refused at once with
 * a retry hint. The queue is bounded, so latency is (Little's law: at most
 * maxInFlight over the throughput), and under any overload the gateway keeps
 * spending its time finishing what it accepted, for a refusal costs a fraction
 * of what it avoids. Reveals and confirmations are never refused here: they
 * finish accepted work (per-connection rates bound them).
 */

const MIN_RETRY_MS = 100
const MAX_RETRY_MS = 5000

export class Admission {
  readonly #maxInFlight: number
  #inFlight = 0
  /** Moving average of how long admitted work waited for the vault, for the retry hint. */
  #latencyMs = 10

  constructor (maxInFlight: number) {
    this.#maxInFlight = maxInFlight
  }

  get inFlight (): number {
    return this.#inFlight
  }

  /** Takes a place, or returns false when all are taken. */
  enter (): boolean {
    if (this.#inFlight >= this.#maxInFlight) return false
    this.#inFlight++
    return true
  }

  /** Gives the place back once the vault answered (or failed); `startedMs` is performance.now() at enter. */
  leave (startedMs: number): void {
    this.#inFlight--
    this.#latencyMs = 0.9 * this.#latencyMs + 0.1 * (performance.now() - startedMs)
  }

  /** About when a place frees: the time admitted work takes now. */
  retryAfterMs (): number {
    return Math.round(Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, this.#latencyMs)))
  }
}
