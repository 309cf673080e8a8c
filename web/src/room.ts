/**
 * One room visit: derive the keys from the code (slow on purpose: PBKDF2), join
 * with this tab's member secret, show presence, the fingerprint, the connection
 * state and the messages, and on "Leave and wipe" leave for good and forget
 * everything this tab knew about the room.
 */
import { ChatSession, ChatSessionV2, deriveRoomKeys, deriveRoomKeysV2, parseRoomCode, roomFingerprint, SessionError, type SessionErrorCode, type SessionEvents } from '@ephemeral-chat/client'
import { errorMessage } from '@ephemeral-chat/protocol'
import { Compose } from './compose.js'
import { announce, byId, h, notify } from './dom.js'
import { presenceText } from './format.js'
import { MessageList } from './messages.js'
import { renderShare } from './share.js'
import { sessionErrorText, type RoomSession } from './session.js'
import { claimMember, forgetRoom, groupStore, memberSecretFor, rememberRoom } from './storage.js'
import { TypingIndicator } from './typing.js'
import { TypingSender } from './typing-sender.js'

/** How long "Leave and wipe" waits for the server's answer before wiping anyway. */
const LEAVE_TIMEOUT_MS = 3000

export type RoomExit = { reason: 'left' } | { reason: 'refused', message: string }

/** The WebSocket endpoint of the gateway that served this page. */
function gatewayUrl (): string {
  const url = new URL('ws', document.baseURI)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  url.hash = ''
  return url.href
}

export class Room {
  readonly code: string
  readonly #nick: string
  readonly #onExit: (exit: RoomExit) => void
  readonly #view = byId('room', HTMLElement)
  readonly #deriving = byId('deriving', HTMLElement)
  readonly #derivingText = byId('deriving-text', HTMLElement)
  readonly #body = byId('room-body', HTMLElement)
  readonly #connection = byId('connection', HTMLElement)
  readonly #presence = byId('presence', HTMLElement)
  readonly #alone = byId('alone', HTMLElement)
  readonly #fingerprintBox = byId('fingerprint-box', HTMLElement)
  readonly #fingerprint = byId('fingerprint', HTMLElement)
  readonly #fingerprintHint = byId('fingerprint-hint', HTMLElement)
  readonly #inviteToggle = byId('invite-toggle', HTMLButtonElement)
  readonly #invite = byId('room-invite', HTMLElement)
  readonly #leaveButton = byId('leave', HTMLButtonElement)
  readonly #leaveDialog = byId('leave-dialog', HTMLDialogElement)
  readonly #v1Notice = byId('v1-notice', HTMLElement)
  readonly #members = byId('members', HTMLDetailsElement)
  readonly #myFingerprint = byId('my-fingerprint', HTMLElement)
  readonly #memberList = byId('member-list', HTMLUListElement)
  readonly #abort = new AbortController()
  #roomId: string | undefined
  #session: RoomSession | undefined
  /** v2: the fingerprints of the last roster shown, to announce who came and went. */
  #rosterSeen: Set<string> | undefined
  /** v2: ends this tab's hold on its member secret (storage.ts claimMember). */
  #release: (() => void) | undefined
  #messages: MessageList | undefined
  #compose: Compose | undefined
  #typing: TypingIndicator | undefined
  #typingSender: TypingSender | undefined
  #everJoined = false
  #leaving = false
  #ended = false

  constructor (code: string, nick: string, onExit: (exit: RoomExit) => void) {
    this.code = code
    this.#nick = nick
    this.#onExit = onExit
    const signal = this.#abort.signal
    this.#leaveButton.addEventListener('click', () => { this.#leaveDialog.showModal() }, { signal })
    this.#leaveDialog.addEventListener('close', () => {
      if (this.#leaveDialog.returnValue === 'leave') void this.leave()
      this.#leaveDialog.returnValue = ''
    }, { signal })
    this.#inviteToggle.addEventListener('click', () => { this.#toggleInvite() }, { signal })
    // A message waiting for company lives only in this tab's memory (never in storage): ask before it is lost.
    window.addEventListener('beforeunload', (event) => {
      if (this.#messages?.hasQueued() !== true) return
      event.preventDefault()
      // Older browsers ask only when returnValue is set.
      event.returnValue = ''
    }, { signal })
  }

