/**
 * What v2's MLS messages look like to the vault (RFC 9420 §6): a clear header, then bytes it
 * never reads. That the vault's readers read what the pinned ts-mls really writes is tested in
 * packages/client (mls-v2-header.test.ts).
 */
import { randomBytes } from 'node:crypto'

/** RFC 9420 §2.1.2 vector: a 1, 2 or 4 byte length, then the bytes. */
function vector (bytes: Buffer): Buffer {
  const n = bytes.length
  const prefix = n < 64 ? [n] : n < 16384 ? [0x40 | (n >> 8), n & 0xff] : [0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
  return Buffer.concat([Buffer.from(prefix), bytes])
}

function epochBytes (epoch: number): Buffer {
  const bytes = Buffer.alloc(8)
  bytes.writeBigUInt64BE(BigInt(epoch))
  return bytes
}

/** A PublicMessage commit made in `epoch` by a member (leaf 0) or a new member (an external commit); `rest` is what follows the header. */
export function commitBytes (groupId: string, epoch: number, sender: 'member' | 'external', rest: Buffer | number = 300): string {
  const body = typeof rest === 'number' ? randomBytes(rest) : rest
  return Buffer.concat([Buffer.from([0, 1, 0, 1]), vector(Buffer.from(groupId, 'base64url')), epochBytes(epoch),
    Buffer.from(sender === 'member' ? [1, 0, 0, 0, 0] : [4]), Buffer.from([0, 3]), body]).toString('base64url')
}

/**
 * A PrivateMessage application message of `bucket` bytes of padded plaintext, 199 bytes over the
 * bucket as ts-mls makes them, with authenticated data "ephemeral-chat/v2/msg" ‖ message id
 * (or `ad`); `marker` opens its ciphertext.
 */
export function mlsMessage (groupId: string, epoch: number, messageId: string, options: { bucket?: number, marker?: Buffer, ad?: Buffer } = {}): string {
  const ad = options.ad ?? Buffer.concat([Buffer.from('ephemeral-chat/v2/msg'), Buffer.from(messageId, 'base64url')])
  const head = Buffer.concat([Buffer.from([0, 1, 0, 2]), vector(Buffer.from(groupId, 'base64url')), epochBytes(epoch), Buffer.from([1]), vector(ad), vector(randomBytes(24))])
  const target = (options.bucket ?? 256) + 199
  const marker = options.marker ?? Buffer.alloc(0)
  let size = target - head.length - 2
  if (size >= 16384) size -= 2
  return Buffer.concat([head, vector(Buffer.concat([marker, randomBytes(size - marker.length)]))]).toString('base64url')
}

/** A sealed GroupInfo as the vault sees it: opaque bytes (IV ‖ ciphertext ‖ tag), `marker` among them. */
export function sealedInfo (marker: Buffer = randomBytes(8)): string {
  return Buffer.concat([randomBytes(12), marker, randomBytes(200)]).toString('base64url')
}
