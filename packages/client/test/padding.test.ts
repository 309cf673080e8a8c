import t from 'tap'
import { BUCKETS, bucketFor, MAX_PLAINTEXT_BYTES } from '../src/index.js'
import { pad, unpad } from '../src/padding.js'

void t.test('buckets and the largest plaintext', (t) => {
  t.same(BUCKETS, [256, 1024, 4096, 16384])
  t.equal(MAX_PLAINTEXT_BYTES, 16383)
  t.end()
})

void t.test('bucketFor picks the smallest bucket holding the plaintext and the marker', (t) => {
  t.equal(bucketFor(0), 256)
  t.equal(bucketFor(255), 256)
  t.equal(bucketFor(256), 1024)
  t.equal(bucketFor(1023), 1024)
  t.equal(bucketFor(1024), 4096)
  t.equal(bucketFor(4095), 4096)
  t.equal(bucketFor(4096), 16384)
  t.equal(bucketFor(16383), 16384)
  t.equal(bucketFor(16384), undefined)
  t.end()
})

void t.test('pad appends 0x80 and zeros; unpad inverts it', (t) => {
  for (const length of [0, 1, 100, 255]) {
    const plaintext = new Uint8Array(length).fill(0x80)
    const padded = pad(plaintext, 256)
    t.equal(padded.length, 256)
    t.equal(padded[length], 0x80)
    t.same([...unpad(padded)!], [...plaintext])
  }
  t.throws(() => pad(new Uint8Array(256), 256), RangeError)
  t.end()
})

void t.test('unpad refuses a missing marker or data after it', (t) => {
  t.equal(unpad(new Uint8Array(256)), undefined)
  t.equal(unpad(new Uint8Array(0)), undefined)
  t.equal(unpad(Uint8Array.of(1, 2, 0, 0)), undefined)
  t.equal(unpad(Uint8Array.of(0x80, 0, 1)), undefined)
  t.same([...unpad(Uint8Array.of(0, 0x80, 0))!], [0])
  t.end()
})
