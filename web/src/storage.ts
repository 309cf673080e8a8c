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
const GROUP_PREFIX = 'ec:group:'
/** How long a tab waits for its member's lock before it concludes another tab is that member. */
const LOCK_WAIT_MS = 1500

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

/**
 * v2: this tab's MLS state of the room's group, saved after every change (docs/security.md,
 * "a seized device": it holds the keys of messages not yet opened, never of those viewed).
 */
export function groupStore (roomId: string): { load: () => string | undefined, save: (state: string) => void } {
  const key = GROUP_PREFIX + roomId
  let failed = false
  return {
    load: () => failed ? undefined : read(key),
    save: (state) => {
      if (failed) return
      try {
        const storage = store()
        if (storage === undefined) throw new Error('no storage')
        storage.setItem(key, state)
      } catch {
        // Full or disabled: an older state must not stay behind (after a reload it would hold keys
        // already used or consumed). Without a saved state a reload joins the group again instead.
        failed = true
        remove(key)
      }
    }
  }
}

/**
 * One writer per member (v2): a tab holds a Web Lock named after its member secret's room
 * entry while in the room. A duplicated tab starts with a copy of sessionStorage, the same
 * secret and state: it finds the lock taken and becomes a new member with a new secret
 * instead of sharing (and forking) the other tab's leaf. `release` ends the hold.
 */
export async function claimMember (roomId: string): Promise<{ secret: string, release: () => void }> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks
  const hold = async (secret: string): Promise<{ secret: string, release: () => void } | undefined> => {
    if (locks === undefined) return { secret, release: () => {} }
    let release = (): void => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    // Waited for briefly: a reload's previous document may still hold the lock for a moment;
    // a duplicated tab holds it for as long as it is open.
    const name = await lockName(secret)
    const granted = await new Promise<boolean>((resolve) => {
      locks.request(name, { signal: AbortSignal.timeout(LOCK_WAIT_MS) }, async () => {
        resolve(true)
        await held
      }).catch(() => { resolve(false) })
    })
    return granted ? { secret, release } : undefined
  }
  const mine = await hold(memberSecretFor(roomId))
  if (mine !== undefined) return mine
  // Another tab of this browser is this member: start over as a new one.
  remove(GROUP_PREFIX + roomId)
  const fresh = newMemberSecret()
  write(MEMBER_PREFIX + roomId, fresh)
  return await hold(fresh) ?? { secret: fresh, release: () => {} }
}

/**
 * The lock's name: a hash of the secret, never the secret (every same-origin tab can list
 * lock names with `navigator.locks.query()`, and the secret is the member's signing key).
 */
async function lockName (secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`ephemeral-chat/tab-lock/${secret}`)))
  return `ec:member:${[...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')}`
}

/** Forgets the current room, the nickname, and the member secret and group state of `roomId`. */
export function forgetRoom (roomId: string | undefined): void {
  remove(CURRENT_ROOM)
  remove(NICK)
  if (roomId !== undefined) {
    remove(MEMBER_PREFIX + roomId)
    remove(GROUP_PREFIX + roomId)
  }
}
