/**
 * The compose box: Enter sends, Shift+Enter breaks the line, a byte counter
 * measures the encrypted payload exactly as it will be sealed (text, nickname
 * and timestamp) against the largest padding bucket, and typing notices go out
 * throttled, stopping after a few idle seconds or on send.
 */
import { MAX_PLAINTEXT_BYTES, payloadBytes } from '@ephemeral-chat/client'
import { announce, byId } from './dom.js'
import { count } from './format.js'

/** A typing notice is repeated at most this often while typing goes on (the gateway allows 2/s). */
const TYPING_REFRESH_MS = 2500
/** Typing counts as stopped after this long without input. */
const TYPING_IDLE_MS = 3000
/** The counter appears at three quarters of the limit; for everyday messages it is noise. */
const COUNTER_FROM_BYTES = Math.floor(MAX_PLAINTEXT_BYTES * 0.75)

export interface ComposeHooks {
  send (text: string): void
  typing (active: boolean): void
}

export class Compose {
  readonly #form = byId('compose', HTMLFormElement)
  readonly #input = byId('message', HTMLTextAreaElement)
  readonly #counter = byId('compose-count', HTMLElement)
  readonly #button = byId('send', HTMLButtonElement)
  readonly #nick: string
  readonly #hooks: ComposeHooks
  readonly #abort = new AbortController()
  #typingSentAt = 0
  #typingActive = false
  #idleTimer: ReturnType<typeof setTimeout> | undefined
  #over = false

  constructor (nick: string, hooks: ComposeHooks) {
    this.#nick = nick
    this.#hooks = hooks
    const signal = this.#abort.signal
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.#submit()
    }, { signal })
    this.#input.addEventListener('keydown', (event) => {
      // isComposing: Enter that confirms an IME composition must not send.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        this.#submit()
      }
    }, { signal })
    this.#input.addEventListener('input', () => {
      this.#measure()
      this.#typed()
    }, { signal })
    this.#input.value = ''
    this.#measure()
  }

  focus (): void {
    this.#input.focus()
  }

  /** Detaches from the page (room left); stops a pending typing notice. */
  dispose (): void {
    this.#abort.abort()
    clearTimeout(this.#idleTimer)
    this.#input.value = ''
    this.#measure()
  }

  #submit (): void {
    const text = this.#input.value
    if (text.trim() === '' || this.#over) return
    this.#stopTyping()
    this.#hooks.send(text)
    this.#input.value = ''
    this.#measure()
  }

  #measure (): void {
    const text = this.#input.value
    const bytes = payloadBytes({ text, nick: this.#nick, sentAt: Date.now() })
    const over = bytes > MAX_PLAINTEXT_BYTES
    if (over && !this.#over) announce(`The message is too long to send: shorten it by ${count(bytes - MAX_PLAINTEXT_BYTES)} bytes.`, 'assertive')
    this.#over = over
    this.#counter.dataset.over = String(over)
    this.#counter.hidden = bytes < COUNTER_FROM_BYTES
    this.#counter.textContent = over
      ? `Too long to send: ${count(bytes)} of ${count(MAX_PLAINTEXT_BYTES)} bytes. Shorten it by ${count(bytes - MAX_PLAINTEXT_BYTES)}.`
      : `${count(bytes)} / ${count(MAX_PLAINTEXT_BYTES)} bytes`
    this.#button.disabled = over || text.trim() === ''
    if (over) this.#input.setAttribute('aria-invalid', 'true')
    else this.#input.removeAttribute('aria-invalid')
  }

  #typed (): void {
    if (this.#input.value === '') {
      this.#stopTyping()
      return
    }
    const now = Date.now()
    if (!this.#typingActive || now - this.#typingSentAt >= TYPING_REFRESH_MS) {
      this.#typingActive = true
      this.#typingSentAt = now
      this.#hooks.typing(true)
    }
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => { this.#stopTyping() }, TYPING_IDLE_MS)
  }

  #stopTyping (): void {
    clearTimeout(this.#idleTimer)
    if (!this.#typingActive) return
    this.#typingActive = false
    this.#hooks.typing(false)
  }
}
