// Every fixed parameter of the protocol v2 derivations (docs/architecture.md §10), in one
// place so the SDK, its test vectors and the gateway read the same values. Labels are
// UTF-8 bytes; `‖` is concatenation.

import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, MAX_SEALED_GROUP_INFO_BYTES, MEMBER_ID_LABEL_V2, MESSAGE_AD_LABEL_V2, WS_CHALLENGE_BYTES, WS_JOIN_LABEL_V2 } from '@ephemeral-chat/protocol'

/** The PBKDF2 salt of the master secret; its iterations (600 000) and length (256 bits) are v1's (src/keys.ts). */
export const PBKDF2_SALT_V2 = 'ephemeral-chat/v2/room'

export const HKDF_INFO_ROOM_ID_V2 = 'ephemeral-chat/v2/room-id'
export const HKDF_INFO_GROUP_INFO_KEY = 'ephemeral-chat/v2/group-info'
export const HKDF_INFO_JOIN_KEY = 'ephemeral-chat/v2/join'
export const HKDF_INFO_MEMBER_SIGN = 'ephemeral-chat/v2/member-sign'

export const MEMBER_ID_CONTEXT_V2 = MEMBER_ID_LABEL_V2
export const MEMBER_FINGERPRINT_CONTEXT = 'ephemeral-chat/v2/fingerprint'
export const WS_JOIN_CONTEXT = WS_JOIN_LABEL_V2
export const JOIN_PROOF_CONTEXT = 'ephemeral-chat/v2/join'
export const GROUP_INFO_AAD_CONTEXT = 'ephemeral-chat/v2/group-info'
export const MESSAGE_AAD_CONTEXT_V2 = MESSAGE_AD_LABEL_V2

/** HKDF output length of every code key (room id, GroupInfo key, join key). */
export const CODE_KEY_BYTES = 32
/** Ed25519 private key seed (RFC 8032) and public key. */
export const ED25519_SEED_BYTES = 32
export { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES }
/** Leading bytes of SHA-256 kept as the member id (as v1). */
export const MEMBER_ID_BYTES_V2 = 16
/** Leading bytes of SHA-256 shown as a member fingerprint: 80 bits, 16 Crockford symbols. */
export const MEMBER_FINGERPRINT_BYTES = 10
export const MEMBER_FINGERPRINT_GROUP_SIZE = 4
export const MEMBER_FINGERPRINT_SEPARATOR = ' '
/** The gateway's challenge sent on connect. */
export { WS_CHALLENGE_BYTES }
/** MLS group id: 32 random bytes chosen by the member who creates the group. */
export const GROUP_ID_BYTES = 32
/** HMAC-SHA256 output. */
export const JOIN_PROOF_BYTES = 32
/** MLS epochs are uint64 (RFC 9420 §6): encoded as 8 bytes big-endian. */
export const EPOCH_BYTES = 8
export const MAX_EPOCH = (1n << 64n) - 1n
export const GROUP_INFO_IV_BYTES = 12
export const GROUP_INFO_TAG_BYTES = 16
/**
 * The largest GroupInfo we seal: what the vault accepts sealed (MAX_SEALED_GROUP_INFO_BYTES,
 * 24 KiB) less IV and tag. A GroupInfo carrying the ratchet tree of a full room (50
 * members) is about 16 KB; the bound keeps a hostile or broken peer from making a client
 * encrypt or decrypt megabytes.
 */
export const MAX_GROUP_INFO_BYTES = MAX_SEALED_GROUP_INFO_BYTES - GROUP_INFO_IV_BYTES - GROUP_INFO_TAG_BYTES
