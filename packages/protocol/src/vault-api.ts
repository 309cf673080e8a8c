/**
 * NATS request/reply between gateways and the vault (subjects in subjects.ts) and
 * the fan-out events every gateway receives on `room.<hash>.events`. JSON bodies.
 */
import Type, { type TSchema } from 'typebox'
import { ERROR_CODES } from './errors.js'
import { Bucket, Card, Ciphertext, ConnectionId, Count, Digest, Epoch, PresenceVersion, GatewayId, GoneReason, GroupId, Handshake, Iv, MemberId, MessageId, MlsMessage, RetryAfter, RoomHash, SealedGroupInfo, Timestamp, Version } from './fields.js'
import { AbsentFrame, GoneFrame, TypingNoticeFrame } from './frames.js'
import { MAX_HANDSHAKES_PER_SYNC, MAX_MEMBERS_PER_ROOM, MAX_PENDING_CARDS_PER_JOIN, PRESENCE_SYNC_CHUNK } from './limits.js'

const closed = { additionalProperties: false } as const

/** Every failed reply: a code from the closed union, its generic message, and for `unavailable` when to try again. */
export const FailedReply = Type.Object({
  v: Version, ok: Type.Literal(false),
  code: Type.Enum(ERROR_CODES),
  message: Type.String({ maxLength: 200 }),
  retryAfterMs: Type.Optional(RetryAfter)
}, closed)
export type FailedReply = Type.Static<typeof FailedReply>

/**
 * When the requester stops waiting (Unix ms). The vault drops a request whose deadline has
 * passed before it costs anything and does not answer it. Without one the vault allows
 * DEFAULT_REQUEST_TIMEOUT_MS from arrival.
 */
const deadline = Type.Optional(Timestamp)

function reply<T extends Record<string, TSchema>> (fields: T) {
  return Type.Union([Type.Object({ v: Version, ok: Type.Literal(true), ...fields }, closed), FailedReply])
}

/**
 * A member (re)enters a room through a gateway. The vault creates room and member as needed, assigns
 * waiting messages to it, and returns its pending cards and how its own messages stand (`receipts`
 * for those somebody viewed, `gone` for those deleted since), which it may have missed while away.
 */
export const RoomJoinRequest = Type.Object({
  v: Version, deadline, roomHash: RoomHash, memberId: MemberId, gatewayId: GatewayId, connectionId: ConnectionId,
  /** The room's protocol version as the member knows it from its code (1 when absent): the join that creates a room sets it, one of the other version is `protocol-mismatch`. */
  protocol: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)]))
}, closed)
export const RoomJoinReply = reply({
  members: Count,
  /** Orders this count among the room's presence events (see PresenceEvent). */
  presenceVersion: PresenceVersion,
  pending: Type.Array(Card, { maxItems: MAX_PENDING_CARDS_PER_JOIN }),
  receipts: Type.Array(Type.Object({ id: MessageId, remaining: Count }, closed), { maxItems: MAX_PENDING_CARDS_PER_JOIN }),
  gone: Type.Array(Type.Object({ id: MessageId, reason: GoneReason }, closed), { maxItems: MAX_PENDING_CARDS_PER_JOIN }),
  /** v2: the epoch the room's group is at (absent: no group yet): a member coming back knows whether it is behind. */
  groupEpoch: Type.Optional(Epoch)
})

/**
 * A member's connection ends (`disconnect`: still a member, its pending messages
 * wait for its return) or the member leaves for good (`leave`: its pending
 * messages are dropped).
 */
export const RoomLeaveRequest = Type.Object({
  v: Version, deadline, roomHash: RoomHash, memberId: MemberId, gatewayId: GatewayId, connectionId: ConnectionId,
  mode: Type.Union([Type.Literal('disconnect'), Type.Literal('leave')])
}, closed)
export const RoomLeaveReply = reply({ members: Count })

/** Store a sealed envelope from `memberId` for every other member of the room. Idempotent on `id`. */
export const MessageStoreRequest = Type.Object({ v: Version, deadline, roomHash: RoomHash, memberId: MemberId, id: MessageId, iv: Iv, ct: Ciphertext }, closed)
export const MessageStoreReply = reply({
  recipients: Type.Array(MemberId, { maxItems: MAX_MEMBERS_PER_ROOM }),
  bucket: Bucket,
  expiresAt: Timestamp,
  /** True when this id was stored before: the reply repeats the first result. */
  duplicate: Type.Boolean(),
  /** Set when it was stored before and has since been deleted (until its expiry an id is never stored twice). */
  gone: Type.Optional(GoneReason)
})

