/** Words for numbers, sizes and times shown in the room. */

const SIZE_WORDS: Readonly<Record<number, string>> = { 256: 'short', 1024: 'medium', 4096: 'long', 16384: 'very long' }

/** "short", "medium", "long" or "very long": all a card says about a message's length (its padding bucket). */
export function sizeWord (bucket: number): string {
  return SIZE_WORDS[bucket] ?? 'sealed'
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** "just now", "1 min ago", "3 h ago" for a moment in the past. */
export function ago (since: number, now = Date.now()): string {
  const elapsed = Math.max(0, now - since)
  if (elapsed < MINUTE) return 'just now'
  if (elapsed < HOUR) return `${Math.floor(elapsed / MINUTE)} min ago`
  return `${Math.floor(elapsed / HOUR)} h ago`
}

/** "expires in 23 h", "expires in 5 min", "expires in under a minute" for a moment in the future. */
export function expiresIn (at: number, now = Date.now()): string {
  const left = at - now
  if (left <= MINUTE) return 'expires in under a minute'
  if (left < HOUR) return `expires in ${Math.ceil(left / MINUTE)} min`
  return `expires in ${Math.round(left / HOUR)} h`
}

/** "Only you here" or "3 people here". */
export function presenceText (members: number): string {
  if (members <= 1) return 'Only you here'
  return `${members} people here`
}

const integer = new Intl.NumberFormat('en')

export function count (value: number): string {
  return integer.format(value)
}

/** Characters of a string as people count them (code points, so one emoji is one). */
export function characters (text: string): number {
  return [...text].length
}
