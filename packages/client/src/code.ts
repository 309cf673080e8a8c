// Room codes: 128 random bits, Crockford base32, plus a Luhn mod 32 check symbol.
//
//   normalised form  27 symbols: 26 for the 128 bits (big-endian; the first symbol
//                    carries the top 3 bits, so it is 0–7) and 1 check symbol.
//   display form     nine groups of three joined by "-", e.g. 3KD-9QF-0ZR-…-T7X.
//                    Triples are easy to read aloud and to find one's place in
//                    ("group six is …"), and every group has the same size.
//
// The normalised form, check symbol included, is the PBKDF2 input (docs/architecture.md §3).

import { crockfordValue, encodeCrockford } from './crockford.js'
import { luhn32CheckSymbol, luhn32IsValid } from './luhn.js'
import { randomBytes } from './webcrypto.js'
import { ReasonError } from './errors.js'

export const ROOM_CODE_BITS = 128
/** Symbols carrying the random bits: ceil(128 / 5). */
export const ROOM_CODE_PAYLOAD_LENGTH = 26
/** Payload plus one check symbol. */
export const ROOM_CODE_LENGTH = 27
export const ROOM_CODE_GROUP_SIZE = 3
export const ROOM_CODE_SEPARATOR = '-'

/** `newer-version`: a well-formed code of a later protocol version (first symbol 8–F, see src/v2/code.ts) given where only v1 codes are read. */
export type RoomCodeErrorReason = 'empty' | 'invalid-character' | 'wrong-length' | 'check-failed' | 'newer-version'

export class RoomCodeError extends ReasonError<RoomCodeErrorReason> {
  override readonly name = 'RoomCodeError'
}

/** A fresh room code in normalised form (27 symbols, no separators). */
export function generateRoomCode (): string {
  const payload = encodeCrockford(randomBytes(ROOM_CODE_BITS / 8), ROOM_CODE_PAYLOAD_LENGTH)
  return payload + luhn32CheckSymbol(payload)
}

/** Groups a room code for display and reading aloud: `ABC-DEF-…` (nine groups of three). */
export function formatRoomCode (code: string): string {
  return groupRoomCodeSymbols(normalizeRoomCode(code))
}

/** Groups an already normalised code of any version for display. Internal to the SDK. */
export function groupRoomCodeSymbols (normalised: string): string {
  return groupSymbols(normalised, ROOM_CODE_GROUP_SIZE, ROOM_CODE_SEPARATOR)
}

/** `symbols` in groups of `size` (the last may be shorter) joined by `separator`, for reading aloud. Internal to the SDK. */
export function groupSymbols (symbols: string, size: number, separator: string): string {
  const groups: string[] = []
  for (let i = 0; i < symbols.length; i += size) groups.push(symbols.slice(i, i + size))
  return groups.join(separator)
}

// Separators people and software put into codes: ASCII space and tab, line breaks from
// copy and paste, no-break and thin spaces, and every dash a text editor or phone
// keyboard substitutes for "-" (hyphen, non-breaking hyphen, figure dash, en and em
// dash, minus sign).
const SEPARATORS = new Set([
  ' ', '\t', '\n', '\r', '\u00a0', '\u2009', '\u202f',
  '-', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212'
])

// Crockford's decoding rule for the look-alike letters.
const LOOK_ALIKES: ReadonlyMap<string, string> = new Map([['O', '0'], ['I', '1'], ['L', '1']])

/** First symbols 0–7 are v1 codes, 8–F v2 codes (the two bits above the 128 random ones); G–Z are no code. */
const HIGHEST_FIRST_VALUE_OF_ANY_VERSION = 15

/**
 * Canonical form of a typed or pasted room code: upper-case (ASCII only), separators
 * dropped, O→0 and I/L→1. Throws `RoomCodeError` when nothing is left ('empty'), on any
 * other character ('invalid-character'), when the length is not 27 ('wrong-length'),
 * when the check symbol does not match or the first symbol exceeds F so the code is
 * no code of any version ('check-failed'), and for a valid v2 code, first symbol 8–F
 * ('newer-version').
 */
export function normalizeRoomCode (input: string): string {
  return normalizeRoomCodeSymbols(input, 7)
}

/**
 * The shared part of normalising a code of any protocol version: as `normalizeRoomCode`,
 * but the first symbol may be at most `maxFirstValue` (7 for v1 codes, 15 for a code of
 * either version, see src/v2/code.ts). Internal to the SDK: not exported from index.ts.
 */
export function normalizeRoomCodeSymbols (input: string, maxFirstValue: number): string {
  let out = ''
  for (const char of input) {
    if (SEPARATORS.has(char)) continue
    // ASCII-only case folding: String#toUpperCase would turn "ı" into "I" and "ſ" into "S".
    const upper = char >= 'a' && char <= 'z' ? String.fromCharCode(char.charCodeAt(0) - 32) : char
    const symbol = LOOK_ALIKES.get(upper) ?? upper
    if (crockfordValue(symbol) === undefined) {
      throw new RoomCodeError('invalid-character', `A room code cannot contain ${describeCharacter(char)}.`)
    }
    out += symbol
  }
  if (out.length === 0) throw new RoomCodeError('empty', 'Enter a room code.')
  if (out.length !== ROOM_CODE_LENGTH) {
    throw new RoomCodeError(
      'wrong-length',
      `A room code has ${ROOM_CODE_LENGTH} characters; this one has ${out.length}.`
    )
  }
  if (!luhn32IsValid(out) || crockfordValue(out[0]!)! > HIGHEST_FIRST_VALUE_OF_ANY_VERSION) {
    throw new RoomCodeError('check-failed', 'This room code has a typo: check it and try again.')
  }
  if (crockfordValue(out[0]!)! > maxFirstValue) {
    throw new RoomCodeError('newer-version', 'This code is for a newer kind of room (protocol v2) that this version of the chat cannot open.')
  }
  return out
}

export function isValidRoomCode (input: string): boolean {
  try {
    normalizeRoomCode(input)
    return true
  } catch (error) {
    if (error instanceof RoomCodeError) return false
    throw error
  }
}

function describeCharacter (char: string): string {
  const codePoint = char.codePointAt(0)!
  const printable = codePoint > 0x20 && codePoint !== 0x7f && !(codePoint >= 0x80 && codePoint < 0xa0)
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`
  return printable ? `“${char}”` : hex
}
