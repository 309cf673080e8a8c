// base64url (RFC 4648 §5) without padding, decoded strictly: every value on the wire
// has exactly one accepted spelling, so two clients can never disagree about an id.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

const VALUES: ReadonlyMap<string, number> = new Map([...ALPHABET].map((char, value) => [char, value]))

export class Base64urlError extends Error {
  override readonly name = 'Base64urlError'
}

export function encodeBase64url (bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!
  }
  return out
}

/**
 * Decodes unpadded base64url. Throws `Base64urlError` on padding (`=`), any character
 * outside the URL-safe alphabet (including `+`, `/` and whitespace), an impossible
 * length (4n+1), or non-zero unused bits in the last character (a non-canonical form).
 */
export function decodeBase64url (text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 4 === 1) throw new Base64urlError('base64url text has an impossible length')
  const values = new Array<number>(text.length)
  for (let i = 0; i < text.length; i++) {
    const value = VALUES.get(text[i]!)
    if (value === undefined) throw new Base64urlError('base64url text contains a character outside its alphabet')
    values[i] = value
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4))
  let o = 0
  let i = 0
  for (; i + 3 < values.length; i += 4) {
    const n = (values[i]! << 18) | (values[i + 1]! << 12) | (values[i + 2]! << 6) | values[i + 3]!
    out[o++] = n >> 16
    out[o++] = (n >> 8) & 255
    out[o++] = n & 255
  }
  const rest = values.length - i
  if (rest === 2) {
    if ((values[i + 1]! & 15) !== 0) throw new Base64urlError('base64url text is not canonical')
    out[o++] = (values[i]! << 2) | (values[i + 1]! >> 4)
  } else if (rest === 3) {
    if ((values[i + 2]! & 3) !== 0) throw new Base64urlError('base64url text is not canonical')
    const n = (values[i]! << 18) | (values[i + 1]! << 12) | (values[i + 2]! << 6)
    out[o++] = n >> 16
    out[o++] = (n >> 8) & 255
  }
  return out
}
