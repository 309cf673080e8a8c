// A member's view of a v2 room's MLS group (docs/architecture.md §10–§11, docs/security.md
// "requirements for the session"), on the pinned ts-mls: create the group, join it by
// external commit with the join proof, apply other members' commits in epoch order after
// checking them, seal and open messages padded to v1's buckets and bound to their id, and
// save the state. What goes over the network, and when, is the session's business.
//
// Every commit this module applies is checked first:
// - an external commit must carry a valid join proof (the joiner knows the code): the server
//   cannot add anyone;
// - every leaf a commit brings in must be of the expected shape: a basic credential whose
//   identity is the 16-byte member id of the leaf's own signature key (so the member id a
//   card names is the key that signed), and bounded capabilities and extensions (a hostile
//   joiner cannot bloat the GroupInfo past what the vault stores).
// Every message opened is checked too: its authenticated data names the card's id, and its
// MLS sender (decrypted sender data → leaf → identity) is the card's `from`.

import {
  acceptAll, createApplicationMessage, createCommit, createGroup, createGroupInfoWithExternalPubAndRatchetTree, decodeGroupState, decodeMlsMessage,
  defaultCapabilities, defaultLifetime, encodeGroupState, encodeMlsMessage, generateKeyPackageWithKey, getCiphersuiteFromName,
  getCiphersuiteImpl, joinGroupExternal, makePskIndex, processMessage, type CiphersuiteImpl, type ClientState, type LeafNode
} from 'ts-mls'
import { defaultClientConfig, type ClientConfig } from 'ts-mls/clientConfig.js'
import { ratchetTreeFromExtension, type GroupInfo } from 'ts-mls/groupInfo.js'
import { CryptoVerificationError } from 'ts-mls/mlsError.js'
import { decryptSenderData } from 'ts-mls/privateMessage.js'
import { decodeBase64url, encodeBase64url } from '../base64url.js'
import { bucketFor, pad, unpad } from '../padding.js'
import { openGroupInfo, sealGroupInfo } from './group-info.js'
import { computeJoinProof, verifyJoinProof } from './join-proof.js'
import type { RoomKeysV2 } from './keys.js'
import { memberIdFromPublicKey, type MemberKeysV2 } from './member.js'
import { messageAuthenticatedData, messageIdFromAuthenticatedData } from './message.js'
import { GROUP_ID_BYTES } from './params.js'
import { MAX_PENDING_MESSAGES_PER_ROOM } from '@ephemeral-chat/protocol'
import { ReasonError } from '../errors.js'

export const CIPHER_SUITE_V2 = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'

/** Bounds on a leaf a commit brings in (docs/security.md): well above what ts-mls writes, far below what could bloat a GroupInfo. */
export const LEAF_LIMITS = { capabilityEntries: 64, extensions: 4, extensionBytes: 256 } as const

export type GroupCheckReason = 'not-a-commit' | 'wrong-epoch' | 'join-proof' | 'leaf-shape' | 'not-a-message' | 'message-id' | 'sender' | 'signature' | 'padding' | 'unknown-epoch'

/** A commit or message this member refuses: it is never applied or shown. */
export class GroupCheckError extends ReasonError<GroupCheckReason> {
  override readonly name = 'GroupCheckError'
}

/**
 * How long keys of messages not yet opened are kept (ts-mls's key retention; its defaults, 10
 * per sender and 4 epochs, would make a member who opens cards out of order lose messages):
 * - the keys of up to MAX_PENDING_MESSAGES_PER_ROOM skipped messages per sender and epoch, as
 *   many as can be waiting for a member (each is used once, then deleted);
 * - the secrets of the last 16 epochs, for cards sent before the commits that followed them.
 *   A card sent more than 16 commits ago does not open (`unknown-epoch`): its keys are gone
 *   from this device, which is the forward secrecy v2 is for.
 */
export const KEY_RETENTION = { retainKeysForGenerations: MAX_PENDING_MESSAGES_PER_ROOM, retainKeysForEpochs: 16, maximumForwardRatchetSteps: 2 * MAX_PENDING_MESSAGES_PER_ROOM } as const
const clientConfig: ClientConfig = { ...defaultClientConfig, keyRetentionConfig: { ...KEY_RETENTION } }

let suitePromise: Promise<CiphersuiteImpl> | undefined
/** ts-mls's implementation of cipher suite 1, made once. */
export async function suiteV2 (): Promise<CiphersuiteImpl> {
  suitePromise ??= getCiphersuiteImpl(getCiphersuiteFromName(CIPHER_SUITE_V2))
  return suitePromise
}

