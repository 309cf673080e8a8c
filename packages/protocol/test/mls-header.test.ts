// The clear header of an MLS handshake as the vault reads it (RFC 9420 §6). Real
// ts-mls output is read in packages/client/test/mls-v2-header.test.ts; here, the
// encodings a library may not produce but a hostile client can.
import t from 'tap'
import { bucketOfMlsMessage, HandshakeHeaderError, MAX_MLS_MESSAGE_BYTES, MLS_MESSAGE_OVERHEAD, readApplicationHeader, readHandshakeHeader } from '../src/index.js'

const u64 = (n: bigint): number[] => Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * (7 - i))) & 0xffn))
/** version, wire format, group id (with its length prefix as given), epoch, then what follows. */
const message = (groupIdPrefix: number[], groupId: number[], epoch: bigint, rest: number[]): Uint8Array =>
  Uint8Array.from([0, 1, 0, 1, ...groupIdPrefix, ...groupId, ...u64(epoch), ...rest])

const id32 = Array.from({ length: 32 }, (_, i) => i)
const memberCommit = [1, 0, 0, 0, 7, 0, 3]

t.test('a member commit: group, epoch, leaf and content type', async (t) => {
  const header = readHandshakeHeader(message([32], id32, 2n ** 40n, [...memberCommit, 9, 9, 9]))
  t.same([...header.groupId], id32)
  t.equal(header.epoch, 2n ** 40n, 'the whole 64-bit epoch')
  t.same(header.sender, { type: 'member', leafIndex: 7 })
  t.equal(header.contentType, 'commit')
  t.equal(header.authenticatedData.length, 0)
})

t.test('a vector length in its 2-byte form', async (t) => {
  const id64 = Array.from({ length: 64 }, () => 5)
  t.equal(readHandshakeHeader(message([0x40, 64], id64, 0n, memberCommit)).groupId.length, 64)
})

t.test('refused: non-minimal or invalid lengths, unknown types, another wire format, truncation', async (t) => {
  const refuse = (what: string, bytes: Uint8Array): void => { t.throws(() => readHandshakeHeader(bytes), HandshakeHeaderError, what) }
  refuse('a length of 32 in the 2-byte form', message([0x40, 32], id32, 0n, memberCommit))
  refuse('a length of 64 in the 4-byte form', message([0x80, 0, 0, 64], Array.from({ length: 64 }, () => 5), 0n, memberCommit))
  refuse('the 8-byte length form', message([0xc0, 0, 0, 0, 0, 0, 0, 32], id32, 0n, memberCommit))
  refuse('a length past the end', message([40], id32, 0n, []))
  refuse('an unknown sender type', message([32], id32, 0n, [5, 0, 3]))
  refuse('an unknown content type', message([32], id32, 0n, [1, 0, 0, 0, 0, 0, 4]))
  refuse('a member sender without its leaf index', message([32], id32, 0n, [1, 0, 0]))
  refuse('another version', Uint8Array.from([0, 2, 0, 1, 32, ...id32, ...u64(0n), ...memberCommit]))
  refuse('a welcome', Uint8Array.from([0, 1, 0, 3, 32, ...id32, ...u64(0n), ...memberCommit]))
  refuse('nothing at all', new Uint8Array(0))
  const external = readHandshakeHeader(message([32], id32, 3n, [2, 0, 0, 0, 1, 0, 2]))
  t.same(external.sender, { type: 'external' }, 'an external sender\'s index is read past')
  t.equal(external.contentType, 'proposal')
})

t.test('an application message\'s header: group, epoch, authenticated data; nothing after its ciphertext', async (t) => {
  const ad = [...new TextEncoder().encode('ephemeral-chat/v2/msg'), ...Array.from({ length: 16 }, () => 9)]
  const body = [1, ad.length, ...ad, 3, 7, 7, 7, 2, 5, 5]
  const header = readApplicationHeader(Uint8Array.from([0, 1, 0, 2, 32, ...id32, ...u64(4n), ...body]))
  t.equal(header.epoch, 4n)
  t.same([...header.authenticatedData], ad)
  t.throws(() => readApplicationHeader(Uint8Array.from([0, 1, 0, 2, 32, ...id32, ...u64(4n), ...body, 0])), HandshakeHeaderError, 'a trailing byte')
  t.throws(() => readApplicationHeader(Uint8Array.from([0, 1, 0, 2, 32, ...id32, ...u64(4n), 2, ...body.slice(1)])), HandshakeHeaderError, 'a proposal')
  t.throws(() => readApplicationHeader(Uint8Array.from([0, 1, 0, 1, 32, ...id32, ...u64(4n), ...body])), HandshakeHeaderError, 'a PublicMessage')
  t.throws(() => readApplicationHeader(Uint8Array.from([0, 1, 0, 2, 32, ...id32, ...u64(4n), ...body.slice(0, -1)])), HandshakeHeaderError, 'a ciphertext cut short')
})

t.test('a v2 message\'s bucket comes from its size: each bucket has its window, nothing between them', async (t) => {
  t.equal(bucketOfMlsMessage(256 + 199), 256)
  t.equal(bucketOfMlsMessage(16384 + 203), 16384)
  t.equal(bucketOfMlsMessage(256 + MLS_MESSAGE_OVERHEAD.min - 1), undefined, 'too small')
  t.equal(bucketOfMlsMessage(256 + MLS_MESSAGE_OVERHEAD.max), undefined, 'between two buckets')
  t.equal(bucketOfMlsMessage(MAX_MLS_MESSAGE_BYTES), undefined, 'past the largest')
  t.equal(bucketOfMlsMessage(MAX_MLS_MESSAGE_BYTES - 1), 16384)
})