/** A recipient asks for an envelope it has not yet viewed. */
export const MessageFetchRequest = Type.Object({ v: Version, deadline, roomHash: RoomHash, memberId: MemberId, id: MessageId }, closed)
export const MessageFetchReply = reply({ iv: Iv, ct: Ciphertext })

/** A recipient confirms it viewed a message. Repeating it is harmless. */
export const MessageAckRequest = Type.Object({ v: Version, deadline, roomHash: RoomHash, memberId: MemberId, id: MessageId }, closed)
export const MessageAckReply = reply({
  /** Recipients that have not yet viewed it. */
  remaining: Count,
  /** True when this ack deleted the message. */
  gone: Type.Boolean()
})

/**
 * A gateway is alive; members it holds stay present. It says how many connections it holds
 * and their digest; `resync` in the reply asks it to send them (gateway.sync) because the
 * vault's presence rows for it differ.
 */
export const GatewayHeartbeatRequest = Type.Object({
  v: Version, deadline, gatewayId: GatewayId,
  /** How often it beats; three missed beats and its members' presence goes. */
  intervalMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
  connections: Count, digest: Digest
}, closed)
export const GatewayHeartbeatReply = reply({ resync: Type.Boolean() })

/** One chunk of a gateway's presence: its connections numbered from `from` (inclusive) to `to` (exclusive) are exactly `entries`. */
export const GatewaySyncRequest = Type.Object({
  v: Version, deadline, gatewayId: GatewayId, from: ConnectionId, to: ConnectionId,
  entries: Type.Array(Type.Object({ connectionId: ConnectionId, roomHash: RoomHash, memberId: MemberId }, closed), { maxItems: PRESENCE_SYNC_CHUNK })
}, closed)
export const GatewaySyncReply = reply({})

// ── protocol v2: the room's MLS group (docs/architecture.md §11) ──────────────

/**
 * A member moves the room's group on, compare-and-set on the epoch: accepted only if the
 * room is at `epoch` of group `groupId`, else `stale-epoch` (another commit won: sync, then
 * try again on top of it). Without `handshake` it creates the group: accepted only while
 * the room has none, with `epoch` 0. With one, `handshake` is the commit made in `epoch`
 * (its clear header must say so, see mls-header.ts) and the room moves to `epoch` + 1. An
 * external commit (a member joining) makes its sender a member of the group from then on.
 * `groupInfo` is the new epoch's GroupInfo, sealed by the member; the vault seals it again
 * at rest. `removed` are the members the commit removes (they stop being recipients, and
 * their pending messages go as if they had left).
 */
export const GroupCommitRequest = Type.Object({
  v: Version, deadline, roomHash: RoomHash, memberId: MemberId, groupId: GroupId, epoch: Epoch,
  handshake: Type.Optional(Handshake),
  groupInfo: SealedGroupInfo,
  removed: Type.Optional(Type.Array(MemberId, { maxItems: MAX_MEMBERS_PER_ROOM }))
}, closed)
export const GroupCommitReply = reply({ epoch: Epoch })

/**
 * A member asks where the room's group stands. Without `since` (a member about to join):
 * the group and its latest sealed GroupInfo, or no `group` when the room has none yet (the
 * member creates it). With `since` (a member of the group at that epoch, not before it joined): the handshakes
 * from it on, in epoch order, as many as fit one reply; `complete` when they reach the
 * current epoch, `gap` when one of them is no longer kept (the member must join again).
 */
export const GroupStateRequest = Type.Object({ v: Version, deadline, roomHash: RoomHash, memberId: MemberId, since: Type.Optional(Epoch) }, closed)
export const GroupStateReply = reply({
  group: Type.Optional(Type.Object({ groupId: GroupId, epoch: Epoch, groupInfo: Type.Optional(SealedGroupInfo) }, closed)),
  handshakes: Type.Array(Type.Object({ epoch: Epoch, handshake: Handshake }, closed), { maxItems: MAX_HANDSHAKES_PER_SYNC }),
  complete: Type.Boolean(),
  gap: Type.Boolean()
})

/**
 * v2: store an application message (an MLS PrivateMessage) from `memberId` for every other
 * member of the room's group, bound to `epoch`: accepted only at the room's current epoch
 * (else `stale-epoch`), from a member of the group (else `not-joined`), with somebody else in
 * the group (else `alone`: it waits on the sender's device, never on the server, for a
 * future member could not open it). Its clear header must name the room's group, that
 * epoch, application content and authenticated data `MESSAGE_AD_LABEL_V2` ‖ id (else
 * `bad-frame`). Idempotent on `id`, answered as message.store.
 */
