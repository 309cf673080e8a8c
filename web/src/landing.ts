/**
 * The landing view: generate a new room code (shown for sharing, then "Enter the
 * room"), or join with a typed or pasted code. A mistyped code is refused here, by
 * its check character, before any network traffic.
 */
import { generateRoomCodeV2, parseRoomCode, RoomCodeError } from '@ephemeral-chat/client'
import { MAX_NICK_CHARS } from '@ephemeral-chat/protocol'
import { announce, byId } from './dom.js'
import { renderShare } from './share.js'

export interface JoinRequest {
  /** Normalised room code. */
  code: string
  nick: string
}

export class Landing {
  readonly #nick = byId('nick', HTMLInputElement)
  readonly #generate = byId('generate', HTMLButtonElement)
  readonly #newRoom = byId('new-room', HTMLElement)
  readonly #form = byId('join-form', HTMLFormElement)
  readonly #code = byId('join-code', HTMLInputElement)
  readonly #error = byId('join-error', HTMLElement)
  readonly #onJoin: (request: JoinRequest) => void

  constructor (onJoin: (request: JoinRequest) => void) {
    this.#onJoin = onJoin
    this.#generate.addEventListener('click', () => { this.#generateCode() })
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.#submit()
    })
    this.#code.addEventListener('input', () => { this.#clearError() })
  }

  /** Back to a blank landing page (after leaving a room): no code of the old room stays on screen. */
  reset (): void {
    this.#newRoom.replaceChildren()
    this.#newRoom.hidden = true
    this.#generate.textContent = 'Generate New Code'
    this.#generate.className = 'button button-primary'
    this.#code.value = ''
    this.#nick.value = ''
    this.#clearError()
  }

  focus (): void {
    this.#generate.focus()
  }

  /** Shows a refused code (from a broken invite link) in the join field with its error. */
  showRefusedCode (input: string, error: RoomCodeError): void {
    this.#code.value = input
    this.#showError(error)
  }

  nick (): string {
    return [...this.#nick.value.trim()].slice(0, MAX_NICK_CHARS).join('')
  }

  #generateCode (): void {
    // New rooms are v2 (MLS): forward secrecy and authenticated senders. A v1 code still joins its room.
    const code = generateRoomCodeV2()
    renderShare(this.#newRoom, code, { onEnter: () => { this.#onJoin({ code, nick: this.nick() }) } })
    this.#generate.textContent = 'Generate another code'
    // "Enter the room" is the next step now; generating again becomes the secondary action.
    this.#generate.className = 'button button-secondary'
    announce('New room code ready. Share it, then enter the room.')
    this.#newRoom.querySelector<HTMLElement>('.room-code')?.scrollIntoView({ block: 'nearest' })
  }

  #submit (): void {
    let code: string
    try {
      code = parseRoomCode(this.#code.value).code
    } catch (error) {
      if (!(error instanceof RoomCodeError)) throw error
      this.#showError(error)
      return
    }
    this.#clearError()
    this.#onJoin({ code, nick: this.nick() })
  }

  #showError (error: RoomCodeError): void {
    this.#error.textContent = codeErrorText(error)
    this.#error.hidden = false
    this.#code.setAttribute('aria-invalid', 'true')
    this.#code.focus()
    announce(this.#error.textContent, 'assertive')
  }

  #clearError (): void {
    if (this.#error.hidden) return
    this.#error.hidden = true
    this.#error.textContent = ''
    this.#code.removeAttribute('aria-invalid')
  }
}

/** What to tell a person whose code was refused; the check character makes a typo a certainty, not a guess. */
export function codeErrorText (error: RoomCodeError): string {
  switch (error.reason) {
    case 'empty': return 'Enter the room code you were given.'
    case 'check-failed': return 'This code has a typo: a character is wrong or two are swapped. Compare it with the original and try again.'
    case 'newer-version': return 'This code is for a newer kind of room that this version of the chat cannot open yet. Ask whoever shared it which site it is for.'
    case 'wrong-length':
    case 'invalid-character': return `${error.message} Compare it with the original and try again.`
  }
}
