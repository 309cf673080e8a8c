// Luhn mod N (https://en.wikipedia.org/wiki/Luhn_mod_N_algorithm) with N = 32 over the
// Crockford alphabet: one check symbol that is itself a Crockford symbol.
//
// Why not Crockford's own mod-37 check symbols: they add `*`, `~`, `$`, `=` and `U`,
// which are awkward to read aloud, to type on a phone, and (`U`) excluded from the
// alphabet for a reason. Luhn mod 32 stays inside the 32 plain symbols.
//
// What it guarantees (checked exhaustively in test/luhn.test.ts):
// - Every single-symbol substitution is detected. Symbols in odd positions (from the
//   right, check symbol included) count as v; the others as d(v) = 2v for v < 16 and
//   2v − 31 for v ≥ 16. Because N is even, d is a permutation of 0..31, so changing one
//   symbol always changes the sum mod 32.
// - Every transposition of two adjacent distinct symbols is detected EXCEPT 0 ↔ Z
//   (values 0 and 31), the base-32 twin of decimal Luhn's blind 09 ↔ 90. Swapping a and
//   b leaves the sum unchanged iff d(a) − a ≡ d(b) − b (mod 32); d(v) − v is v for
//   v < 16 and v − 31 for v ≥ 16, which collide only for {0, 31}.
// - It does not promise to catch jump transpositions (abc → cba), twin errors
//   (aa → bb) or multiple errors; a code with such a typo most likely fails the check
//   anyway (probability 1/32 to slip through) and otherwise names an empty room.

import { CROCKFORD_ALPHABET, crockfordValue } from './crockford.js'

const N = 32

function luhnSum (symbols: string, doubleFirstFromRight: boolean): number | undefined {
  let sum = 0
  let double = doubleFirstFromRight
  for (let i = symbols.length - 1; i >= 0; i--) {
    const value = crockfordValue(symbols[i]!)
    if (value === undefined) return undefined
    const addend = double ? 2 * value : value
    sum += Math.floor(addend / N) + (addend % N)
    double = !double
  }
  return sum % N
}

/** The check symbol to append to `payload` (upper-case Crockford symbols). */
export function luhn32CheckSymbol (payload: string): string {
  const sum = luhnSum(payload, true)
  if (sum === undefined) throw new RangeError('payload contains a symbol outside the Crockford alphabet')
  return CROCKFORD_ALPHABET[(N - sum) % N]!
}

/** Whether `symbols` (payload followed by its check symbol) passes the check. */
export function luhn32IsValid (symbols: string): boolean {
  return symbols.length > 0 && luhnSum(symbols, false) === 0
}