  /** Derives the keys and joins; resolves once joined (or the room refused this member). */
  async enter (): Promise<void> {
    rememberRoom({ code: this.code, nick: this.#nick })
    this.#showDeriving('Deriving the room key…')
    this.#connection.dataset.state = 'connecting'
    this.#connection.textContent = 'Connecting…'
    this.#presence.textContent = ''

    const session = await this.#open()
    if (session === undefined) return
    this.#session = session
    this.#typing = new TypingIndicator()
    const typingSender = this.#typingSender = new TypingSender((active) => { session.typing(active) })
    this.#messages = new MessageList(session, () => { this.#compose?.focus() })
    this.#compose = new Compose(this.#nick, {
      send: (text) => { this.#messages?.send(text) },
      typing: (active) => { typingSender.set(active) }
    })
    this.#wire(session)
    try {
      await session.connect()
    } catch (error) {
      // connect() rejects only when the room refuses this member for good (e.g. it is full).
      this.#refused(error instanceof SessionError ? error.code : 'internal')
    }
  }

  /** Derives the room's keys and makes the session of the code's version (v1: with its notice). */
  async #open (): Promise<RoomSession | undefined> {
    const v2 = parseRoomCode(this.code).version === 2
    const keys = v2 ? { v2: await deriveRoomKeysV2(this.code) } : { v1: await deriveRoomKeys(this.code) }
    const { roomId, roomIdBytes } = keys.v2 ?? keys.v1
    if (this.#ended) return undefined
    this.#roomId = roomId
    this.#fingerprint.textContent = await roomFingerprint(roomIdBytes)
    this.#fingerprintBox.hidden = false
    this.#fingerprintHint.hidden = false
    this.#derivingText.textContent = 'Connecting…'
    this.#view.dataset.protocol = v2 ? '2' : '1'
    if (keys.v1 !== undefined) {
      this.#v1Notice.hidden = false
      return new ChatSession({ url: gatewayUrl, keys: keys.v1, memberSecret: memberSecretFor(roomId), nick: this.#nick })
    }
    const claim = await claimMember(roomId)
    if (this.#ended) { claim.release(); return undefined }
    this.#release = claim.release
    return new ChatSessionV2({ url: gatewayUrl, keys: keys.v2, memberSecret: claim.secret, nick: this.#nick, store: groupStore(roomId) })
  }

  /** "Leave and wipe": leave the room for good, then forget the code, keys and member secret. */
  async leave (): Promise<void> {
    if (this.#ended || this.#leaving) return
    // Leaving closes the session, which also ends a join still in flight: that is not a refusal.
    this.#leaving = true
    const session = this.#session
    announce('Leaving the room…')
    if (session !== undefined) {
      await Promise.race([
        session.leave().catch(() => { /* the wipe below happens regardless */ }),
        new Promise((resolve) => setTimeout(resolve, LEAVE_TIMEOUT_MS))
      ])
    }
    forgetRoom(this.#roomId)
    this.#end()
    this.#onExit({ reason: 'left' })
  }

  #wire (session: RoomSession): void {
    session.on('state', (event) => { this.#state(event) })
    session.on('presence', ({ members }) => { this.#showPresence(members) })
    session.on('card', (card) => { this.#messages?.card(card) })
    session.on('receipt', (receipt) => { this.#messages?.receipt(receipt) })
    session.on('gone', (gone) => { this.#messages?.gone(gone) })
    session.on('typing', ({ from, active }) => { this.#typing?.update(from, active) })
    session.on('queued', (queued) => { this.#messages?.queued(queued) })
    session.on('roster', ({ members }) => { this.#showRoster(members) })
    session.on('refused', () => { notify('A change to the room\'s encrypted group failed its checks and was refused; this device joined the group again.', 'error') })
    session.on('error', ({ code }) => {
      if (code !== 'rate-limited') notify(errorMessage(code), 'error')
    })
  }

  #state ({ state, error }: SessionEvents['state']): void {
    if (this.#ended) return
    const labels = { connecting: 'Connecting…', joined: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' } as const
    this.#connection.dataset.state = state
    this.#connection.textContent = labels[state]
    if (state === 'joined') {
      this.#view.dataset.memberId = this.#session?.memberId ?? ''
      if (!this.#everJoined) {
        this.#everJoined = true
        this.#showBody()
        announce('Joined the room.')
      } else {
        announce('Connected again.')
        this.#messages?.confirmPending()
      }
    } else if (state === 'reconnecting') {
      this.#typing?.clear()
      if (this.#everJoined) announce('Connection lost. Reconnecting…')
      else this.#derivingText.textContent = 'Still connecting…'
    } else if (state === 'closed' && error !== undefined) {
      this.#refused(error)
    }
  }

  /** The room refused this member for good: back to the start with the reason, and nothing kept for a reload to retry. */
  #refused (code: SessionErrorCode): void {
    if (this.#leaving) return
    this.fail(`${this.#everJoined ? 'Could not stay in the room.' : 'Could not join the room.'} ${sessionErrorText(code)}`)
  }

  /** Gives up on the room (refused, or a local failure such as missing Web Crypto) and says why. */
  fail (message: string): void {
    if (this.#ended) return
    forgetRoom(this.#roomId)
    this.#end()
    this.#onExit({ reason: 'refused', message })
  }

  #showPresence (members: number): void {
    this.#presence.textContent = presenceText(members)
    this.#alone.hidden = members > 1
    this.#view.dataset.members = String(members)
    this.#messages?.presence(members)
  }

  /** v2: who is in the room's group, by fingerprint (this member's own first). */
  #showRoster (members: SessionEvents['roster']['members']): void {
    const before = this.#rosterSeen
    this.#rosterSeen = new Set(members.map((m) => m.fingerprint))
    if (before !== undefined) {
      for (const m of members) if (!m.self && !before.has(m.fingerprint)) announce(`Someone joined the encrypted group: fingerprint ${m.fingerprint}.`)
      for (const fingerprint of before) if (!this.#rosterSeen.has(fingerprint)) announce(`Fingerprint ${fingerprint} is no longer in the group.`)
    }
    const self = members.find((m) => m.self)
    this.#myFingerprint.textContent = self?.fingerprint ?? ''
    this.#members.hidden = false
    this.#memberList.replaceChildren(...[...members].sort((a, b) => Number(b.self) - Number(a.self)).map((m) =>
      h('li', { className: 'member' }, h('code', { className: 'fingerprint-code', text: m.fingerprint }), m.self ? h('span', { className: 'hint', text: ' (you)' }) : '')))
  }

  #showDeriving (text: string): void {
    this.#derivingText.textContent = text
    this.#deriving.hidden = false
    this.#body.hidden = true
    this.#view.setAttribute('aria-busy', 'true')
  }

  #showBody (): void {
    this.#deriving.hidden = true
    this.#body.hidden = false
    this.#inviteToggle.hidden = false
    this.#view.removeAttribute('aria-busy')
    this.#compose?.focus()
  }

  #toggleInvite (): void {
    const open = this.#invite.hidden
    if (open) renderShare(this.#invite, this.code)
    else this.#invite.replaceChildren()
    this.#invite.hidden = !open
    this.#inviteToggle.setAttribute('aria-expanded', String(open))
    this.#inviteToggle.textContent = open ? 'Hide invite' : 'Invite'
  }

  /** Closes the session and clears every trace of the room from the page. */
  #end (): void {
    if (this.#ended) return
    this.#ended = true
    this.#abort.abort()
    this.#session?.close()
    this.#release?.()
    this.#release = undefined
    this.#messages?.wipeAll()
    this.#compose?.dispose()
    this.#typing?.clear()
    this.#typingSender?.dispose()
    this.#session = this.#messages = this.#compose = this.#typing = this.#typingSender = undefined
    this.#invite.replaceChildren()
    this.#invite.hidden = true
    this.#inviteToggle.setAttribute('aria-expanded', 'false')
    this.#inviteToggle.textContent = 'Invite'
    this.#inviteToggle.hidden = true
    this.#fingerprint.textContent = ''
    this.#fingerprintBox.hidden = true
    this.#fingerprintHint.hidden = true
    this.#presence.textContent = ''
    this.#alone.hidden = true
    this.#v1Notice.hidden = true
    this.#members.hidden = true
    this.#members.open = false
    this.#myFingerprint.textContent = ''
    this.#memberList.replaceChildren()
    this.#rosterSeen = undefined
    delete this.#view.dataset.protocol
    delete this.#view.dataset.memberId
    delete this.#view.dataset.members
    this.#roomId = undefined
  }
}
