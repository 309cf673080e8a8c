import t from 'tap'
import {
  CROCKFORD_ALPHABET,
  formatRoomCode,
  generateRoomCode,
  isValidRoomCode,
  luhn32CheckSymbol,
  normalizeRoomCode,
  RoomCodeError,
  type RoomCodeErrorReason
} from '../src/index.js'

const CODE_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{26}$/

function reasonOf (input: string): RoomCodeErrorReason | undefined {
  try {
    normalizeRoomCode(input)
    return undefined
  } catch (error) {
    if (error instanceof RoomCodeError) return error.reason
    throw error
  }
}

/** A valid code whose payload is `prefix` followed by random symbols. */
function codeStartingWith (prefix: string): string {
  const payload = (prefix + generateRoomCode().slice(prefix.length)).slice(0, 26)
  return payload + luhn32CheckSymbol(payload)
}

void t.test('a generated code is 27 Crockford symbols whose check passes', (t) => {
  for (let i = 0; i < 100; i++) {
    const code = generateRoomCode()
    t.match(code, CODE_PATTERN)
    t.equal(normalizeRoomCode(code), code)
    t.ok(isValidRoomCode(code))
  }
  t.end()
})

void t.test('1000 generated codes are distinct and use the whole alphabet', (t) => {
  const codes = Array.from({ length: 1000 }, generateRoomCode)
  t.equal(new Set(codes).size, 1000)
  const firsts = new Set(codes.map((code) => code[0]))
  t.same([...firsts].sort(), [...'01234567'], 'the first symbol carries 3 bits')
  const rest = new Set(codes.flatMap((code) => [...code.slice(1)]))
  t.equal(rest.size, 32)
  t.end()
})

void t.test('a code is displayed as nine groups of three', (t) => {
  const code = generateRoomCode()
  const shown = formatRoomCode(code)
  t.match(shown, /^([0-9A-Z]{3}-){8}[0-9A-Z]{3}$/)
  t.equal(normalizeRoomCode(shown), code)
  t.equal(formatRoomCode(shown.toLowerCase()), shown, 'formatting accepts any spelling')
  t.throws(() => formatRoomCode('abc'), RoomCodeError)
  t.end()
})

void t.test('normalisation ignores case, spaces and dashes', (t) => {
  const code = generateRoomCode()
  const grouped = formatRoomCode(code)
  for (const spelling of [
    code.toLowerCase(),
    grouped,
    grouped.toLowerCase(),
    grouped.replaceAll('-', ' '),
    grouped.replaceAll('-', '\t'),
    grouped.replaceAll('-', ' - '),
    grouped.replaceAll('-', '\u2013'),
    grouped.replaceAll('-', '\u2014'),
    grouped.replaceAll('-', '\u00a0'),
    `  ${grouped}\n`,
    [...code].join(' ')
  ]) {
    t.equal(normalizeRoomCode(spelling), code, JSON.stringify(spelling))
  }
  t.end()
})

void t.test('normalisation reads O as 0 and I or L as 1', (t) => {
  const code = codeStartingWith('0101')
  const confused = 'OiOL' + code.slice(4)
  t.equal(normalizeRoomCode(confused), code)
  t.equal(normalizeRoomCode(confused.toLowerCase()), code)
  t.equal(normalizeRoomCode(code.replaceAll('0', 'o').replaceAll('1', 'l')), code)
  t.end()
})

void t.test('any other character is invalid and named in the message', (t) => {
  const code = generateRoomCode()
  for (const char of ['U', 'u', '*', '~', '$', '=', '_', '.', '/', 'é', 'ı', 'ſ', 'Ａ', '😀', '\u0000', '\u200b']) {
    const input = code.slice(0, 10) + char + code.slice(10)
    t.equal(reasonOf(input), 'invalid-character', JSON.stringify(char))
  }
  t.throws(() => normalizeRoomCode(code + 'U'), { name: 'RoomCodeError', message: /“U”/ })
  t.throws(() => normalizeRoomCode(code + '\u0000'), { message: /U\+0000/ })
  t.end()
})

void t.test('nothing but separators is empty', (t) => {
  for (const input of ['', ' ', '\t\n', '- -', '\u2013']) {
    t.equal(reasonOf(input), 'empty', JSON.stringify(input))
  }
  t.throws(() => normalizeRoomCode(''), { message: 'Enter a room code.' })
  t.end()
})

void t.test('too few or too many symbols is the wrong length', (t) => {
  const code = generateRoomCode()
  t.equal(reasonOf(code.slice(0, 26)), 'wrong-length')
  t.equal(reasonOf(code.slice(1)), 'wrong-length')
  t.equal(reasonOf(code + '0'), 'wrong-length')
  t.equal(reasonOf('ABC'), 'wrong-length')
  t.throws(() => normalizeRoomCode('ABC'), { message: 'A room code has 27 characters; this one has 3.' })
  t.end()
})

void t.test('a first symbol 8–F is a newer (v2) code, not a typo; above F it fails the check', (t) => {
  for (const first of ['8', 'F']) {
    const payload = first + generateRoomCode().slice(1, 26)
    t.equal(reasonOf(payload + luhn32CheckSymbol(payload)), 'newer-version', first)
  }
  const payload = 'G' + generateRoomCode().slice(1, 26)
  t.equal(reasonOf(payload + luhn32CheckSymbol(payload)), 'check-failed', 'G cannot come from 130 bits')
  t.end()
})

void t.test('every single-symbol substitution is caught', (t) => {
  let substitutions = 0
  for (let n = 0; n < 20; n++) {
    const code = generateRoomCode()
    for (let position = 0; position < code.length; position++) {
      for (const symbol of CROCKFORD_ALPHABET) {
        if (symbol === code[position]) continue
        const typo = code.slice(0, position) + symbol + code.slice(position + 1)
        if (reasonOf(typo) !== 'check-failed') t.fail(`${typo} passed as ${code}`)
        substitutions++
      }
    }
  }
  t.equal(substitutions, 20 * 27 * 31)
  t.end()
})

void t.test('every adjacent transposition of distinct symbols is caught, except 0 and Z', (t) => {
  let caught = 0
  for (let n = 0; n < 200; n++) {
    const code = generateRoomCode()
    for (let position = 0; position + 1 < code.length; position++) {
      const a = code[position]!
      const b = code[position + 1]!
      if (a === b) continue
      const swapped = code.slice(0, position) + b + a + code.slice(position + 2)
      const blindSpot = (a === '0' && b === 'Z') || (a === 'Z' && b === '0')
      if (!blindSpot && reasonOf(swapped) !== 'check-failed') t.fail(`${swapped} passed as ${code}`)
      if (!blindSpot) caught++
    }
  }
  t.ok(caught > 200 * 20, `${caught} transpositions caught`)
  t.end()
})

void t.test('known limit: swapping an adjacent 0 and Z passes the check (like 09/90 in decimal Luhn)', (t) => {
  const code = codeStartingWith('70Z')
  const swapped = '7Z0' + code.slice(3)
  t.not(swapped, code)
  t.equal(normalizeRoomCode(swapped), swapped)
  t.end()
})

void t.test('isValidRoomCode says whether a code normalises', (t) => {
  const code = generateRoomCode()
  t.equal(isValidRoomCode(formatRoomCode(code).toLowerCase()), true)
  t.equal(isValidRoomCode(code.slice(1)), false)
  t.equal(isValidRoomCode(''), false)
  t.equal(isValidRoomCode('U'.repeat(27)), false)
  t.end()
})
