// Length hiding (docs/architecture.md §3 "plaintext"): the plaintext is followed by one 0x80 byte
// and then zeros up to the smallest bucket that fits, so a ciphertext's length reveals
// only its bucket. (ISO/IEC 7816-4 padding: unambiguous for any plaintext.)

import { PADDING_BUCKETS, type PaddingBucket } from '@ephemeral-chat/protocol'

/** The padding buckets of docs/architecture.md §3, as the protocol names them. */
export const BUCKETS = PADDING_BUCKETS
export type Bucket = PaddingBucket

const PADDING_MARKER = 0x80

/** The largest plaintext that fits: the biggest bucket less the marker byte (16 383). */
export const MAX_PLAINTEXT_BYTES = BUCKETS[3] - 1

/** The smallest bucket holding `plaintextBytes` plus the marker byte, or undefined if none does. */
export function bucketFor (plaintextBytes: number): Bucket | undefined {
  return BUCKETS.find((bucket) => plaintextBytes + 1 <= bucket)
}

export function isBucket (length: number): length is Bucket {
  return (BUCKETS as readonly number[]).includes(length)
}

/** `plaintext ‖ 0x80 ‖ zeros`, exactly `bucket` bytes long. */
export function pad (plaintext: Uint8Array, bucket: Bucket): Uint8Array<ArrayBuffer> {
  if (plaintext.length + 1 > bucket) throw new RangeError('plaintext does not fit the bucket')
  const padded = new Uint8Array(bucket)
  padded.set(plaintext)
  padded[plaintext.length] = PADDING_MARKER
  return padded
}

/** The plaintext before the final 0x80 marker, or undefined if the padding is not well formed. */
export function unpad (padded: Uint8Array): Uint8Array | undefined {
  let end = padded.length - 1
  while (end >= 0 && padded[end] === 0) end--
  if (end < 0 || padded[end] !== PADDING_MARKER) return undefined
  return padded.subarray(0, end)
}
