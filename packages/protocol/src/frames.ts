/**
 * WebSocket frames between a client and a gateway (JSON text frames). Every frame
 * carries the protocol version `v` and a `type` discriminator.
 */
import Type from 'typebox'
import { ERROR_CODES } from './errors.js'
import { Bucket, Card, Challenge, Ciphertext, Count, Epoch, GoneReason, GroupId, Handshake, Iv, MemberId, MemberSecret, MessageId, MlsMessage, PublicKey, Ref, RetryAfter, RoomId, SealedGroupInfo, Signature, Timestamp, Version } from './fields.js'
import { MAX_HANDSHAKES_PER_SYNC, MAX_MEMBERS_PER_ROOM, MAX_PENDING_CARDS_PER_JOIN } from './limits.js'

const closed = { additionalProperties: false } as const
const ref = Type.Optional(Ref)

// ── client → gateway ────────────────────────────────────────────────────────

/** Enter a room. The gateway turns roomId into its hash and memberSecret into the member id, then forgets both. */
export const JoinFrame = Type.Object({ v: Version, type: Type.Literal('join'), ref, roomId: RoomId, memberSecret: MemberSecret }, closed)
/** Store a sealed envelope for the other members; answered by `sent` once the vault has it. Resending the same id is safe. */
export const SendFrame = Type.Object({ v: Version, type: Type.Literal('send'), ref, id: MessageId, iv: Iv, ct: Ciphertext }, closed)
/** Ask for the envelope of a card addressed to this member; answered by `payload`. */
export const RevealFrame = Type.Object({ v: Version, type: Type.Literal('reveal'), ref, id: MessageId }, closed)
/** Confirm the text was displayed; the vault forgets this recipient (and the message with its last one). */
export const ViewedFrame = Type.Object({ v: Version, type: Type.Literal('viewed'), ref, id: MessageId }, closed)
/** Typing started (`active`) or stopped. */
export const TypingFrame = Type.Object({ v: Version, type: Type.Literal('typing'), active: Type.Boolean() }, closed)
/** Leave the room for good: this member's pending messages are dropped. */
export const LeaveFrame = Type.Object({ v: Version, type: Type.Literal('leave'), ref }, closed)
/** Application-level keep-alive; answered by `pong`. */
export const PingFrame = Type.Object({ v: Version, type: Type.Literal('ping'), ref }, closed)

// Protocol v2 (MLS rooms, docs/architecture.md §10–§11). `viewed`, `typing`, `leave` and `ping` are shared.

/**
 * Enter a v2 room: the room id, the member's Ed25519 public key and its signature over
 * "ephemeral-chat/v2/ws-join" ‖ the connection's challenge ‖ the room id bytes. The gateway
 * derives the member id from the key; the member secret never leaves the client.
 */
export const JoinV2Frame = Type.Object({ v: Version, type: Type.Literal('join-v2'), ref, roomId: RoomId, publicKey: PublicKey, signature: Signature }, closed)
/** Store an MLS application message made in `epoch` (vault group.send); answered by `sent`. */
export const SendV2Frame = Type.Object({ v: Version, type: Type.Literal('send-v2'), ref, id: MessageId, epoch: Epoch, message: MlsMessage }, closed)
/** Ask for the MLS message of a card addressed to this member (vault group.read); answered by `payload-v2`. */
export const ReadFrame = Type.Object({ v: Version, type: Type.Literal('read'), ref, id: MessageId }, closed)
/** Create the room's group (no handshake) or commit in `epoch` (vault group.commit); answered by `committed`. */
export const CommitFrame = Type.Object({
  v: Version, type: Type.Literal('commit'), ref, groupId: GroupId, epoch: Epoch,
  handshake: Type.Optional(Handshake), groupInfo: SealedGroupInfo,
  removed: Type.Optional(Type.Array(MemberId, { maxItems: MAX_MEMBERS_PER_ROOM }))
}, closed)
/** Where the room's group stands, or the handshakes since an epoch (vault group.state); answered by `group`. */
export const GroupFrame = Type.Object({ v: Version, type: Type.Literal('group'), ref, since: Type.Optional(Epoch) }, closed)

export const ClientFrame = Type.Union([JoinFrame, SendFrame, RevealFrame, ViewedFrame, TypingFrame, LeaveFrame, PingFrame, JoinV2Frame, SendV2Frame, ReadFrame, CommitFrame, GroupFrame])
export type ClientFrame = Type.Static<typeof ClientFrame>
export type ClientFrameType = ClientFrame['type']
export const CLIENT_FRAME_TYPES = ['join', 'send', 'reveal', 'viewed', 'typing', 'leave', 'ping', 'join-v2', 'send-v2', 'read', 'commit', 'group'] as const satisfies readonly ClientFrameType[]

// ── gateway → client ────────────────────────────────────────────────────────

/** The join succeeded: this member's id, how many members are present, and the cards waiting for it. */
export const JoinedFrame = Type.Object({
  v: Version, type: Type.Literal('joined'), ref, memberId: MemberId, members: Count,
  pending: Type.Array(Card, { maxItems: MAX_PENDING_CARDS_PER_JOIN }),
  /** v2: the epoch the room's group is at (absent: no group yet). */
  groupEpoch: Type.Optional(Epoch)
}, closed)
/**
 * The vault stored the sender's message; `recipients` is 0 when it waits for the next member to join.
 * `gone`: a resend of a message stored earlier and already deleted since (it is not stored again).
 */
