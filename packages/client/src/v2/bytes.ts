// Checks and encodings shared by the v2 derivations. Wrong input is a programming or
// wire error, never something to guess around, so each check names the value and the
// length it needs.

import { EPOCH_BYTES, MAX_EPOCH } from './params.js'

/** Throws `TypeError` unless `value` is a Uint8Array, `RangeError` unless it has `length` bytes. */
export function requireBytes (value: unknown, length: number, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`)
  if (value.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${value.length}`)
}

/**
 * An MLS epoch (uint64, RFC 9420) as 8 bytes big-endian. Takes a bigint (as ts-mls
 * gives it) or a safe non-negative integer number; anything else throws `RangeError`
 * (or `TypeError` for another type).
 */
export function encodeEpoch (epoch: bigint | number): Uint8Array<ArrayBuffer> {
  let value: bigint
  if (typeof epoch === 'bigint') {
    value = epoch
  } else if (typeof epoch === 'number') {
    if (!Number.isSafeInteger(epoch)) throw new RangeError(`epoch must be an integer, got ${epoch}`)
    value = BigInt(epoch)
  } else {
    throw new TypeError('epoch must be a bigint or a number')
  }
  if (value < 0n || value > MAX_EPOCH) throw new RangeError(`epoch must be between 0 and 2^64 - 1, got ${value}`)
  const out = new Uint8Array(EPOCH_BYTES)
  new DataView(out.buffer).setBigUint64(0, value, false)
  return out
}

/** A copy backed by its own ArrayBuffer, as Web Crypto's typings want. */
export function copyBytes (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}
