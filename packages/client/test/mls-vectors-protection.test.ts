// The official MLS message-protection vectors (mlswg/mls-implementations, cipher suite 1)
// against ts-mls 1.6.4: the published PublicMessages (proposal, commit) and
// PrivateMessages (proposal, commit, application) open to the published content. Protocol
// v2 sends handshakes as PublicMessage and application messages as PrivateMessage.
// unprotectPrivateMessage and unprotectPublicMessage are reached through ts-mls's
// exported "./*.js" paths (they are not in its index).
import t from 'tap'
import { decodeMlsMessage, defaultCapabilities, type GroupContext, type MLSMessage, type RatchetTree } from 'ts-mls'
import { encodeCommit } from 'ts-mls/commit.js'
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js'
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js'
import { unprotectPublicMessage } from 'ts-mls/messageProtectionPublic.js'
import { encodeProposal } from 'ts-mls/proposal.js'
import { createSecretTree } from 'ts-mls/secretTree.js'
import { hex, readVectors, suite, SUITE, SUITE_ID, toHex } from './mls-vectors-support.js'

interface MessageProtection {
  cipher_suite: number
  group_id: string
  epoch: number
  tree_hash: string
  confirmed_transcript_hash: string
  signature_priv: string
  signature_pub: string
  encryption_secret: string
  sender_data_secret: string
  membership_key: string
  proposal: string
  proposal_priv: string
  proposal_pub: string
  commit: string
  commit_priv: string
  commit_pub: string
  application: string
  application_priv: string
}

// The vectors' sender is leaf 1 of a two-leaf group; ts-mls checks that the sender's
// leaf is occupied, so leaf 1 (node 2) holds a placeholder. Its keys are never used:
// the signature is checked against the vector's signature_pub.
const TREE_WITH_LEAF_1: RatchetTree = [
  undefined,
  undefined,
  {
    nodeType: 'leaf',
    leaf: {
      leafNodeSource: 'commit',
      hpkePublicKey: new Uint8Array(),
      signaturePublicKey: new Uint8Array(),
      capabilities: defaultCapabilities(),
      parentHash: new Uint8Array(),
      extensions: [],
      signature: new Uint8Array(),
      credential: { credentialType: 'basic', identity: new Uint8Array() }
    }
  }
]

function decode (bytes: string): MLSMessage {
  const message = decodeMlsMessage(hex(bytes), 0)?.[0]
  if (message === undefined) throw new Error('not an MLSMessage')
  return message
}

const cases = readVectors<MessageProtection>('message-protection')

void t.test(`message-protection: ${cases.length} case(s)`, async (t) => {
  t.ok(cases.length > 0)
  const cs = await suite()
  for (const [index, v] of cases.entries()) {
    await t.test(`case ${index}`, async (t) => {
      t.equal(v.cipher_suite, SUITE_ID)
      const context: GroupContext = {
        version: 'mls10',
        cipherSuite: SUITE,
        groupId: hex(v.group_id),
        epoch: BigInt(v.epoch),
        treeHash: hex(v.tree_hash),
        confirmedTranscriptHash: hex(v.confirmed_transcript_hash),
        extensions: []
      }

      function publicMessage (bytes: string) {
        const message = decode(bytes)
        if (message.wireformat !== 'mls_public_message') throw new Error('not a PublicMessage')
        return message.publicMessage
      }
      async function openPublic (bytes: string, inContext = context) {
        return (await unprotectPublicMessage(hex(v.membership_key), inContext, [], publicMessage(bytes), cs, hex(v.signature_pub))).content
      }
      async function openPrivate (bytes: string) {
        const message = decode(bytes)
        if (message.wireformat !== 'mls_private_message') throw new Error('not a PrivateMessage')
        // A fresh secret tree for each message: each is the first of its generation chain.
        const secretTree = await createSecretTree(2, hex(v.encryption_secret), cs.kdf)
        const result = await unprotectPrivateMessage(
          hex(v.sender_data_secret),
          message.privateMessage,
          secretTree,
          TREE_WITH_LEAF_1,
          context,
          defaultKeyRetentionConfig,
          cs,
          hex(v.signature_pub)
        )
        return result.content.content
      }

      const publicProposal = await openPublic(v.proposal_pub)
      t.equal(publicProposal.contentType === 'proposal' ? toHex(encodeProposal(publicProposal.proposal)) : undefined, v.proposal, 'PublicMessage proposal')
      const publicCommit = await openPublic(v.commit_pub)
      t.equal(publicCommit.contentType === 'commit' ? toHex(encodeCommit(publicCommit.commit)) : undefined, v.commit, 'PublicMessage commit')
      const privateProposal = await openPrivate(v.proposal_priv)
      t.equal(privateProposal.contentType === 'proposal' ? toHex(encodeProposal(privateProposal.proposal)) : undefined, v.proposal, 'PrivateMessage proposal')
      const privateCommit = await openPrivate(v.commit_priv)
      t.equal(privateCommit.contentType === 'commit' ? toHex(encodeCommit(privateCommit.commit)) : undefined, v.commit, 'PrivateMessage commit')
      const application = await openPrivate(v.application_priv)
      t.equal(application.contentType === 'application' ? toHex(application.applicationData) : undefined, v.application, 'PrivateMessage application data')

      // A flipped ciphertext byte must not open.
      const tampered = hex(v.application_priv)
      tampered[tampered.length - 1]! ^= 1
      await t.rejects(openPrivate(toHex(tampered)), 'a tampered PrivateMessage does not open')
      await t.rejects(openPublic(v.commit_pub, { ...context, epoch: context.epoch + 1n }), 'a PublicMessage checked in another epoch does not verify')
    })
  }
})
