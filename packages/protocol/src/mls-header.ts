/**
 * Reads the clear header of an MLS handshake (RFC 9420 §6: an MLSMessage holding a
 * PublicMessage) so that the vault can order a room's commits without understanding
 * MLS: which group, which epoch, what kind of content, and who sent it. Nothing past
 * the header is read, and nothing here verifies a signature or a membership tag:
 * members do that. A header that is malformed, truncated or not a handshake is refused.
 */

/** RFC 9420 §6: `mls10`. */
const MLS_10 = 1
/** RFC 9420 §6: WireFormat. */
const WIRE_FORMAT_PUBLIC_MESSAGE = 1
const WIRE_FORMAT_PRIVATE_MESSAGE = 2

/**
 * The label that opens a v2 application message's authenticated data, followed by the
 * 16-byte message id (docs/architecture.md §10 "message"): MLS authenticates it with the
 * content, and the vault checks it names the message id the message is stored under.
 */
export const MESSAGE_AD_LABEL_V2 = 'ephemeral-chat/v2/msg'

/** What a v2 member signs to join through a gateway: this label ‖ the gateway's challenge ‖ the room id bytes (docs/architecture.md §10). */
export const WS_JOIN_LABEL_V2 = 'ephemeral-chat/v2/ws-join'
/** A v2 member id: base64url of the first 16 bytes of SHA-256(this label ‖ Ed25519 public key). */
export const MEMBER_ID_LABEL_V2 = 'ephemeral-chat/v2/member-id'
/** Bytes of the gateway's challenge, of an Ed25519 public key and of a signature. */
export const WS_CHALLENGE_BYTES = 32
export const ED25519_PUBLIC_KEY_BYTES = 32
export const ED25519_SIGNATURE_BYTES = 64
/** RFC 9420 §6: ContentType. */
export const MLS_CONTENT_TYPES = { application: 1, proposal: 2, commit: 3 } as const
/** RFC 9420 §6: SenderType. */
export const MLS_SENDER_TYPES = { member: 1, external: 2, newMemberProposal: 3, newMemberCommit: 4 } as const

export type MlsContentType = keyof typeof MLS_CONTENT_TYPES
export type MlsSenderType = keyof typeof MLS_SENDER_TYPES

export interface HandshakeHeader {
  groupId: Uint8Array
  epoch: bigint
  sender: { type: 'member', leafIndex: number } | { type: Exclude<MlsSenderType, 'member'> }
  contentType: MlsContentType
  /** The framed content's authenticated data (v2 puts the join proof of an external commit here). */
  authenticatedData: Uint8Array
}

export class HandshakeHeaderError extends Error {
  constructor (what: string) {
    super(`not the MLS message expected: ${what}`)
    this.name = 'HandshakeHeaderError'
  }
}

class Reader {
  #at = 0
  constructor (private readonly bytes: Uint8Array) {}

  #take (n: number, what: string): Uint8Array {
    if (this.#at + n > this.bytes.length) throw new HandshakeHeaderError(`${what} is truncated`)
    const part = this.bytes.subarray(this.#at, this.#at + n)
    this.#at += n
    return part
  }

  atEnd (): boolean {
    return this.#at === this.bytes.length
  }

  uint (bytes: 1 | 2 | 4, what: string): number {
    let value = 0
    for (const byte of this.#take(bytes, what)) value = value * 256 + byte
    return value
  }

  uint64 (what: string): bigint {
    let value = 0n
    for (const byte of this.#take(8, what)) value = (value << 8n) | BigInt(byte)
    return value
  }

  /** An `opaque <V>` vector: a variable-length integer (RFC 9420 §2.1.2, 1, 2 or 4 bytes), then that many bytes. */
  vector (what: string): Uint8Array {
    const first = this.uint(1, what)
    const prefix = first >> 6
    if (prefix === 3) throw new HandshakeHeaderError(`${what} has an invalid length prefix`)
    let length = first & 0x3f
    const more = prefix === 0 ? 0 : prefix === 1 ? 1 : 3
    for (let i = 0; i < more; i++) length = length * 256 + this.uint(1, what)
    // RFC 9420 §2.1.2: the length must use the shortest encoding.
    if ((prefix === 1 && length < 64) || (prefix === 2 && length < 16384)) throw new HandshakeHeaderError(`${what} has a length that is not minimally encoded`)
    return this.#take(length, what)
  }
}

const CONTENT_TYPES = new Map<number, MlsContentType>(Object.entries(MLS_CONTENT_TYPES).map(([name, value]) => [value, name as MlsContentType]))
const SENDER_TYPES = new Map<number, MlsSenderType>(Object.entries(MLS_SENDER_TYPES).map(([name, value]) => [value, name as MlsSenderType]))

/** What both kinds of message begin with: version, wire format, group id, epoch. */
function readPrefix (message: Uint8Array, wireFormat: number, name: string): { reader: Reader, groupId: Uint8Array, epoch: bigint } {
  const reader = new Reader(message)
  if (reader.uint(2, 'the version') !== MLS_10) throw new HandshakeHeaderError('the version is not mls10')
  if (reader.uint(2, 'the wire format') !== wireFormat) throw new HandshakeHeaderError(`the wire format is not ${name}`)
  return { reader, groupId: reader.vector('the group id'), epoch: reader.uint64('the epoch') }
}

/** The header of an MLSMessage that carries a PublicMessage; throws HandshakeHeaderError for anything else. */
export function readHandshakeHeader (message: Uint8Array): HandshakeHeader {
  const { reader, groupId, epoch } = readPrefix(message, WIRE_FORMAT_PUBLIC_MESSAGE, 'public_message')
  const senderType = SENDER_TYPES.get(reader.uint(1, 'the sender type'))
  if (senderType === undefined) throw new HandshakeHeaderError('the sender type is unknown')
  const sender: HandshakeHeader['sender'] = senderType === 'member'
    ? { type: 'member', leafIndex: reader.uint(4, 'the leaf index') }
    : { type: senderType }
  if (senderType === 'external') reader.uint(4, 'the sender index')
  const authenticatedData = reader.vector('the authenticated data')
  const contentType = CONTENT_TYPES.get(reader.uint(1, 'the content type'))
  if (contentType === undefined) throw new HandshakeHeaderError('the content type is unknown')
  return { groupId, epoch, sender, contentType, authenticatedData }
}

export interface ApplicationHeader {
  groupId: Uint8Array
  epoch: bigint
  /** Only `application` is accepted: v2 sends handshakes as PublicMessage. */
  contentType: 'application'
  authenticatedData: Uint8Array
}

/**
 * The clear header of an MLSMessage that carries a PrivateMessage with application data
 * (RFC 9420 §6.3: group id, epoch, content type, authenticated data; sender and content are
 * encrypted). Throws HandshakeHeaderError for anything else.
 */
export function readApplicationHeader (message: Uint8Array): ApplicationHeader {
  const { reader, groupId, epoch } = readPrefix(message, WIRE_FORMAT_PRIVATE_MESSAGE, 'private_message')
  if (reader.uint(1, 'the content type') !== MLS_CONTENT_TYPES.application) throw new HandshakeHeaderError('the content type is not application')
  const authenticatedData = reader.vector('the authenticated data')
  reader.vector('the encrypted sender data')
  reader.vector('the ciphertext')
  if (!reader.atEnd()) throw new HandshakeHeaderError('bytes follow the ciphertext')
  return { groupId, epoch, contentType: 'application', authenticatedData }
}
