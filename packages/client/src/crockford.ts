// Crockford base32 (https://www.crockford.com/base32.html): digits and upper-case
// letters without I, L, O and U, so no two symbols look alike and the result is hard
// to misread as a word.

export const CROCKFORD_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

const VALUES: ReadonlyMap<string, number> = new Map([...CROCKFORD_ALPHABET].map((char, value) => [char, value]))

/** The value (0–31) of an upper-case Crockford symbol, or undefined for anything else. */
export function crockfordValue (char: string): number | undefined {
  return VALUES.get(char)
}

/**
 * Encodes `bytes` as one big-endian number in exactly `length` symbols, most significant
 * first. `length * 5` must be at least the bit length of `bytes`; the surplus high bits
 * are zero (16 bytes in 26 symbols: the first symbol carries 3 bits and is 0–7).
 */
export function encodeCrockford (bytes: Uint8Array, length: number): string {
  if (length * 5 < bytes.length * 8) throw new RangeError('too few symbols for the given bytes')
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  let out = ''
  for (let i = 0; i < length; i++) {
    out = CROCKFORD_ALPHABET[Number(value & 31n)]! + out
    value >>= 5n
  }
  return out
}