async function keyPackageOf (member: MemberKeysV2, cs: CiphersuiteImpl) {
  return generateKeyPackageWithKey(
    { credentialType: 'basic', identity: decodeBase64url(member.memberId) },
    defaultCapabilities(), defaultLifetime, [],
    { signKey: member.signaturePrivateKey, publicKey: member.signaturePublicKey },
    cs
  )
}

/** Whether a leaf is of the shape every v2 member's is; its member id when it is. */
async function leafMemberId (leaf: LeafNode): Promise<string | undefined> {
  if (leaf.credential.credentialType !== 'basic') return undefined
  const memberId = await memberIdFromPublicKey(leaf.signaturePublicKey)
  if (encodeBase64url(leaf.credential.identity) !== memberId) return undefined
  const { capabilities } = leaf
  const entries = [capabilities.versions, capabilities.ciphersuites, capabilities.extensions, capabilities.proposals, capabilities.credentials]
  if (entries.some((list) => list.length > LEAF_LIMITS.capabilityEntries)) return undefined
  if (!capabilities.ciphersuites.includes(CIPHER_SUITE_V2)) return undefined
  if (leaf.extensions.length > LEAF_LIMITS.extensions || leaf.extensions.some((e) => e.extensionData.length > LEAF_LIMITS.extensionBytes)) return undefined
  return memberId
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

function leavesOfInfo (info: GroupInfo): LeafNode[] {
  return (ratchetTreeFromExtension(info) ?? []).flatMap((node) => node?.nodeType === 'leaf' ? [node.leaf] : [])
}

function leaves (state: ClientState): Array<{ index: number, leaf: LeafNode }> {
  const found: Array<{ index: number, leaf: LeafNode }> = []
  state.ratchetTree.forEach((node, nodeIndex) => {
    if (node?.nodeType === 'leaf') found.push({ index: nodeIndex / 2, leaf: node.leaf })
  })
  return found
}

/** A member's state of its room's group. Immutable: every change returns a new one, adopted once the vault accepted it. */
export class RoomGroup {
  readonly room: RoomKeysV2
  readonly member: MemberKeysV2
  readonly state: ClientState
  readonly #cs: CiphersuiteImpl

  private constructor (room: RoomKeysV2, member: MemberKeysV2, state: ClientState, cs: CiphersuiteImpl) {
    this.room = room
    this.member = member
    this.state = state
    this.#cs = cs
  }

  get epoch (): bigint {
    return this.state.groupContext.epoch
  }

  get groupId (): Uint8Array {
    return this.state.groupContext.groupId
  }

  /** The member ids in the group now, by leaf (every leaf was checked when it came in). */
  memberIds (): string[] {
    return leaves(this.state).map(({ leaf }) => encodeBase64url(leaf.credential.credentialType === 'basic' ? leaf.credential.identity : new Uint8Array()))
  }

  /** The signature public key of a member of the group now (undefined: not in the group). */
  publicKeyOf (memberId: string): Uint8Array | undefined {
    return leaves(this.state).find(({ leaf }) => leaf.credential.credentialType === 'basic' && encodeBase64url(leaf.credential.identity) === memberId)?.leaf.signaturePublicKey
  }

  /** The first member of a room creates its group (epoch 0) and publishes its GroupInfo, sealed for the room. */
  static async create (room: RoomKeysV2, member: MemberKeysV2): Promise<{ group: RoomGroup, sealedGroupInfo: Uint8Array }> {
    const cs = await suiteV2()
    const kp = await keyPackageOf(member, cs)
    const state = await createGroup(crypto.getRandomValues(new Uint8Array(GROUP_ID_BYTES)), kp.publicPackage, kp.privatePackage, [], cs, clientConfig)
    const group = new RoomGroup(room, member, state, cs)
    return { group, sealedGroupInfo: await group.sealedGroupInfo() }
  }

  /**
   * Joins by external commit from the room's sealed GroupInfo of `epoch`: opens it with the
   * code's key, checks every member's leaf, and commits itself in with the join proof. The
   * commit is to be published (vault group.commit at `epoch`); the group is the state after it.
   */
  static async join (room: RoomKeysV2, member: MemberKeysV2, epoch: bigint, sealed: Uint8Array): Promise<{ group: RoomGroup, commit: Uint8Array, sealedGroupInfo: Uint8Array }> {
    const cs = await suiteV2()
    const opened = decodeMlsMessage(await openGroupInfo(room, epoch, sealed), 0)?.[0]
    if (opened?.wireformat !== 'mls_group_info') throw new GroupCheckError('not-a-commit', 'the sealed GroupInfo holds no GroupInfo')
    const info = opened.groupInfo
    if (info.groupContext.epoch !== epoch) throw new GroupCheckError('wrong-epoch', 'the GroupInfo is of another epoch than it was sealed for')
    const kp = await keyPackageOf(member, cs)
    const proof = await computeJoinProof(room.joinKey, info.groupContext.groupId, info.groupContext.epoch, member.signaturePublicKey)
    // A member whose leaf is still in the group (it lost its state, or missed pruned commits)
    // replaces that leaf in the same commit (MLS resync): one leaf per member.
    const resync = leavesOfInfo(info).some((leaf) => sameBytes(leaf.signaturePublicKey, member.signaturePublicKey))
    const joined = await joinGroupExternal(info, kp.publicPackage, kp.privatePackage, resync, cs, undefined, clientConfig, proof)
    // The members' leaves came from the GroupInfo (this member's own it made itself): each must be of the v2 shape.
    for (const { leaf } of leaves(joined.newState)) {
      if (sameBytes(leaf.signaturePublicKey, member.signaturePublicKey)) continue
      if (await leafMemberId(leaf) === undefined) throw new GroupCheckError('leaf-shape', 'a member\'s leaf is not of the v2 shape')
    }
    const group = new RoomGroup(room, member, joined.newState, cs)
    const commit = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage: joined.publicMessage })
    return { group, commit, sealedGroupInfo: await group.sealedGroupInfo() }
  }

  /** This epoch's GroupInfo (with the ratchet tree and the external public key), sealed for the room and epoch. */
  async sealedGroupInfo (): Promise<Uint8Array> {
    const info = await createGroupInfoWithExternalPubAndRatchetTree(this.state, [], this.#cs)
    return sealGroupInfo(this.room, this.epoch, encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo: info }))
  }

  /**
   * Applies another member's commit made in this epoch, after the checks above; the new
   * group is at the next epoch. Throws GroupCheckError (the commit must not be applied) or
   * ts-mls's own error for a commit MLS itself refuses.
   */
  async applyCommit (bytes: Uint8Array): Promise<RoomGroup> {
    const decoded = decodeMlsMessage(bytes, 0)?.[0]
    if (decoded?.wireformat !== 'mls_public_message' || decoded.publicMessage.content.contentType !== 'commit') {
      throw new GroupCheckError('not-a-commit', 'a handshake that is not a commit')
    }
    const content = decoded.publicMessage.content
    if (content.epoch !== this.epoch) throw new GroupCheckError('wrong-epoch', `a commit of epoch ${content.epoch}, the group is at ${this.epoch}`)
    const leaf = content.commit.path?.leafNode
    if (content.sender.senderType === 'new_member_commit') {
      if (leaf === undefined) throw new GroupCheckError('join-proof', 'an external commit without its leaf')
      if (!await verifyJoinProof(this.room.joinKey, this.groupId, content.epoch, leaf.signaturePublicKey, content.authenticatedData)) {
        throw new GroupCheckError('join-proof', 'an external commit without a valid join proof: whoever made it does not know the code')
      }
    } else if (content.sender.senderType !== 'member') {
      throw new GroupCheckError('not-a-commit', 'a commit by neither a member nor a joiner')
    }
    if (leaf !== undefined && await leafMemberId(leaf) === undefined) throw new GroupCheckError('leaf-shape', 'the commit brings in a leaf that is not of the v2 shape')
    const result = await processMessage(decoded, this.state, makePskIndex(this.state, {}), acceptAll, this.#cs)
    return new RoomGroup(this.room, this.member, result.newState, this.#cs)
  }

  /** An empty commit with a fresh path: this member's keys are replaced (post-compromise security). */
  async update (): Promise<{ group: RoomGroup, commit: Uint8Array, sealedGroupInfo: Uint8Array }> {
    return this.#commit([])
  }

  /** A commit removing these members (by member id; ids not in the group are ignored). */
  async remove (memberIds: readonly string[]): Promise<{ group: RoomGroup, commit: Uint8Array, sealedGroupInfo: Uint8Array }> {
    const removed = leaves(this.state).filter(({ leaf }) => leaf.credential.credentialType === 'basic' && memberIds.includes(encodeBase64url(leaf.credential.identity)))
    return this.#commit(removed.map(({ index }) => ({ proposalType: 'remove' as const, remove: { removed: index } })))
  }

  async #commit (extraProposals: Parameters<typeof createCommit>[1] extends infer O ? O extends { extraProposals?: infer P } ? NonNullable<P> : never : never) {
    const result = await createCommit({ state: this.state, cipherSuite: this.#cs }, { wireAsPublicMessage: true, extraProposals })
    const group = new RoomGroup(this.room, this.member, result.newState, this.#cs)
    return { group, commit: encodeMlsMessage(result.commit), sealedGroupInfo: await group.sealedGroupInfo() }
  }

  /** Seals a message's plaintext (padded to its v1 bucket) for the group, bound to its id. */
  async seal (messageId: string, plaintext: Uint8Array): Promise<{ group: RoomGroup, message: Uint8Array, epoch: bigint }> {
    const bucket = bucketFor(plaintext.length)
    if (bucket === undefined) throw new RangeError('the message is larger than the largest padding bucket')
    const sent = await createApplicationMessage(this.state, pad(plaintext, bucket), this.#cs, messageAuthenticatedData(messageId))
    const message = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: sent.privateMessage })
    return { group: new RoomGroup(this.room, this.member, sent.newState, this.#cs), message, epoch: this.epoch }
  }

  /**
   * Opens a message of this epoch for its card: its authenticated data must name the card's
   * id and its MLS sender must be the card's `from`. The key that opened it is consumed: the
   * returned group cannot open it again (save it before confirming the message viewed).
   */
  async open (messageId: string, from: string, bytes: Uint8Array): Promise<{ group: RoomGroup, plaintext: Uint8Array, senderPublicKey: Uint8Array }> {
    const decoded = decodeMlsMessage(bytes, 0)?.[0]
    if (decoded?.wireformat !== 'mls_private_message') throw new GroupCheckError('not-a-message', 'not an application message')
    const message = decoded.privateMessage
    if (messageIdFromAuthenticatedData(message.authenticatedData) !== messageId) throw new GroupCheckError('message-id', 'the message is bound to another id than its card')
    // A message of an earlier epoch opens with that epoch's retained secrets and roster (KEY_RETENTION).
    const epochData = message.epoch === this.epoch
      ? { senderDataSecret: this.state.keySchedule.senderDataSecret, ratchetTree: this.state.ratchetTree }
      : this.state.historicalReceiverData.get(message.epoch)
    if (epochData === undefined) throw new GroupCheckError('unknown-epoch', `a message of epoch ${message.epoch}: this member holds no keys for it (the group is at ${this.epoch})`)
    const senderData = await decryptSenderData(message, epochData.senderDataSecret, this.#cs)
    const sender = senderData === undefined ? undefined : epochData.ratchetTree[senderData.leafIndex * 2]
    if (sender?.nodeType !== 'leaf' || sender.leaf.credential.credentialType !== 'basic' || encodeBase64url(sender.leaf.credential.identity) !== from) {
      throw new GroupCheckError('sender', 'the message was sent by another member than its card names')
    }
    let result: Awaited<ReturnType<typeof processMessage>>
    try {
      result = await processMessage(decoded, this.state, makePskIndex(this.state, {}), acceptAll, this.#cs)
    } catch (error) {
      const detail = error instanceof Error ? error.message : 'failed'
      // Not signed by the leaf it names (a member forging another's message), or its content does not authenticate.
      if (error instanceof CryptoVerificationError) throw new GroupCheckError('signature', `the message does not verify: ${detail}`)
      // Its key was used already (a replay, or a state saved before a second open) or never held.
      throw new GroupCheckError('unknown-epoch', `the message does not open with this member's keys: ${detail}`)
    }
    if (result.kind !== 'applicationMessage') throw new GroupCheckError('not-a-message', 'not an application message')
    const plaintext = unpad(result.message)
    if (plaintext === undefined) throw new GroupCheckError('padding', 'the plaintext is not padded as v2 pads it')
    return { group: new RoomGroup(this.room, this.member, result.newState, this.#cs), plaintext, senderPublicKey: sender.leaf.signaturePublicKey }
  }

  /** The state as text for sessionStorage (it holds this member's secrets of the group: keep it where the member secret is). */
  save (): string {
    return encodeBase64url(encodeGroupState(this.state))
  }

  static async load (room: RoomKeysV2, member: MemberKeysV2, saved: string): Promise<RoomGroup> {
    const decoded = decodeGroupState(decodeBase64url(saved), 0)
    if (decoded === undefined) throw new GroupCheckError('not-a-commit', 'the saved group state does not decode')
    return new RoomGroup(room, member, { ...decoded[0], clientConfig }, await suiteV2())
  }
}
