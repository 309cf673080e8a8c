/**
 * Entry point of the browser client. Decides where a visit starts: an invite link
 * (`/#CODE`) joins at once, a reload returns to the room this tab was in, and
 * anything else shows the landing page.
 */
import { parseRoomCode, RoomCodeError } from '@ephemeral-chat/client'
import { byId, notify, showView } from './dom.js'
import { takeInviteCode } from './invite.js'
import { Landing, type JoinRequest } from './landing.js'
import { Room, type RoomExit } from './room.js'
import { storedRoom } from './storage.js'

let room: Room | undefined

const landing = new Landing((request) => { enterRoom(request) })

function enterRoom (request: JoinRequest): void {
  if (room !== undefined) return
  // Nothing of the landing page (e.g. a generated code) stays in the hidden view.
  landing.reset()
  showView('room')
  byId('room-title', HTMLElement).focus()
  const current = new Room(request.code, request.nick, exitRoom)
  room = current
  current.enter().catch((error: unknown) => {
    // Not a refusal by the server but a local failure, e.g. Web Crypto missing outside a secure context.
    current.fail(`Could not open the room: ${error instanceof Error ? error.message : 'unknown error'}`)
  })
}

function exitRoom (exit: RoomExit): void {
  room = undefined
  landing.reset()
  showView('landing')
  landing.focus()
  if (exit.reason === 'left') notify('You left the room. This tab no longer holds its code or keys.')
  else notify(exit.message, 'error')
}

function openInvite (input: string): void {
  let code: string
  try {
    code = parseRoomCode(input).code
  } catch (error) {
    if (!(error instanceof RoomCodeError)) throw error
    if (room === undefined) {
      showView('landing')
      landing.showRefusedCode(input, error)
    } else {
      notify('That invite link holds a mistyped code.', 'error')
    }
    return
  }
  if (room !== undefined) {
    if (room.code !== code) notify('You are already in a room. Leave it first, then open the invite link again.', 'error')
    return
  }
  enterRoom({ code, nick: storedRoom()?.nick ?? '' })
}

function start (): void {
  const invite = takeInviteCode()
  if (invite !== undefined) {
    openInvite(invite)
    return
  }
  const stored = storedRoom()
  if (stored !== undefined) {
    enterRoom(stored)
    return
  }
  showView('landing')
}

// An invite link pasted into the address bar of an open tab changes only the fragment.
window.addEventListener('hashchange', () => {
  const invite = takeInviteCode()
  if (invite !== undefined) openInvite(invite)
})

start()
