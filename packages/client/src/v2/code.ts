// Room codes, protocol v2 (docs/architecture.md §10 "room code").
//
// A v2 code has the v1 format (src/code.ts): 128 random bits as 26 Crockford symbols
// plus a Luhn mod 32 check symbol. 26 symbols hold 130 bits; v1 leaves the two surplus
// high bits at 00, so its first symbol is 0–7. v2 sets them to 01, so its first symbol
// is 8–F and carries the version. Both versions keep all 128 random bits, and the two
// code spaces are disjoint: v1's normaliser refuses every v2 code (first symbol > 7).

import { CROCKFORD_ALPHABET, crockfordValue } from '../crockford.js'
import { generateRoomCode, groupRoomCodeSymbols, normalizeRoomCodeSymbols, ROOM_CODE_PAYLOAD_LENGTH } from '../code.js'
import { luhn32CheckSymbol } from '../luhn.js'

export type RoomCodeVersion = 1 | 2

/** First-symbol values: v1 is 0–7 (surplus bits 00), v2 is 8–15 (surplus bits 01). */
const V2_FIRST_SYMBOL_FLAG = 0b01000
const HIGHEST_FIRST_SYMBOL = 0b01111

/** A well-formed code of the other protocol version than the function asked for. */
export class RoomCodeVersionError extends Error {
  override readonly name = 'RoomCodeVersionError'
  readonly expected: RoomCodeVersion
  readonly found: RoomCodeVersion

  constructor (expected: RoomCodeVersion, found: RoomCodeVersion) {
    super(
      found === 1
        ? 'This is a version 1 room code; a version 2 room needs a version 2 code.'
        : 'This is a version 2 room code; this version of the app cannot open it.'
    )
    this.expected = expected
    this.found = found
  }
}

/** A fresh v2 room code in normalised form (27 symbols, first symbol 8–F). */
export function generateRoomCodeV2 (): string {
  // A v1 payload is 128 fresh random bits with the surplus bits 00; setting the lower
  // surplus bit in the first symbol keeps those 128 bits and marks version 2.
  const v1Payload = generateRoomCode().slice(0, ROOM_CODE_PAYLOAD_LENGTH)
  const first = CROCKFORD_ALPHABET[crockfordValue(v1Payload[0]!)! | V2_FIRST_SYMBOL_FLAG]!
  const payload = first + v1Payload.slice(1)
  return payload + luhn32CheckSymbol(payload)
}

/**
 * Normalises a code of either version (same rules as `normalizeRoomCode`) and says
 * which it is. Throws `RoomCodeError` for anything that is not a code of either version
 * (a first symbol G–Z is 'check-failed', like any other typo).
 */
export function parseRoomCode (input: string): { code: string, version: RoomCodeVersion } {
  const code = normalizeRoomCodeSymbols(input, HIGHEST_FIRST_SYMBOL)
  return { code, version: versionOfSymbol(code[0]!) }
}

/**
 * The protocol version of a room code: first symbol 0–7 → 1, 8–F → 2. Accepts any
 * spelling `normalizeRoomCode` accepts; throws `RoomCodeError` if it is not a code.
 */
export function codeVersion (code: string): RoomCodeVersion {
  return parseRoomCode(code).version
}

/**
 * Canonical form of a v2 code. Throws `RoomCodeError` when the input is not a code at
 * all and `RoomCodeVersionError` (found 1) for a valid v1 code.
 */
export function normalizeRoomCodeV2 (input: string): string {
  const { code, version } = parseRoomCode(input)
  if (version !== 2) throw new RoomCodeVersionError(2, version)
  return code
}

/** Groups a v2 code for display exactly like v1 (`formatRoomCode`): nine groups of three joined by "-". */
export function formatRoomCodeV2 (code: string): string {
  return groupRoomCodeSymbols(normalizeRoomCodeV2(code))
}

function versionOfSymbol (symbol: string): RoomCodeVersion {
  return (crockfordValue(symbol)! & V2_FIRST_SYMBOL_FLAG) === 0 ? 1 : 2
}
