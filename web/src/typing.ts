/**
 * "Someone is typing…": shown while any other member's last notice was "active",
 * and hidden after a few seconds without a fresh one, so a lost "stopped" notice
 * (closed tab, dropped connection) cannot leave it on forever.
 */
import { byId } from './dom.js'

/** Senders repeat "active" every few seconds while typing; a notice older than this has lapsed. */
const TYPING_LAPSE_MS = 6000

export class TypingIndicator {
  readonly #box = byId('typing', HTMLElement)
  readonly #text = byId('typing-text', HTMLElement)
  readonly #typists = new Map<string, ReturnType<typeof setTimeout>>()

  constructor () {
    this.#render()
  }

  update (from: string, active: boolean): void {
    clearTimeout(this.#typists.get(from))
    if (active) this.#typists.set(from, setTimeout(() => { this.update(from, false) }, TYPING_LAPSE_MS))
    else this.#typists.delete(from)
    this.#render()
  }

  clear (): void {
    for (const timer of this.#typists.values()) clearTimeout(timer)
    this.#typists.clear()
    this.#render()
  }

  #render (): void {
    const n = this.#typists.size
    this.#box.hidden = n === 0
    this.#text.textContent = n <= 1 ? 'Someone is typing…' : `${n} people are typing…`
  }
}
