export { Base64urlError, decodeBase64url, encodeBase64url } from './base64url.js'
export {
  formatRoomCode,
  generateRoomCode,
  isValidRoomCode,
  normalizeRoomCode,
  ROOM_CODE_BITS,
  ROOM_CODE_GROUP_SIZE,
  ROOM_CODE_LENGTH,
  ROOM_CODE_PAYLOAD_LENGTH,
  ROOM_CODE_SEPARATOR,
  RoomCodeError,
  type RoomCodeErrorReason
} from './code.js'
export { CROCKFORD_ALPHABET } from './crockford.js'
export {
  ENVELOPE_AAD_CONTEXT,
  EnvelopeError,
  type EnvelopeErrorReason,
  IV_BYTES,
  type MessagePayload,
  openMessage,
  payloadBytes,
  type SealedEnvelope,
  sealMessage,
  type SealOptions,
  TAG_BYTES
} from './envelope.js'
export {
  deriveRoomKeys,
  FINGERPRINT_CONTEXT,
  HKDF_INFO_MESSAGE_KEY,
  HKDF_INFO_ROOM_ID,
  MASTER_SECRET_BITS,
  PBKDF2_ITERATIONS,
  PBKDF2_SALT,
  ROOM_ID_BYTES,
  roomFingerprint,
  roomHashHex,
  type RoomKeys
} from './keys.js'
export { luhn32CheckSymbol, luhn32IsValid } from './luhn.js'
export {
  MEMBER_ID_BYTES,
  MEMBER_SECRET_BYTES,
  memberIdFromSecret,
  MESSAGE_ID_BYTES,
  newMemberSecret,
  newMessageId
} from './member.js'
export { type Bucket, BUCKETS, bucketFor, MAX_PLAINTEXT_BYTES } from './padding.js'
export type { WebCryptoKey } from './webcrypto.js'
export { ChatSession, SessionCore, SessionError, type ConnectionOptions, type RevealedMessage, type SentMessage, type SessionErrorCode, type SessionEvents, type SessionOptions, type SessionState } from './session.js'
export { Emitter, type Listener } from './emitter.js'
export { defaultSocketFactory, type SocketFactory, type SocketLike } from './socket.js'
export * from './v2/index.js'
