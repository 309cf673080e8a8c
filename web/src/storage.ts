/**
 * What this tab remembers, in sessionStorage only (gone when the tab closes, never
 * shared with other tabs): the current room code and nickname, so a reload rejoins
 * the same room, and the member secret per room id, so a reload or reconnect is
 * the same member and gets its waiting messages back. "Leave and wipe" removes all of it.
 */
import { newMemberSecret } from '@ephemeral-chat/client'

const CURRENT_ROOM = 'ec:room'
const NICK = 'ec:nick'
const MEMBER_PREFIX = 'ec:member:'

function store (): Storage | undefined {
  try {
    return window.sessionStorage
  } catch {
    // Storage can be disabled; the chat still works, a reload just starts over.
    return undefined
  }
}

function read (key: string): string | undefined {
  try {
    return store()?.getItem(key) ?? undefined
  } catch {
    return undefined
  }
}

function write (key: string, value: string): void {
  try {
    store()?.setItem(key, value)
  } catch {
    // Full or disabled storage: keep going without persistence.
  }
}

function remove (key: string): void {
  try {
    store()?.removeItem(key)
  } catch {
    // Nothing to remove from a disabled storage.
  }
}

export interface StoredRoom {
  /** The normalised room code. */
  code: string
  nick: string
}

export function rememberRoom (room: StoredRoom): void {
  write(CURRENT_ROOM, room.code)
  write(NICK, room.nick)
}

export function storedRoom (): StoredRoom | undefined {
  const code = read(CURRENT_ROOM)
  if (code === undefined || code === '') return undefined
  return { code, nick: read(NICK) ?? '' }
}

/** This tab's secret for the room, created on first use. Keyed by room id: the code itself is never a storage key. */
export function memberSecretFor (roomId: string): string {
  const key = MEMBER_PREFIX + roomId
  const existing = read(key)
  if (existing !== undefined && existing !== '') return existing
  const secret = newMemberSecret()
  write(key, secret)
  return secret
}

/** Forgets the current room, the nickname and the member secret of `roomId`. */
export function forgetRoom (roomId: string | undefined): void {
  remove(CURRENT_ROOM)
  remove(NICK)
  if (roomId !== undefined) remove(MEMBER_PREFIX + roomId)
}
