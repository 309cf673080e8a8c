/**
 * Sends this member's typing notices within the gateway's per-connection rate
 * (RATE_LIMITS.typing), which drops excess notices silently. A "started" notice
 * that does not fit is skipped (the others already see typing, or will on the
 * next keystroke); a "stopped" notice that does not fit is sent as soon as it
 * does, so an indicator is never left on by a dropped "stopped".
 */
import { RATE_LIMITS } from '@ephemeral-chat/protocol'

const { perSecond, burst } = RATE_LIMITS.typing

export class TypingSender {
  readonly #send: (active: boolean) => void
  #tokens: number = burst
  #refilledAt = Date.now()
  #pendingStop: ReturnType<typeof setTimeout> | undefined

  constructor (send: (active: boolean) => void) {
    this.#send = send
  }

  set (active: boolean): void {
    clearTimeout(this.#pendingStop)
    this.#pendingStop = undefined
    this.#refill()
    if (this.#tokens >= 1) {
      this.#tokens--
      this.#send(active)
    } else if (!active) {
      this.#pendingStop = setTimeout(() => { this.set(false) }, Math.ceil(((1 - this.#tokens) / perSecond) * 1000))
    }
  }

  dispose (): void {
    clearTimeout(this.#pendingStop)
  }

  #refill (): void {
    const now = Date.now()
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * perSecond)
    this.#refilledAt = now
  }
}
