import type { RateLimit } from '@ephemeral-chat/protocol'

const clock = (): number => performance.now()

/** A token bucket: `burst` tokens, refilled at `perSecond`. */
export class TokenBucket {
  #tokens: number
  #updated: number

  constructor (private readonly limit: RateLimit, private readonly now: () => number = clock) {
    this.#tokens = limit.burst
    this.#updated = now()
  }

  /** Takes one token if there is one. */
  take (): boolean {
    const now = this.now()
    this.#tokens = Math.min(this.limit.burst, this.#tokens + ((now - this.#updated) / 1000) * this.limit.perSecond)
    this.#updated = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
