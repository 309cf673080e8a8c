/**
 * What this gateway holds: its joined (and joining) connections, numbered, with
 * their room and member. The vault keeps a presence row per such connection; each
 * heartbeat sends the count and a digest (XOR of the first 64 bits of
 * md5("connection:room:member"), kept up to date on every change), and when the
 * vault's rows disagree the ledger is sent in chunks to replace them. So presence
 * heals after any lost disconnect or late join, within a heartbeat or two.
 */
import { createHash } from 'node:crypto'

export interface PresenceEntry {
  connectionId: number
  roomHash: string
  memberId: string
}

export interface PresenceChunk {
  /** Connections numbered from `from` (inclusive) to `to` (exclusive) are exactly `entries`. */
  from: number
  to: number
  entries: PresenceEntry[]
}

function hash (connectionId: number, roomHash: string, memberId: string): bigint {
  return BigInt(`0x${createHash('md5').update(`${connectionId}:${roomHash}:${memberId}`).digest('hex').slice(0, 16)}`)
}

export class PresenceLedger {
  readonly #entries = new Map<number, { roomHash: string, memberId: string }>()
  #digest = 0n
  #nextId = 0

  /** A number for a new connection; never reused while this gateway lives. */
  nextConnectionId (): number {
    return this.#nextId++
  }

  get count (): number {
    return this.#entries.size
  }

  /** 16 lower-case hex digits, as the vault computes it. */
  get digest (): string {
    return this.#digest.toString(16).padStart(16, '0')
  }

  add (connectionId: number, roomHash: string, memberId: string): void {
    this.remove(connectionId)
    this.#entries.set(connectionId, { roomHash, memberId })
    this.#digest ^= hash(connectionId, roomHash, memberId)
  }

  remove (connectionId: number): void {
    const entry = this.#entries.get(connectionId)
    if (entry === undefined) return
    this.#entries.delete(connectionId)
    this.#digest ^= hash(connectionId, entry.roomHash, entry.memberId)
  }

  /** Everything now, in chunks of at most `size`, covering every connection number handed out so far. */
  chunks (size: number): PresenceChunk[] {
    const ids = [...this.#entries.keys()].sort((a, b) => a - b)
    const chunks: PresenceChunk[] = []
    let from = 0
    for (let i = 0; i < ids.length || chunks.length === 0; i += size) {
      const slice = ids.slice(i, i + size)
      const last = i + size >= ids.length
      // The last chunk reaches the next number to be handed out: newer connections are not ours to judge yet.
      const to = last ? this.#nextId : (slice.at(-1) as number) + 1
      chunks.push({ from, to, entries: slice.map((id) => ({ connectionId: id, ...(this.#entries.get(id) as { roomHash: string, memberId: string }) })) })
      from = to
      if (last) break
    }
    return chunks
  }
}