export const SentFrame = Type.Object({ v: Version, type: Type.Literal('sent'), ref, id: MessageId, recipients: Count, expiresAt: Timestamp, gone: Type.Optional(GoneReason) }, closed)
/** A message card for this member: no text, only who, size class and expiry. */
export const MessageFrame = Type.Object({ v: Version, type: Type.Literal('message'), id: MessageId, from: MemberId, bucket: Bucket, expiresAt: Timestamp, epoch: Type.Optional(Epoch) }, closed)
/** The envelope of a revealed message, still end-to-end encrypted. */
export const PayloadFrame = Type.Object({ v: Version, type: Type.Literal('payload'), ref, id: MessageId, iv: Iv, ct: Ciphertext }, closed)
/** A recipient viewed the sender's message; `remaining` recipients have not yet. */
export const ViewedReceiptFrame = Type.Object({ v: Version, type: Type.Literal('viewed'), ref, id: MessageId, remaining: Count }, closed)
/** The message no longer exists: viewed by everyone, expired, or its recipients left. */
export const GoneFrame = Type.Object({
  v: Version, type: Type.Literal('gone'), id: MessageId,
  reason: GoneReason
}, closed)
/** Another member started or stopped typing. */
export const TypingNoticeFrame = Type.Object({ v: Version, type: Type.Literal('typing'), from: MemberId, active: Type.Boolean() }, closed)
/** How many members are connected to the room now. */
export const PresenceFrame = Type.Object({ v: Version, type: Type.Literal('presence'), members: Count }, closed)
/** The member left: the answer to `leave`. */
export const LeftFrame = Type.Object({ v: Version, type: Type.Literal('left'), ref }, closed)
export const PongFrame = Type.Object({ v: Version, type: Type.Literal('pong'), ref }, closed)
/**
 * A request failed; `ref` and `id` say which, `message` is generic. The connection stays open.
 * With `unavailable`, `retryAfterMs` says when trying again is worthwhile.
 */
export const ErrorFrame = Type.Object({
  v: Version, type: Type.Literal('error'), ref, id: Type.Optional(MessageId),
  code: Type.Enum(ERROR_CODES),
  message: Type.String({ maxLength: 200 }),
  retryAfterMs: Type.Optional(RetryAfter)
}, closed)

/** v2: sent on connect; a v2 join signs it. A v1 client ignores it. */
export const ChallengeFrame = Type.Object({ v: Version, type: Type.Literal('challenge'), challenge: Challenge }, closed)
/** v2: the MLS message of a revealed card, still end-to-end encrypted. */
export const PayloadV2Frame = Type.Object({ v: Version, type: Type.Literal('payload-v2'), ref, id: MessageId, message: MlsMessage }, closed)
/** v2: the vault accepted the commit (or the creation); the room's group is at `epoch`. */
export const CommittedFrame = Type.Object({ v: Version, type: Type.Literal('committed'), ref, epoch: Epoch }, closed)
/** v2: the answer to `group`, as the vault's group.state. */
export const GroupStateFrame = Type.Object({
  v: Version, type: Type.Literal('group'), ref,
  group: Type.Optional(Type.Object({ groupId: GroupId, epoch: Epoch, groupInfo: Type.Optional(SealedGroupInfo) }, closed)),
  handshakes: Type.Array(Type.Object({ epoch: Epoch, handshake: Handshake }, closed), { maxItems: MAX_HANDSHAKES_PER_SYNC }),
  complete: Type.Boolean(),
  gap: Type.Boolean()
}, closed)
/** v2: another member's commit made in `epoch` was accepted: the room's group is now at `epoch` + 1. */
export const HandshakeFrame = Type.Object({ v: Version, type: Type.Literal('handshake'), epoch: Epoch, from: MemberId, handshake: Handshake }, closed)

/** v2: a member of the group was away longer than the message TTL: a member still here should commit its removal. */
export const AbsentFrame = Type.Object({ v: Version, type: Type.Literal('absent'), memberId: MemberId }, closed)

export const ServerFrame = Type.Union([
  JoinedFrame, SentFrame, MessageFrame, PayloadFrame, ViewedReceiptFrame, GoneFrame,
  TypingNoticeFrame, PresenceFrame, LeftFrame, PongFrame, ErrorFrame,
  ChallengeFrame, PayloadV2Frame, CommittedFrame, GroupStateFrame, HandshakeFrame, AbsentFrame
])
export type ServerFrame = Type.Static<typeof ServerFrame>
export type ServerFrameType = ServerFrame['type']

export type JoinFrame = Type.Static<typeof JoinFrame>
export type SendFrame = Type.Static<typeof SendFrame>
export type RevealFrame = Type.Static<typeof RevealFrame>
export type ViewedFrame = Type.Static<typeof ViewedFrame>
export type TypingFrame = Type.Static<typeof TypingFrame>
export type LeaveFrame = Type.Static<typeof LeaveFrame>
export type PingFrame = Type.Static<typeof PingFrame>
export type JoinedFrame = Type.Static<typeof JoinedFrame>
export type SentFrame = Type.Static<typeof SentFrame>
export type MessageFrame = Type.Static<typeof MessageFrame>
export type PayloadFrame = Type.Static<typeof PayloadFrame>
export type ViewedReceiptFrame = Type.Static<typeof ViewedReceiptFrame>
export type GoneFrame = Type.Static<typeof GoneFrame>
export type TypingNoticeFrame = Type.Static<typeof TypingNoticeFrame>
export type PresenceFrame = Type.Static<typeof PresenceFrame>
export type ErrorFrame = Type.Static<typeof ErrorFrame>
export type JoinV2Frame = Type.Static<typeof JoinV2Frame>
export type SendV2Frame = Type.Static<typeof SendV2Frame>
export type ReadFrame = Type.Static<typeof ReadFrame>
export type CommitFrame = Type.Static<typeof CommitFrame>
export type GroupFrame = Type.Static<typeof GroupFrame>
export type ChallengeFrame = Type.Static<typeof ChallengeFrame>
export type HandshakeFrame = Type.Static<typeof HandshakeFrame>
