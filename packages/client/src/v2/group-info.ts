// Sealed GroupInfo, protocol v2 (docs/architecture.md §10 "sealed GroupInfo"):
//
//   sealed = IV (12 random bytes) ‖ AES-256-GCM(groupInfoKey, IV, GroupInfo, AAD) ‖ tag (16)
//   AAD    = "ephemeral-chat/v2/group-info" ‖ room id bytes (32) ‖ epoch (uint64 BE)
//
// The server stores and serves the latest sealed GroupInfo of a room without being able
// to read it (it holds the group's public tree and external public key, which would tell
// the server who is in the room). The AAD binds it to its room and epoch: a server that
// serves another room's GroupInfo, or an old one under a new epoch, is detected.

import { ROOM_ID_BYTES } from '@ephemeral-chat/protocol'
import { concatBytes, randomBytes, subtle, utf8 } from '../webcrypto.js'
import { copyBytes, encodeEpoch, requireBytes } from './bytes.js'
import type { RoomKeysV2 } from './keys.js'
import { GROUP_INFO_AAD_CONTEXT, GROUP_INFO_IV_BYTES, GROUP_INFO_TAG_BYTES, MAX_GROUP_INFO_BYTES } from './params.js'
import { ReasonError } from '../errors.js'

export type GroupInfoErrorReason =
  /** seal: the GroupInfo is empty or larger than MAX_GROUP_INFO_BYTES. */
  | 'size'
  /** open: shorter than IV + tag + 1 byte, or longer than the largest sealed GroupInfo. */
  | 'malformed'
  /** open: the tag does not verify (tampered, another room, another epoch, another code). */
  | 'authentication'

export class GroupInfoError extends ReasonError<GroupInfoErrorReason> {
  override readonly name = 'GroupInfoError'
}

/** The largest sealed GroupInfo: IV + MAX_GROUP_INFO_BYTES + tag (the protocol's MAX_SEALED_GROUP_INFO_BYTES). */
export const MAX_SEALED_GROUP_INFO_BYTES = GROUP_INFO_IV_BYTES + MAX_GROUP_INFO_BYTES + GROUP_INFO_TAG_BYTES

export function groupInfoAdditionalData (roomIdBytes: Uint8Array, epoch: bigint | number): Uint8Array<ArrayBuffer> {
  requireBytes(roomIdBytes, ROOM_ID_BYTES, 'room id')
  return concatBytes(utf8(GROUP_INFO_AAD_CONTEXT), roomIdBytes, encodeEpoch(epoch))
}

/** Seals the TLS-encoded GroupInfo (or MLSMessage carrying it) of `epoch` for the room of `keys`, under a fresh random IV. */
export async function sealGroupInfo (
  keys: RoomKeysV2,
  epoch: bigint | number,
  groupInfo: Uint8Array
): Promise<Uint8Array<ArrayBuffer>> {
  return sealGroupInfoWithIv(keys, epoch, groupInfo, randomBytes(GROUP_INFO_IV_BYTES))
}

/**
 * `sealGroupInfo` with a given IV, for the test vectors only: reusing an IV under the room's
 * long-lived GroupInfo key would break AES-GCM (confidentiality and authentication), so this
 * is not exported from the SDK's index.
 */
export async function sealGroupInfoWithIv (
  keys: RoomKeysV2,
  epoch: bigint | number,
  groupInfo: Uint8Array,
  fixedIv: Uint8Array
): Promise<Uint8Array<ArrayBuffer>> {
  if (!(groupInfo instanceof Uint8Array)) throw new TypeError('GroupInfo must be a Uint8Array')
  if (groupInfo.length === 0 || groupInfo.length > MAX_GROUP_INFO_BYTES) {
    throw new GroupInfoError('size', `GroupInfo must be 1 to ${MAX_GROUP_INFO_BYTES} bytes, got ${groupInfo.length}`)
  }
  const aad = groupInfoAdditionalData(keys.roomIdBytes, epoch)
  const iv = copyBytes(fixedIv)
  requireBytes(iv, GROUP_INFO_IV_BYTES, 'IV')
  const ct = await subtle().encrypt(
    { name: 'AES-GCM', iv, additionalData: aad, tagLength: GROUP_INFO_TAG_BYTES * 8 },
    keys.groupInfoKey,
    copyBytes(groupInfo)
  )
  return concatBytes(iv, new Uint8Array(ct))
}

/**
 * Opens a sealed GroupInfo that claims to be of `epoch` in the room of `keys`. Throws
 * `GroupInfoError` ('malformed' or 'authentication'); never returns unauthenticated bytes.
 */
export async function openGroupInfo (
  keys: RoomKeysV2,
  epoch: bigint | number,
  sealed: Uint8Array
): Promise<Uint8Array<ArrayBuffer>> {
  const aad = groupInfoAdditionalData(keys.roomIdBytes, epoch)
  if (!(sealed instanceof Uint8Array)) throw new TypeError('sealed GroupInfo must be a Uint8Array')
  if (sealed.length < GROUP_INFO_IV_BYTES + GROUP_INFO_TAG_BYTES + 1 || sealed.length > MAX_SEALED_GROUP_INFO_BYTES) {
    throw new GroupInfoError(
      'malformed',
      `sealed GroupInfo must be ${GROUP_INFO_IV_BYTES + GROUP_INFO_TAG_BYTES + 1} to ${MAX_SEALED_GROUP_INFO_BYTES} bytes, got ${sealed.length}`
    )
  }
  const bytes = copyBytes(sealed)
  try {
    return new Uint8Array(
      await subtle().decrypt(
        { name: 'AES-GCM', iv: bytes.subarray(0, GROUP_INFO_IV_BYTES), additionalData: aad, tagLength: GROUP_INFO_TAG_BYTES * 8 },
        keys.groupInfoKey,
        bytes.subarray(GROUP_INFO_IV_BYTES)
      )
    )
  } catch {
    throw new GroupInfoError('authentication', 'GroupInfo does not authenticate for this room and epoch')
  }
}
