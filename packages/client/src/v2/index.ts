// Protocol v2 (MLS rooms): the code-derived keys and member identity around the MLS
// group. See docs/architecture.md §10.
export { encodeEpoch } from './bytes.js'
export { isSmallOrderEd25519Key, joinChallengeMessage, signJoinChallenge, verifyJoinChallenge } from './challenge.js'
export {
  codeVersion,
  formatRoomCodeV2,
  generateRoomCodeV2,
  normalizeRoomCodeV2,
  parseRoomCode,
  RoomCodeVersionError,
  type RoomCodeVersion
} from './code.js'
export {
  GroupInfoError,
  type GroupInfoErrorReason,
  groupInfoAdditionalData,
  MAX_SEALED_GROUP_INFO_BYTES,
  openGroupInfo,
  sealGroupInfo
} from './group-info.js'
export { computeJoinProof, joinProofMessage, verifyJoinProof } from './join-proof.js'
export { deriveRoomKeysV2, type RoomKeysV2 } from './keys.js'
export {
  deriveMemberKeysV2,
  ED25519_PKCS8_PREFIX,
  importEd25519Seed,
  memberFingerprint,
  memberIdFromPublicKey,
  type MemberKeysV2
} from './member.js'
export { messageAuthenticatedData, messageIdFromAuthenticatedData } from './message.js'
export * from './params.js'
export { CIPHER_SUITE_V2, GroupCheckError, KEY_RETENTION, LEAF_LIMITS, RoomGroup, suiteV2, type GroupCheckReason } from './group.js'
export { ChatSessionV2, type GroupStore, type SessionV2Options } from './session.js'