export const GroupSendRequest = Type.Object({ v: Version, deadline, roomHash: RoomHash, memberId: MemberId, id: MessageId, epoch: Epoch, message: MlsMessage }, closed)
export const GroupSendReply = MessageStoreReply

/** v2: a recipient asks for an application message it has not yet viewed (confirmed with message.ack). */
export const GroupReadRequest = MessageFetchRequest
export const GroupReadReply = reply({ message: MlsMessage })

// ── fan-out events on room.<hash>.events ───────────────────────────────────

/** A message was stored: gateways show a card to the local members in `recipients`. */
export const MessageEvent = Type.Object({
  v: Version, type: Type.Literal('message'), id: MessageId, from: MemberId,
  recipients: Type.Array(MemberId, { maxItems: MAX_MEMBERS_PER_ROOM }), bucket: Bucket, expiresAt: Timestamp,
  /** v2: the epoch it was sent in (absent for v1). */
  epoch: Type.Optional(Epoch)
}, closed)
/** A recipient viewed a message: gateways tell its sender (`to`). */
export const ViewedEvent = Type.Object({ v: Version, type: Type.Literal('viewed'), id: MessageId, to: MemberId, remaining: Count }, closed)
/** A message was deleted: gateways tell every local member of the room, as this very frame. */
export const GoneEvent = GoneFrame
/** A member typed: gateways tell every other local member, as this very frame. */
export const TypingEvent = TypingNoticeFrame
/**
 * The number of connected members changed. `version` grows with every count the vaults
 * compute: a gateway keeps the highest it has seen per room and drops older counts that
 * arrive late (two vault replicas publish in no guaranteed order).
 */
export const PresenceEvent = Type.Object({ v: Version, type: Type.Literal('presence'), members: Count, version: PresenceVersion }, closed)

/** v2: a commit was accepted (the room is now at `epoch` + 1): gateways relay it to every local member but its sender. */
export const HandshakeEvent = Type.Object({ v: Version, type: Type.Literal('handshake'), epoch: Epoch, from: MemberId, handshake: Handshake }, closed)

/**
 * v2: a member of the room's group was away longer than the message TTL and is forgotten by
 * the vault; it is still in the MLS group until a member commits its removal. Relayed to
 * every member as this very frame.
 */
export const AbsentEvent = AbsentFrame

export const RoomEvent = Type.Union([MessageEvent, ViewedEvent, GoneEvent, TypingEvent, PresenceEvent, HandshakeEvent, AbsentEvent])

export type RoomJoinRequest = Type.Static<typeof RoomJoinRequest>
export type RoomJoinReply = Type.Static<typeof RoomJoinReply>
export type RoomLeaveRequest = Type.Static<typeof RoomLeaveRequest>
export type RoomLeaveReply = Type.Static<typeof RoomLeaveReply>
export type MessageStoreRequest = Type.Static<typeof MessageStoreRequest>
export type MessageStoreReply = Type.Static<typeof MessageStoreReply>
export type MessageFetchRequest = Type.Static<typeof MessageFetchRequest>
export type MessageFetchReply = Type.Static<typeof MessageFetchReply>
export type MessageAckRequest = Type.Static<typeof MessageAckRequest>
export type MessageAckReply = Type.Static<typeof MessageAckReply>
export type GatewayHeartbeatRequest = Type.Static<typeof GatewayHeartbeatRequest>
export type GatewayHeartbeatReply = Type.Static<typeof GatewayHeartbeatReply>
export type GatewaySyncRequest = Type.Static<typeof GatewaySyncRequest>
export type GatewaySyncReply = Type.Static<typeof GatewaySyncReply>
export type GroupCommitRequest = Type.Static<typeof GroupCommitRequest>
export type GroupCommitReply = Type.Static<typeof GroupCommitReply>
export type GroupStateRequest = Type.Static<typeof GroupStateRequest>
export type GroupStateReply = Type.Static<typeof GroupStateReply>
export type HandshakeEvent = Type.Static<typeof HandshakeEvent>
export type AbsentEvent = Type.Static<typeof AbsentEvent>
export type GroupSendRequest = Type.Static<typeof GroupSendRequest>
export type GroupSendReply = Type.Static<typeof GroupSendReply>
export type GroupReadRequest = Type.Static<typeof GroupReadRequest>
export type GroupReadReply = Type.Static<typeof GroupReadReply>
export type MessageEvent = Type.Static<typeof MessageEvent>
export type ViewedEvent = Type.Static<typeof ViewedEvent>
export type GoneEvent = Type.Static<typeof GoneEvent>
export type TypingEvent = Type.Static<typeof TypingEvent>
export type PresenceEvent = Type.Static<typeof PresenceEvent>
export type RoomEvent = Type.Static<typeof RoomEvent>
