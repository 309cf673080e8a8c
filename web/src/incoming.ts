/**
 * A message addressed to this member. It arrives as a sealed card (size class,
 * age, expiry: no text). Opening it fetches and decrypts the envelope, shows the
 * text with a countdown, confirms "viewed" only once the text is on screen, and
 * then wipes it from the page.
 */
import { GroupCheckError, SessionError, type RevealedMessage, type SessionEvents } from '@ephemeral-chat/client'
import type { GoneReason } from '@ephemeral-chat/protocol'
import { announce, h, notify, wipe } from './dom.js'
import { ago, expiresIn, sizeWord } from './format.js'
import { sessionErrorText, type RoomSession } from './session.js'

type Card = SessionEvents['card']

/** Seconds a revealed message stays on screen. */
export const REVEAL_SECONDS = 10

export interface IncomingHooks {
  /** The item left the list (wiped, expired or withdrawn); `hadFocus` if focus was inside it. */
  removed (id: string, hadFocus: boolean): void
  /** `viewed` could not be confirmed now (connection lost): try again after rejoining. */
  unconfirmed (id: string): void
}

type State = 'sealed' | 'opening' | 'open' | 'failed'

export class IncomingMessage {
  readonly id: string
  readonly element: HTMLLIElement
  readonly #card: Card
  readonly #receivedAt = Date.now()
  readonly #session: RoomSession
  readonly #hooks: IncomingHooks
  #state: State = 'sealed'
  #button: HTMLButtonElement | undefined
  #meta: HTMLElement | undefined
  #action: HTMLElement | undefined
  #countdown: ReturnType<typeof setInterval> | undefined

  constructor (card: Card, session: RoomSession, hooks: IncomingHooks) {
    this.id = card.id
    this.#card = card
    this.#session = session
    this.#hooks = hooks
    this.element = h('li', { className: 'msg msg-in', attrs: { 'data-id': card.id } })
    this.#renderSealed()
  }

  get isOpen (): boolean {
    return this.#state === 'open'
  }

