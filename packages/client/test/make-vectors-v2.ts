// Regenerates test/vectors-v2.json (protocol v2 derivations, docs/architecture.md §10) with
// the SDK itself. Every input below was drawn at random once and is fixed from now on;
// test/vectors-v2.test.ts checks the SDK still reproduces the file and
// test/vectors-v2-crosscheck.test.ts recomputes it with node:crypto alone. Run after
// `npx tsc -b`:
//
//   node packages/client/dist/test/make-vectors-v2.js > packages/client/test/vectors-v2.json

import {
  computeJoinProof,
  deriveMemberKeysV2,
  deriveRoomKeysV2,
  formatRoomCodeV2,
  joinChallengeMessage,
  messageAuthenticatedData,
  normalizeRoomCodeV2,
  signJoinChallenge
} from '../src/index.js'
import { sealGroupInfoWithIv } from '../src/v2/group-info.js'
import { hkdfParams } from '../src/keys.js'
import { deriveMasterV2 } from '../src/v2/keys.js'
import { CODE_KEY_BYTES, HKDF_INFO_GROUP_INFO_KEY, HKDF_INFO_JOIN_KEY } from '../src/v2/params.js'

const CODES = [
  // Typed by a person: lower case, spaces, an en dash, O for 0, I and L for 1.
  'clp mgj–s2b-gws fve qcg ewg-jnx-y36',
  formatRoomCodeV2('AF8BHP1BJCHN770S2AZVYTJSBDE'),
  formatRoomCodeV2('A9TYQZYC9A0FJ4GXZK8YD2M0JGY'),
  // The smallest and the largest 128-bit values as v2 codes.
  formatRoomCodeV2('80000000000000000000000000R'),
  formatRoomCodeV2('FZZZZZZZZZZZZZZZZZZZZZZZZZA')
]

const MEMBER_SECRETS = [
  'vIWZCGfbIJcTBMaxQvcQPCaa9Wmqv1Lg8HoMo4-2aLY',
  'SoHQXN5mytbx5lch1J0O4DO5B_Dy2j2T1Fke9BPlJTY',
  '43a23NPXaziS_drGUJgnpFjEkxV5eJNvasmqs85VFSI',
  // 32 zero bytes.
  'A'.repeat(43)
]

const CHALLENGES = [
  { code: 0, member: 0, challenge: '965d11f1d9ec8983e109f4c91e3ef2f2f9cb104988699dc9aed7ee5fce67cbec' },
  { code: 1, member: 1, challenge: '00'.repeat(32) }
]

// Epochs pin the uint64 big-endian encoding: 0, 1, one above 2^32 (catches a 32-bit
// encoding) and 2^64 - 1.
const JOIN_PROOFS = [
  { code: 0, member: 0, groupId: 'db649388c969865ffd469c918a79f987459a98b88efe224ef83b0f93f73758c2', epoch: '0' },
  { code: 0, member: 1, groupId: 'db649388c969865ffd469c918a79f987459a98b88efe224ef83b0f93f73758c2', epoch: '1' },
  { code: 2, member: 2, groupId: 'b1463776ff969d9cd91d0f4225e35f4f1c9d18f653739f575d0f021e73ec995a', epoch: '4294967301' },
  { code: 4, member: 3, groupId: 'b1463776ff969d9cd91d0f4225e35f4f1c9d18f653739f575d0f021e73ec995a', epoch: '18446744073709551615' }
]

const GROUP_INFOS = [
  {
    code: 0,
    epoch: '1',
    iv: '975c0ecf172bf13c8a58aee6',
    groupInfo: '069c63a306f63ea67990b8c55fcad7b2e83f2ac80c9a16007c2a0abb7c2d54f7c7df79b0f1341e2d1cbcf498b838ffa5'
  },
  { code: 1, epoch: '4294967301', iv: 'f564f430ad744d229a0ea51a', groupInfo: '00' },
  {
    code: 3,
    epoch: '18446744073709551615',
    iv: 'e2195d98d6066816e61ac11d',
    // 300 bytes 00 01 … ff 00 01 …: longer than one AES block run, not a multiple of 16.
    groupInfo: toHex(Uint8Array.from({ length: 300 }, (_, i) => i & 0xff))
  }
]

const MESSAGE_IDS = ['sav101K0FxjSmtT0Or71Kg', '5dx6kWtGRE2cLHeiii2Qxg', 'AAAAAAAAAAAAAAAAAAAAAA']

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'))
function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

const rooms = []
for (const code of CODES) {
  const normalised = normalizeRoomCodeV2(code)
  const keys = await deriveRoomKeysV2(code)
  // The code keys are non-extractable in the SDK; the generator derives their raw bytes
  // from the same master so the file can publish them.
  const master = await deriveMasterV2(normalised)
  const raw = async (info: string) => toHex(new Uint8Array(await crypto.subtle.deriveBits(hkdfParams(info), master, CODE_KEY_BYTES * 8)))
  rooms.push({
    code,
    normalized: normalised,
    roomId: keys.roomId,
    groupInfoKey: await raw(HKDF_INFO_GROUP_INFO_KEY),
    joinKey: await raw(HKDF_INFO_JOIN_KEY)
  })
}

const members = []
for (const secret of MEMBER_SECRETS) {
  const member = await deriveMemberKeysV2(secret)
  members.push({
    secret,
    signatureSeed: toHex(member.signaturePrivateKey),
    signaturePublicKey: toHex(member.signaturePublicKey),
    memberId: member.memberId,
    fingerprint: member.fingerprint
  })
}

const challenges = []
for (const { code, member, challenge } of CHALLENGES) {
  const keys = await deriveRoomKeysV2(CODES[code]!)
  const memberKeys = await deriveMemberKeysV2(MEMBER_SECRETS[member]!)
  challenges.push({
    code: CODES[code]!,
    secret: MEMBER_SECRETS[member]!,
    challenge,
    signedMessage: toHex(joinChallengeMessage(hex(challenge), keys.roomIdBytes)),
    signature: toHex(await signJoinChallenge(memberKeys.signingKey, hex(challenge), keys.roomIdBytes))
  })
}

const joinProofs = []
for (const { code, member, groupId, epoch } of JOIN_PROOFS) {
  const keys = await deriveRoomKeysV2(CODES[code]!)
  const memberKeys = await deriveMemberKeysV2(MEMBER_SECRETS[member]!)
  joinProofs.push({
    code: CODES[code]!,
    groupId,
    epoch,
    signaturePublicKey: toHex(memberKeys.signaturePublicKey),
    proof: toHex(await computeJoinProof(keys.joinKey, hex(groupId), BigInt(epoch), memberKeys.signaturePublicKey))
  })
}

const groupInfos = []
for (const { code, epoch, iv, groupInfo } of GROUP_INFOS) {
  const keys = await deriveRoomKeysV2(CODES[code]!)
  groupInfos.push({
    code: CODES[code]!,
    epoch,
    groupInfo,
    iv,
    sealed: toHex(await sealGroupInfoWithIv(keys, BigInt(epoch), hex(groupInfo), hex(iv)))
  })
}

const messages = MESSAGE_IDS.map((messageId) => ({
  messageId,
  authenticatedData: toHex(messageAuthenticatedData(messageId))
}))

process.stdout.write(
  JSON.stringify({ rooms, members, challenges, joinProofs, groupInfos, messages }, null, 2) + '\n'
)
