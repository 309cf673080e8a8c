import t from 'tap'
import {
  codeVersion,
  CROCKFORD_ALPHABET,
  deriveRoomKeysV2,
  formatRoomCode,
  formatRoomCodeV2,
  generateRoomCode,
  generateRoomCodeV2,
  luhn32CheckSymbol,
  normalizeRoomCode,
  normalizeRoomCodeV2,
  parseRoomCode,
  RoomCodeError,
  RoomCodeVersionError
} from '../src/index.js'

const V2_PATTERN = /^[89A-F][0-9A-HJKMNP-TV-Z]{26}$/

/** A code with a valid check symbol whose payload starts with `first`. */
function withFirstSymbol (first: string): string {
  const payload = first + generateRoomCode().slice(1, 26)
  return payload + luhn32CheckSymbol(payload)
}

void t.test('a generated v2 code is 27 symbols, first symbol 8–F, and its check passes', (t) => {
  for (let i = 0; i < 100; i++) {
    const code = generateRoomCodeV2()
    t.match(code, V2_PATTERN)
    t.equal(normalizeRoomCodeV2(code), code)
    t.same(parseRoomCode(code), { code, version: 2 })
  }
  t.end()
})

void t.test('1000 v2 codes are distinct and their first symbol carries 3 random bits', (t) => {
  const codes = Array.from({ length: 1000 }, generateRoomCodeV2)
  t.equal(new Set(codes).size, 1000)
  t.same([...new Set(codes.map((code) => code[0]))].sort(), [...'89ABCDEF'])
  t.equal(new Set(codes.flatMap((code) => [...code.slice(1, 26)])).size, 32)
  t.end()
})

void t.test('v1 still generates v1 codes only, and the two code spaces do not overlap', (t) => {
  for (let i = 0; i < 1000; i++) {
    const v1 = generateRoomCode()
    t.equal(codeVersion(v1), 1)
    t.match(v1, /^[0-7]/)
  }
  for (let i = 0; i < 200; i++) {
    const v2 = generateRoomCodeV2()
    t.throws(() => normalizeRoomCode(v2), { name: 'RoomCodeError', reason: 'newer-version' }, 'a v1 client refuses a v2 code, saying it is newer')
  }
  t.end()
})

void t.test('codeVersion reads the first symbol: 0–7 is v1, 8–F is v2', (t) => {
  for (const symbol of CROCKFORD_ALPHABET.slice(0, 8)) t.equal(codeVersion(withFirstSymbol(symbol)), 1, symbol)
  for (const symbol of CROCKFORD_ALPHABET.slice(8, 16)) t.equal(codeVersion(withFirstSymbol(symbol)), 2, symbol)
  t.end()
})

void t.test('a first symbol G–Z is no code of either version', (t) => {
  for (const symbol of CROCKFORD_ALPHABET.slice(16)) {
    const code = withFirstSymbol(symbol)
    t.throws(() => codeVersion(code), { name: 'RoomCodeError', reason: 'check-failed' }, symbol)
    t.throws(() => normalizeRoomCodeV2(code), RoomCodeError)
  }
  t.end()
})

void t.test('a v1 code given to a v2 function is refused as the wrong version, before any work', async (t) => {
  const v1 = formatRoomCode(generateRoomCode())
  const error = t.throws(() => normalizeRoomCodeV2(v1), RoomCodeVersionError) as RoomCodeVersionError
  t.equal(error.expected, 2)
  t.equal(error.found, 1)
  t.match(error.message, /version 1 room code/)
  t.throws(() => formatRoomCodeV2(v1), RoomCodeVersionError)
  await t.rejects(deriveRoomKeysV2(v1), RoomCodeVersionError)
})

void t.test('v2 codes are normalised like v1 codes: case, separators, look-alikes, typos', (t) => {
  const code = generateRoomCodeV2()
  const shown = formatRoomCodeV2(code)
  t.match(shown, /^[89A-F][0-9A-Z]{2}(-[0-9A-Z]{3}){8}$/)
  t.equal(normalizeRoomCodeV2(shown.toLowerCase().replace(/-/g, ' ')), code)
  t.equal(normalizeRoomCodeV2(code.replace(/0/g, 'o').replace(/1/g, 'l')), code)
  t.throws(() => normalizeRoomCodeV2(''), { name: 'RoomCodeError', reason: 'empty' })
  t.throws(() => normalizeRoomCodeV2(code.slice(1)), { name: 'RoomCodeError', reason: 'wrong-length' })
  t.throws(() => normalizeRoomCodeV2(code.slice(0, 26) + '!'), { name: 'RoomCodeError', reason: 'invalid-character' })
  const typo = code.slice(0, 5) + (code[5] === 'X' ? 'Y' : 'X') + code.slice(6)
  t.throws(() => normalizeRoomCodeV2(typo), { name: 'RoomCodeError', reason: 'check-failed' })
  t.end()
})
