/**
 * The message list of a room: routes session events (cards, receipts, gone) to
 * the incoming and outgoing items, keeps the empty state and focus sensible, and
 * wipes everything when the room is left.
 */
import type { SessionEvents } from '@ephemeral-chat/client'
import { announce, byId } from './dom.js'
import { IncomingMessage } from './incoming.js'
import { OutgoingMessage } from './outgoing.js'
import type { RoomSession } from './session.js'

type Gone = SessionEvents['gone']

/** How often the relative times on sealed cards are refreshed. */
const TICK_MS = 15_000

export class MessageList {
  readonly #list = byId('messages', HTMLOListElement)
  readonly #empty = byId('empty', HTMLElement)
  readonly #session: RoomSession
  readonly #incoming = new Map<string, IncomingMessage>()
  readonly #outgoing = new Map<string, OutgoingMessage>()
  readonly #unidentified = new Set<OutgoingMessage>()
  /** Receipts and gone events that overtook the `sent` reply of their message. */
  readonly #early = new Map<string, Array<(message: OutgoingMessage) => void>>()
  /** Messages shown but not yet confirmed as viewed (connection lost at the time). */
  readonly #unconfirmed = new Set<string>()
  readonly #onFocusLost: () => void
  #members = 1
  #arrivals = 0
  #arrivalTimer: ReturnType<typeof setTimeout> | undefined
  readonly #ticker: ReturnType<typeof setInterval>

  constructor (session: RoomSession, onFocusLost: () => void) {
    this.#session = session
    this.#onFocusLost = onFocusLost
    this.#ticker = setInterval(() => { for (const item of this.#incoming.values()) item.tick() }, TICK_MS)
    this.#updateEmpty()
  }

  card (card: SessionEvents['card']): void {
    if (this.#incoming.has(card.id)) return
    const item = new IncomingMessage(card, this.#session, {
      removed: (id, hadFocus) => { this.#incoming.delete(id); this.#removed(hadFocus) },
      unconfirmed: (id) => { this.#unconfirmed.add(id) }
    })
    this.#incoming.set(card.id, item)
    this.#append(item.element)
    this.#announceArrival()
  }

  receipt ({ id, remaining }: SessionEvents['receipt']): void {
    this.#toOutgoing(id, (message) => { message.receipt(remaining) })
  }

  gone ({ id, reason }: Gone): void {
    this.#unconfirmed.delete(id)
    const incoming = this.#incoming.get(id)
    if (incoming !== undefined) {
      incoming.gone(reason)
      return
    }
    this.#toOutgoing(id, (message) => { message.gone(reason) })
  }

  /** v2: a message waits on this device until someone else is in the room's group. */
  queued ({ id }: SessionEvents['queued']): void {
    // A retried message already has its id; a first send is matched among those without one.
    if (this.#outgoing.get(id)?.queued(id) === true) return
    for (const message of this.#unidentified) if (message.queued(id)) return
  }

  presence (members: number): void {
    this.#members = members
    for (const message of [...this.#outgoing.values(), ...this.#unidentified]) message.presence()
  }

  /** Sends `text` and shows it with its delivery state. */
  send (text: string): void {
    const message = new OutgoingMessage(text, this.#session, {
      identified: (id, item) => {
        this.#unidentified.delete(item)
        this.#outgoing.set(id, item)
        for (const apply of this.#early.get(id) ?? []) apply(item)
        this.#early.delete(id)
      },
      removed: (item, hadFocus) => {
        this.#unidentified.delete(item)
        if (item.id !== undefined) this.#outgoing.delete(item.id)
        this.#removed(hadFocus)
      },
      members: () => this.#members
    })
    this.#unidentified.add(message)
    this.#append(message.element)
    void message.send(text)
  }

  /** After a rejoin: confirms messages that were displayed while the connection was down. */
  confirmPending (): void {
    for (const id of [...this.#unconfirmed]) {
      this.#unconfirmed.delete(id)
      void this.#session.viewed(id).catch(() => { /* already gone, or down again: the card comes back on the next join */ })
    }
  }

  /** Whether a message waits on this device for someone to join (a reload would lose it). */
  hasQueued (): boolean {
    return [...this.#unidentified, ...this.#outgoing.values()].some((message) => message.isQueued)
  }

  /** Removes every message and its text from the page. */
  wipeAll (): void {
    clearInterval(this.#ticker)
    clearTimeout(this.#arrivalTimer)
    for (const item of [...this.#incoming.values()]) item.remove()
    for (const item of [...this.#outgoing.values(), ...this.#unidentified]) item.remove()
    this.#early.clear()
    this.#unconfirmed.clear()
    this.#list.replaceChildren()
    this.#updateEmpty()
  }

  #toOutgoing (id: string, apply: (message: OutgoingMessage) => void): void {
    const message = this.#outgoing.get(id)
    if (message !== undefined) {
      apply(message)
      return
    }
    // Our own `sent` reply may still be on its way; anything else is not ours (or already wiped).
    if (this.#unidentified.size === 0) return
    const waiting = this.#early.get(id) ?? []
    waiting.push(apply)
    this.#early.set(id, waiting)
  }

  #append (element: HTMLLIElement): void {
    this.#list.append(element)
    this.#updateEmpty()
    element.scrollIntoView({ block: 'nearest' })
  }

  #removed (hadFocus: boolean): void {
    this.#updateEmpty()
    if (!hadFocus) return
    // Focus was on the item that vanished: move to the next sealed card, else to the compose box.
    const next = [...this.#incoming.values()].find((item) => !item.isOpen)
    if (next !== undefined) next.focus()
    else this.#onFocusLost()
  }

  #updateEmpty (): void {
    this.#empty.hidden = this.#list.childElementCount > 0
  }

  /** One announcement for a burst of cards (e.g. the waiting ones delivered on join). */
  #announceArrival (): void {
    this.#arrivals++
    clearTimeout(this.#arrivalTimer)
    this.#arrivalTimer = setTimeout(() => {
      const n = this.#arrivals
      this.#arrivals = 0
      announce(n === 1 ? 'New sealed message. Open it to read it.' : `${n} new sealed messages. Open them to read them.`)
    }, 300)
  }
}
