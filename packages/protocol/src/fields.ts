/**
 * Field schemas shared by frames, requests and events. Every identifier has an
 * exact shape so that nothing else (wildcards, dots, spaces, oversize strings)
 * can pass validation.
 */
import Type from 'typebox'
import { base64urlLength, GCM_IV_BYTES, GCM_TAG_BYTES, MAX_ENVELOPE_BYTES, MAX_MLS_MESSAGE_BYTES, MAX_SEALED_GROUP_INFO_BYTES, MAX_HANDSHAKE_BYTES, MLS_MESSAGE_OVERHEAD, PADDING_BUCKETS, PROTOCOL_VERSION } from './limits.js'

/** Unpadded base64url of exactly `bytes` bytes. */
export function base64urlPattern (bytes: number): string {
  const full = Math.floor(bytes / 3) * 4
  const tail = { 0: '', 1: '[A-Za-z0-9_-][AQgw]', 2: '[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]' }[bytes % 3 as 0 | 1 | 2]
  return `^[A-Za-z0-9_-]{${full}}${tail}$`
}

export const ROOM_ID_BYTES = 32
export const MEMBER_SECRET_BYTES = 32
export const MEMBER_ID_BYTES = 16
export const MESSAGE_ID_BYTES = 16
export const GROUP_ID_BYTES = 32

export const PATTERNS = {
  roomId: base64urlPattern(ROOM_ID_BYTES),
  memberSecret: base64urlPattern(MEMBER_SECRET_BYTES),
  memberId: base64urlPattern(MEMBER_ID_BYTES),
  messageId: base64urlPattern(MESSAGE_ID_BYTES),
  groupId: base64urlPattern(GROUP_ID_BYTES),
  challenge: base64urlPattern(32),
  publicKey: base64urlPattern(32),
  signature: base64urlPattern(64),
  iv: base64urlPattern(GCM_IV_BYTES),
  roomHash: '^[0-9a-f]{64}$',
  gatewayId: '^[0-9a-f]{32}$',
  ref: '^[A-Za-z0-9_-]{1,32}$'
} as const

export const Version = Type.Literal(PROTOCOL_VERSION)
/** The room id: HKDF output the client derives from the room code (base64url, 32 bytes). */
export const RoomId = Type.String({ pattern: PATTERNS.roomId })
/** A member's random secret (base64url, 32 bytes); only the gateway sees it, only its hash goes further. */
export const MemberSecret = Type.String({ pattern: PATTERNS.memberSecret })
/** Public member id: first 16 bytes of SHA-256(member secret), base64url. */
export const MemberId = Type.String({ pattern: PATTERNS.memberId })
/** Message id: 16 random bytes chosen by the sender, base64url. */
export const MessageId = Type.String({ pattern: PATTERNS.messageId })
/** SHA-256 of the room id bytes, lower-case hex: the only room value the servers keep. */
export const RoomHash = Type.String({ pattern: PATTERNS.roomHash })
/** Random id of a gateway process (16 bytes, hex). */
export const GatewayId = Type.String({ pattern: PATTERNS.gatewayId })
/** Client-chosen correlation reference, echoed in the answer. */
export const Ref = Type.String({ pattern: PATTERNS.ref })
/** AES-GCM IV of a client envelope, base64url. */
export const Iv = Type.String({ pattern: PATTERNS.iv })
/** Client envelope ciphertext with its tag, base64url; its decoded length must be a bucket plus the tag. */
export const Ciphertext = Type.String({
  pattern: '^[A-Za-z0-9_-]+$',
  minLength: base64urlLength((PADDING_BUCKETS[0]) + GCM_TAG_BYTES),
  maxLength: base64urlLength(MAX_ENVELOPE_BYTES)
})
export const Bucket = Type.Enum(PADDING_BUCKETS)
/** Unix time in milliseconds. */
export const Timestamp = Type.Integer({ minimum: 0, maximum: 8.64e15 })
export const Count = Type.Integer({ minimum: 0, maximum: 1_000_000 })
/** Why a message no longer exists: every recipient viewed it, it expired unviewed, or those it awaited left. */
export const GoneReason = Type.Union([Type.Literal('viewed'), Type.Literal('expired'), Type.Literal('left')])
export type GoneReason = Type.Static<typeof GoneReason>

/** v2: an MLS group's epoch (RFC 9420 uint64; bounded here to what JSON numbers carry exactly). */
export const Epoch = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** v2: the gateway's random challenge (32 bytes, base64url), sent on connect. */
export const Challenge = Type.String({ pattern: PATTERNS.challenge })
/** v2: a member's Ed25519 signature public key (32 bytes, base64url). */
export const PublicKey = Type.String({ pattern: PATTERNS.publicKey })
/** v2: an Ed25519 signature (64 bytes, base64url). */
export const Signature = Type.String({ pattern: PATTERNS.signature })
/** v2: an MLS group id, 32 random bytes chosen by the member who created the group, base64url. */
export const GroupId = Type.String({ pattern: PATTERNS.groupId })
/** v2: an MLS handshake (an MLSMessage holding a PublicMessage commit), base64url; at most MAX_HANDSHAKE_BYTES. */
export const Handshake = Type.String({ pattern: '^[A-Za-z0-9_-]+$', minLength: 16, maxLength: base64urlLength(MAX_HANDSHAKE_BYTES) })
/** v2: an application message (an MLSMessage carrying a PrivateMessage), base64url; its size must fall in a bucket's window. */
export const MlsMessage = Type.String({
  pattern: '^[A-Za-z0-9_-]+$',
  minLength: base64urlLength(PADDING_BUCKETS[0] + MLS_MESSAGE_OVERHEAD.min),
  maxLength: base64urlLength(MAX_MLS_MESSAGE_BYTES)
})
/**
 * v2: the room's GroupInfo sealed by a member under the code-derived group-info key
 * (IV ‖ AES-256-GCM ciphertext ‖ tag), base64url; at most MAX_SEALED_GROUP_INFO_BYTES.
 */
export const SealedGroupInfo = Type.String({ pattern: '^[A-Za-z0-9_-]+$', minLength: base64urlLength(GCM_IV_BYTES + GCM_TAG_BYTES + 1), maxLength: base64urlLength(MAX_SEALED_GROUP_INFO_BYTES) })

/** A gateway's number for one of its WebSocket connections (unique within the gateway's life). */
export const ConnectionId = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** Orders presence counts: a later count has a higher version (a PostgreSQL sequence). */
export const PresenceVersion = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** 64 bits as 16 lower-case hex digits: a checksum of a gateway's presence. */
export const Digest = Type.String({ pattern: '^[0-9a-f]{16}$' })

/** Milliseconds after which a refused request is worth trying again. */
export const RetryAfter = Type.Integer({ minimum: 0, maximum: 60_000 })

/** What a recipient sees before opening a message: no text, only its size class and expiry. */
export const Card = Type.Object({
  id: MessageId,
  from: MemberId,
  bucket: Bucket,
  expiresAt: Timestamp,
  /** v2: the epoch it was sent in (its keys are that epoch's). */
  epoch: Type.Optional(Epoch)
}, { additionalProperties: false })
export type Card = Type.Static<typeof Card>
