// The guarantees claimed in src/luhn.ts, checked exhaustively over symbol values.
import t from 'tap'
import { CROCKFORD_ALPHABET, luhn32CheckSymbol, luhn32IsValid } from '../src/index.js'

const randomPayload = (length: number) =>
  Array.from({ length }, () => CROCKFORD_ALPHABET[Math.floor(Math.random() * 32)]!).join('')

void t.test('a payload with its check symbol is valid', (t) => {
  for (let i = 0; i < 200; i++) {
    const payload = randomPayload(1 + (i % 30))
    t.ok(luhn32IsValid(payload + luhn32CheckSymbol(payload)))
  }
  t.equal(luhn32CheckSymbol('0'.repeat(26)), '0')
  t.notOk(luhn32IsValid(''))
  t.throws(() => luhn32CheckSymbol('U'), RangeError)
  t.end()
})

void t.test('every single substitution at every position, check symbol included, is detected', (t) => {
  for (let n = 0; n < 10; n++) {
    const payload = randomPayload(26)
    const valid = payload + luhn32CheckSymbol(payload)
    for (let position = 0; position < valid.length; position++) {
      for (const symbol of CROCKFORD_ALPHABET) {
        if (symbol === valid[position]) continue
        const typo = valid.slice(0, position) + symbol + valid.slice(position + 1)
        if (luhn32IsValid(typo)) t.fail(`undetected substitution ${valid} → ${typo}`)
      }
    }
  }
  t.pass('all substitutions detected')
  t.end()
})

void t.test('adjacent transpositions of all 992 ordered pairs at every payload position: only 0 ↔ Z is missed', (t) => {
  const missed = new Set<string>()
  for (let position = 0; position + 1 < 26; position++) {
    const base = randomPayload(26)
    for (const a of CROCKFORD_ALPHABET) {
      for (const b of CROCKFORD_ALPHABET) {
        if (a === b) continue
        const payload = base.slice(0, position) + a + b + base.slice(position + 2)
        const valid = payload + luhn32CheckSymbol(payload)
        const swapped = base.slice(0, position) + b + a + base.slice(position + 2) + valid.slice(26)
        if (luhn32IsValid(swapped)) missed.add(a + b)
      }
    }
  }
  t.same([...missed].sort(), ['0Z', 'Z0'])
  t.end()
})

void t.test('swapping the last payload symbol with the check symbol is detected unless they are 0 and Z', (t) => {
  for (let n = 0; n < 50; n++) {
    for (const last of CROCKFORD_ALPHABET) {
      const payload = randomPayload(25) + last
      const check = luhn32CheckSymbol(payload)
      if (check === last) continue
      const swapped = payload.slice(0, 25) + check + last
      const blindSpot = (last === '0' && check === 'Z') || (last === 'Z' && check === '0')
      t.equal(luhn32IsValid(swapped), blindSpot, `${payload}${check} → ${swapped}`)
    }
  }
  t.end()
})
