/**
 * A message this member sent: its text (only on the sender's own screen) and its
 * fate, "Sending…" → "Waiting to be read" (or "for someone to join") → "Viewed",
 * after which it is wiped from the page. A send that failed after the session's
 * own retries offers "Retry", which resends the same sealed message under the same
 * id, so it can never arrive twice.
 */
import { SessionError, type SentMessage } from '@ephemeral-chat/client'
import type { GoneReason } from '@ephemeral-chat/protocol'
import { announce, h, notify, wipe } from './dom.js'
import { sessionErrorText, type RoomSession } from './session.js'

/** How long a finished own message (viewed, expired, withdrawn) stays before it is wiped. */
export const OWN_LINGER_MS = 4000

export interface OutgoingHooks {
  /** The message has an id now (stored, or failed with a retryable id). */
  identified (id: string, message: OutgoingMessage): void
  removed (message: OutgoingMessage, hadFocus: boolean): void
  /** Members present now, to word "waiting" statuses. */
  members (): number
}

type State = 'sending' | 'queued' | 'waiting' | 'partly-viewed' | 'viewed' | 'failed' | 'expired' | 'withdrawn'

export class OutgoingMessage {
  id: string | undefined
  readonly element: HTMLLIElement
  readonly #session: RoomSession
  readonly #hooks: OutgoingHooks
  readonly #status: HTMLElement
  #recipients = 0
  /** The id the session gave this message while it is unsent (to match a `queued` event). */
  #pendingId: string | undefined
  #state: State = 'sending'
  #lingerTimer: ReturnType<typeof setTimeout> | undefined

  constructor (text: string, session: RoomSession, hooks: OutgoingHooks) {
    this.#session = session
    this.#hooks = hooks
    this.#status = h('span', { className: 'status-text' })
    this.element = h('li', { className: 'msg msg-out' },
      h('div', { className: 'bubble', attrs: { tabindex: '-1' } },
        h('p', { className: 'bubble-text', text }),
        h('p', { className: 'status' }, this.#status)
      )
    )
    this.#setState('sending', 'Sending…')
  }

  /** Sends (or, with an id, resends) and follows the result. */
  async send (text: string): Promise<void> {
    try {
      const sending = this.#session.send(text)
      this.#pendingId = this.#session.unsent.at(-1)
      this.#sent(await sending)
    } catch (error) {
      this.#failed(error)
    }
  }

  /** v2: waiting on this device for someone to join (only in this tab's memory). */
  get isQueued (): boolean {
    return this.#state === 'queued'
  }

  /** False once wiped (e.g. the room was left while a send was still in flight). */
  get #onPage (): boolean {
    return this.element.isConnected
  }

  receipt (remaining: number): void {
    if (remaining === 0) {
      this.#finish('viewed', 'Viewed', 'Your message was viewed.')
      return
    }
    const total = Math.max(this.#recipients, remaining)
    this.#setState('partly-viewed', `Viewed by ${total - remaining} of ${total}`)
  }

  gone (reason: GoneReason): void {
    if (reason === 'viewed') this.#finish('viewed', 'Viewed', 'Your message was viewed.')
    else if (reason === 'expired') this.#finish('expired', 'Expired unread', 'Your message expired unread.')
    else this.#finish('withdrawn', 'Not read: its reader left the room', 'Your message was not read: its reader left the room.')
  }

  /**
   * v2: the send found nobody else in the room's group; the message waits on this device (it
   * could not be read by someone joining later) and goes once someone joins. True if it was this one.
   */
  queued (id: string): boolean {
    if (this.#state !== 'sending' || (this.id ?? this.#pendingId ?? id) !== id) return false
    this.#setState('queued', 'Waiting for someone to join · kept on this device until then')
    return true
  }

  /** Presence changed: a message waiting for someone to join now waits to be read. */
  presence (): void {
    if (this.#state === 'waiting') this.#setState('waiting', this.#waitingText())
  }

  remove (): void {
    clearTimeout(this.#lingerTimer)
    const hadFocus = this.element.contains(document.activeElement)
    wipe(this.element)
    this.element.remove()
    this.#hooks.removed(this, hadFocus)
  }

  #sent (sent: SentMessage): void {
    if (!this.#onPage) return
    this.#identify(sent.id)
    if (this.#state !== 'sending' && this.#state !== 'queued') return // a receipt or gone event overtook the reply
    if (sent.gone !== undefined) { this.gone(sent.gone); return } // a resend of a message delivered meanwhile
    this.#recipients = sent.recipients
    this.#setState('waiting', this.#waitingText())
  }

  #waitingText (): string {
    return this.#recipients === 0 && this.#hooks.members() <= 1 ? 'Waiting for someone to join' : 'Waiting to be read'
  }

  #failed (error: unknown): void {
    if (!this.#onPage) return
    const id = error instanceof SessionError ? error.id : undefined
    if (id !== undefined) this.#identify(id)
    const retryable = id !== undefined && this.#session.unsent.includes(id)
    const reason = error instanceof SessionError && error.code !== 'closed' && error.code !== 'timeout'
      ? sessionErrorText(error.code)
      : error instanceof SessionError ? 'The connection dropped.' : 'It could not be encrypted.'
    this.#setState('failed', retryable ? 'Not sent' : `Not sent. ${reason}`)
    if (retryable) {
      const retry = h('button', { className: 'button button-small button-secondary retry', text: 'Retry', attrs: { type: 'button' } })
      retry.addEventListener('click', () => { void this.#retry(retry) })
      this.#status.after(retry)
    }
    notify(`Your message was not sent. ${reason}${retryable ? ' Use Retry to send it again.' : ''}`, 'error')
  }

  async #retry (button: HTMLButtonElement): Promise<void> {
    if (this.id === undefined) return
    const hadFocus = document.activeElement === button
    button.remove()
    if (hadFocus) this.element.querySelector<HTMLElement>('.bubble')?.focus()
    this.#setState('sending', 'Sending…')
    try {
      this.#sent(await this.#session.retrySend(this.id))
    } catch (error) {
      this.#failed(error)
    }
  }

  #identify (id: string): void {
    if (this.id !== undefined) return
    this.id = id
    this.element.dataset.id = id
    this.#hooks.identified(id, this)
  }

  #finish (state: State, text: string, announcement: string): void {
    if (this.#lingerTimer !== undefined) return
    this.#setState(state, text)
    announce(announcement)
    this.#lingerTimer = setTimeout(() => { this.remove() }, OWN_LINGER_MS)
  }

  #setState (state: State, text: string): void {
    this.#state = state
    this.element.dataset.state = state
    this.#status.textContent = text
  }
}
