/**
 * Every limit of the product, named once. Gateways and vaults enforce them; the
 * client uses them to refuse work before it reaches the network.
 */

/** The wire protocol version carried by every frame, request, reply and event as `v`. */
export const PROTOCOL_VERSION = 1

/** Padding buckets of a plaintext, in bytes (docs/architecture.md §3): length leaks only the bucket. */
export const PADDING_BUCKETS = [256, 1024, 4096, 16384] as const
export type PaddingBucket = (typeof PADDING_BUCKETS)[number]

/** AES-GCM authentication tag appended to every ciphertext, in bytes. */
export const GCM_TAG_BYTES = 16
/** AES-GCM IV length, in bytes. */
export const GCM_IV_BYTES = 12

/** Largest client envelope ciphertext (largest bucket plus the tag), in bytes. */
export const MAX_ENVELOPE_BYTES = 16384 + GCM_TAG_BYTES

/** Characters of unpadded base64url needed for `bytes` bytes. */
export function base64urlLength (bytes: number): number {
  return Math.ceil((bytes * 4) / 3)
}

/**
 * Largest WebSocket frame a gateway accepts, in bytes; anything bigger is closed with
 * 1009. A v1 send frame carries the largest envelope as base64url (21 867 characters);
 * a v2 commit frame the largest handshake and sealed GroupInfo (21 846 + 32 768
 * characters) plus a few hundred bytes of fields.
 */
export const MAX_FRAME_BYTES = 56 * 1024

/** Largest NATS payload the vault accepts on any subject, in bytes. */
export const MAX_BUS_PAYLOAD_BYTES = 64 * 1024

/**
 * Protocol v2 (MLS rooms, docs/architecture.md §10). Largest handshake (a commit, as an
 * MLSMessage) a member may publish, in bytes. Measured: an external join into 49
 * members 0.8 KB, a removal 1.2 KB; about 4.8 KB at worst (49 HPKE recipients).
 */
export const MAX_HANDSHAKE_BYTES = 16 * 1024

/**
 * Largest sealed GroupInfo (IV ‖ ciphertext of the GroupInfo with the ratchet tree a
 * joiner needs ‖ tag), in bytes (v2). Measured with ts-mls 1.6.4 (`npm run bench:mls`):
 * 15.9 KB at 50 members with its default capabilities, 21.4 KB if every leaf carried
 * all its GREASE values.
 */
export const MAX_SEALED_GROUP_INFO_BYTES = 24 * 1024

/**
 * v2: an application message (an MLSMessage carrying a PrivateMessage) of a padded plaintext
 * of bucket b is b + MLS's framing: 199–203 bytes with ts-mls 1.6.4 (`npm run bench:mls`).
 * The vault takes b + MLS_MESSAGE_OVERHEAD.min to b + MLS_MESSAGE_OVERHEAD.max (the windows
 * of two buckets never meet), so the size leaks the bucket only, as in v1.
 */
export const MLS_MESSAGE_OVERHEAD = { min: 128, max: 640 } as const

/** Largest v2 application message, in bytes (22.7 K characters of base64url: a send frame fits MAX_FRAME_BYTES). */
export const MAX_MLS_MESSAGE_BYTES = 16384 + MLS_MESSAGE_OVERHEAD.max

/** The padding bucket of a v2 application message of `bytes` bytes, or undefined when it fits none. */
export function bucketOfMlsMessage (bytes: number): PaddingBucket | undefined {
  return PADDING_BUCKETS.find((bucket) => bytes >= bucket + MLS_MESSAGE_OVERHEAD.min && bytes < bucket + MLS_MESSAGE_OVERHEAD.max)
}

/** Handshakes returned by one group sync; a member further behind catches up in several, or joins again. */
export const MAX_HANDSHAKES_PER_SYNC = 64

/** Members (distinct member ids) one room may hold. */
export const MAX_MEMBERS_PER_ROOM = 50

/** Messages stored and not yet deleted in one room; further sends are refused with `room-busy`. */
export const MAX_PENDING_MESSAGES_PER_ROOM = 500

/** Pending cards returned in one join reply (the oldest are shown first; the rest come on the next join). */
export const MAX_PENDING_CARDS_PER_JOIN = MAX_PENDING_MESSAGES_PER_ROOM

/** Token bucket of a connection: sustained `perSecond`, bursts up to `burst`. */
export interface RateLimit {
  readonly perSecond: number
  readonly burst: number
}

/** Per-connection rates (sends; typing notices; reveal and viewed together; everything else). */
export const RATE_LIMITS = {
  send: { perSecond: 5, burst: 20 },
  typing: { perSecond: 2, burst: 5 },
  reveal: { perSecond: 20, burst: 60 },
  control: { perSecond: 10, burst: 30 }
} as const satisfies Record<string, RateLimit>

/** Bad frames or rate overruns tolerated on one connection before it is closed with 1008. */
export const MAX_VIOLATIONS_PER_CONNECTION = 20

/** Open WebSocket connections per client address on one gateway. */
export const MAX_CONNECTIONS_PER_ADDRESS = 32

/** Longest nickname inside an encrypted payload, in characters (enforced by clients only: the server never sees it). */
export const MAX_NICK_CHARS = 32

/** Default time a message lives unviewed before the sweeper deletes it, in milliseconds (24 h). */
export const DEFAULT_MESSAGE_TTL_MS = 24 * 60 * 60 * 1000

/** Milliseconds a vault request may take before the gateway reports `unavailable`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000

/** Connections per chunk when a gateway sends its presence to the vault to reconcile it (~50 KB of JSON). */
export const PRESENCE_SYNC_CHUNK = 400

/** Interval of gateway heartbeats to the vault, and how many may be missed before its members count as gone. */
export const HEARTBEAT_INTERVAL_MS = 5000
export const HEARTBEAT_MISSES_ALLOWED = 3

/** WebSocket close codes the gateway uses. */
export const CLOSE_CODES = {
  goingAway: 1001,
  policyViolation: 1008,
  tooBig: 1009,
  tryAgainLater: 1013
} as const

/** The bucket an envelope ciphertext of `bytes` bytes belongs to, or undefined when it fits none exactly. */
export function bucketOfCiphertext (bytes: number): PaddingBucket | undefined {
  return PADDING_BUCKETS.find((bucket) => bucket + GCM_TAG_BYTES === bytes)
}