  /** Refreshes the relative times on a sealed card. */
  tick (): void {
    if (this.#meta !== undefined) this.#meta.textContent = this.#metaText()
  }

  /** The server deleted the message. An open message keeps its countdown: its own "viewed" caused this. */
  gone (reason: GoneReason): void {
    if (this.#state === 'open') return
    if (reason === 'expired') notify('A message expired unread.')
    else if (reason === 'left') notify('A message was withdrawn before you read it.')
    this.remove()
  }

  /** Wipes the text (if shown) and takes the item off the page. */
  remove (): void {
    clearInterval(this.#countdown)
    this.#countdown = undefined
    const hadFocus = this.element.contains(document.activeElement)
    wipe(this.element)
    this.element.remove()
    this.#button = this.#meta = this.#action = undefined
    this.#hooks.removed(this.id, hadFocus)
  }

  focus (): void {
    (this.#button ?? this.element.querySelector<HTMLElement>('.revealed'))?.focus()
  }

  #metaText (): string {
    return `${sizeWord(this.#card.bucket)} · ${ago(this.#receivedAt)} · ${expiresIn(this.#card.expiresAt)}`
  }

  #renderSealed (): void {
    this.#meta = h('span', { className: 'card-meta', text: this.#metaText() })
    this.#action = h('span', { className: 'card-action', text: 'Open' })
    this.#button = h('button', { className: 'card', attrs: { type: 'button' } },
      h('span', { className: 'card-icon', attrs: { 'aria-hidden': 'true' } }, lockIcon()),
      h('span', { className: 'card-body' },
        h('span', { className: 'card-title', text: 'Sealed message' }),
        this.#meta
      ),
      this.#action
    )
    this.#button.addEventListener('click', () => { void this.#open() })
    this.element.dataset.state = 'sealed'
    this.element.replaceChildren(this.#button)
  }

  async #open (): Promise<void> {
    if (this.#state !== 'sealed') return
    this.#state = 'opening'
    this.element.dataset.state = 'opening'
    this.#button?.setAttribute('aria-busy', 'true')
    this.#button?.setAttribute('aria-disabled', 'true')
    if (this.#action !== undefined) this.#action.textContent = 'Opening…'

    let payload: RevealedMessage
    try {
      payload = await this.#session.reveal(this.id)
    } catch (error) {
      this.#openFailed(error)
      return
    }
    if (!this.element.isConnected) return
    const hadFocus = this.element.contains(document.activeElement)
    this.#renderOpen(payload)
    this.#state = 'open'
    if (hadFocus) this.element.querySelector<HTMLElement>('.revealed')?.focus()
    else announce('Message opened.')

    // Confirm only once the text has been painted: never on receipt or prefetch. Once the
    // reader opened it and it was rendered, it counts as viewed even if they hid it at once.
    await nextPaint()
    try {
      await this.#session.viewed(this.id)
    } catch (error) {
      if (error instanceof SessionError && (error.code === 'closed' || error.code === 'timeout' || error.code === 'unavailable')) this.#hooks.unconfirmed(this.id)
    }
  }

  #openFailed (error: unknown): void {
    if (!this.element.isConnected) return
    if (error instanceof GroupCheckError) {
      this.#renderFailed(error)
      return
    }
    const code = error instanceof SessionError ? error.code : 'internal'
    if (code === 'already-gone' || code === 'not-found' || code === 'not-recipient') {
      notify('That message is no longer available.')
      this.remove()
      return
    }
    this.#state = 'sealed'
    this.element.dataset.state = 'sealed'
    this.#button?.removeAttribute('aria-busy')
    this.#button?.removeAttribute('aria-disabled')
    if (this.#action !== undefined) this.#action.textContent = 'Open'
    const detail = !(error instanceof SessionError)
      ? 'It could not be decrypted.'
      : code === 'closed' || code === 'timeout' ? 'The connection dropped; try again in a moment.' : sessionErrorText(code)
    notify(`Could not open the message. ${detail}`, 'error')
  }

  /**
   * v2: the message failed a check (its MLS sender is not the card's, it is bound to another
   * id, or this member holds no key for it): shown as failed for good, never its text.
   */
  #renderFailed (error: GroupCheckError): void {
    const reason = error.reason === 'sender'
      ? 'It claims a sender who did not send it: it was not shown.'
      : error.reason === 'unknown-epoch'
        ? 'This device no longer holds its key (the room\'s keys changed many times since, or it was opened already).'
        : 'It failed its authenticity check: it was not shown.'
    this.#state = 'failed'
    this.element.dataset.state = 'failed'
    this.element.dataset.reason = error.reason
    const close = h('button', { className: 'button button-quiet button-small', text: 'Dismiss', attrs: { type: 'button' } })
    close.addEventListener('click', () => { this.remove() })
    this.element.replaceChildren(h('div', { className: 'card card-failed', attrs: { role: 'alert' } },
      h('span', { className: 'card-body' },
        h('span', { className: 'card-title', text: 'Message refused' }),
        h('span', { className: 'card-meta', text: reason })
      ),
      close
    ))
    this.#button = this.#meta = this.#action = undefined
    close.focus()
  }

  #renderOpen (payload: RevealedMessage): void {
    const seconds = h('span', { className: 'countdown-seconds', text: String(REVEAL_SECONDS) })
    const countdown = h('p', { className: 'countdown', attrs: { role: 'timer', 'aria-live': 'off' } }, 'Disappears in ', seconds, ' s')
    const bar = h('span', { className: 'countdown-bar', attrs: { 'aria-hidden': 'true' } }, h('span', { className: 'countdown-fill' }))
    bar.style.setProperty('--reveal-duration', `${REVEAL_SECONDS}s`)
    const hide = h('button', { className: 'button button-quiet button-small', text: 'Hide now', attrs: { type: 'button' } })
    hide.addEventListener('click', () => { this.remove() })

    const nick = payload.nick.trim()
    const article = h('article', { className: 'revealed', attrs: { tabindex: '-1', 'aria-label': nick === '' ? 'Message' : `Message from ${nick}` } },
      h('header', { className: 'revealed-head' },
        h('span', { className: 'nick', text: nick === '' ? 'Anonymous' : nick }),
        ...(payload.fingerprint === undefined ? [] : [h('code', { className: 'sender-fingerprint', text: payload.fingerprint, attrs: { title: 'The sender\'s fingerprint in this room: compare it with theirs' } })]),
        h('span', { className: 'revealed-time', text: Number.isFinite(payload.sentAt) ? ago(payload.sentAt) : '' })
      ),
      h('p', { className: 'revealed-text', text: payload.text }),
      h('footer', { className: 'revealed-foot' }, countdown, hide),
      bar
    )
    this.element.dataset.state = 'open'
    this.element.replaceChildren(article)
    this.#button = this.#meta = this.#action = undefined

    let left = REVEAL_SECONDS
    this.#countdown = setInterval(() => {
      left--
      if (left <= 0) this.remove()
      else seconds.textContent = String(left)
    }, 1000)
  }
}

function lockIcon (): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('focusable', 'false')
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path')
  path.setAttribute('d', 'M7 10V7a5 5 0 0 1 10 0v3h1a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2zm2 0h6V7a3 3 0 0 0-6 0z')
  svg.append(path)
  return svg
}

async function nextPaint (): Promise<void> {
  await new Promise<void>((resolve) => { requestAnimationFrame(() => { setTimeout(resolve, 0) }) })
}
