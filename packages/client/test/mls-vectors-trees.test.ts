// The official MLS ratchet-tree vectors (mlswg/mls-implementations, cipher suite 1)
// against ts-mls 1.6.4: tree-validation (resolutions, tree hashes, parent hashes and
// leaf signatures of published trees), tree-operations (an add, update or remove
// proposal applied to a tree gives the published tree and tree hash) and treekem (every member decrypts each published
// UpdatePath to the published path secret and commit secret, and merging it gives the
// published tree hash). The functions are reached through ts-mls's exported "./*.js" paths.
import t, { type Test } from 'tap'
import type { CiphersuiteImpl, GroupContext, RatchetTree } from 'ts-mls'
import { applyUpdatePathSecret } from 'ts-mls/createCommit.js'
import { verifyLeafNodeSignature } from 'ts-mls/leafNode.js'
import { verifyParentHashes } from 'ts-mls/parentHash.js'
import { getCommitSecret } from 'ts-mls/pathSecrets.js'
import { toPrivateKeyPath, type PrivateKeyPath } from 'ts-mls/privateKeyPath.js'
import { decodeProposal } from 'ts-mls/proposal.js'
import {
  addLeafNode,
  decodeRatchetTree,
  encodeRatchetTree,
  getHpkePublicKey,
  removeLeafNode,
  resolution,
  updateLeafNode
} from 'ts-mls/ratchetTree.js'
import { treeHash, treeHashRoot } from 'ts-mls/treeHash.js'
import { leafToNodeIndex, nodeToLeafIndex, toLeafIndex, toNodeIndex } from 'ts-mls/treemath.js'
import { applyUpdatePath, decodeUpdatePath } from 'ts-mls/updatePath.js'
import { hex, readVectors, suite, SUITE, SUITE_ID, toHex } from './mls-vectors-support.js'

function decodeTree (bytes: string): RatchetTree {
  const tree = decodeRatchetTree(hex(bytes), 0)?.[0]
  if (tree === undefined) throw new Error('not a ratchet tree')
  return tree
}

function family<T extends { cipher_suite: number }> (name: string, run: (t: Test, vector: T, cs: CiphersuiteImpl) => Promise<void>): void {
  const cases = readVectors<T>(name)
  void t.test(`${name}: ${cases.length} case(s)`, async (t) => {
    t.ok(cases.length > 0)
    const cs = await suite()
    for (const [index, vector] of cases.entries()) {
      await t.test(`case ${index}`, async (t) => {
        t.equal(vector.cipher_suite, SUITE_ID)
        await run(t, vector, cs)
      })
    }
  })
}

/** Whether `privateKey` opens what is sealed to `publicKey` (they are one key pair). */
async function keysMatch (cs: CiphersuiteImpl, privateKey: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
  const probe = new Uint8Array([1, 2, 3, 4])
  const sealed = await cs.hpke.seal(await cs.hpke.importPublicKey(publicKey), probe, new Uint8Array())
  try {
    return toHex(await cs.hpke.open(await cs.hpke.importPrivateKey(privateKey), sealed.enc, sealed.ct, new Uint8Array())) === toHex(probe)
  } catch {
    return false
  }
}

interface TreeValidation {
  cipher_suite: number
  tree: string
  group_id: string
  resolutions: number[][]
  tree_hashes: string[]
}

family<TreeValidation>('tree-validation', async (t, v, cs) => {
  const tree = decodeTree(v.tree)
  t.equal(tree.length, v.tree_hashes.length, 'one tree hash per node')
  const nodes = tree.map((_, i) => toNodeIndex(i))
  t.strictSame(nodes.map((i) => resolution(tree, i)), v.resolutions, 'resolutions')
  t.strictSame(await Promise.all(nodes.map(async (i) => toHex(await treeHash(tree, i, cs.hash)))), v.tree_hashes, 'tree hashes')
  t.ok(await verifyParentHashes(tree, cs.hash), 'parent hashes')
  for (const i of nodes) {
    const node = tree[i]
    if (node?.nodeType !== 'leaf') continue
    t.ok(await verifyLeafNodeSignature(node.leaf, hex(v.group_id), nodeToLeafIndex(i), cs.signature), `leaf signature at node ${i}`)
  }
})

interface TreeOperations {
  cipher_suite: number
  tree_before: string
  proposal: string
  proposal_sender: number
  tree_hash_before: string
  tree_after: string
  tree_hash_after: string
}

family<TreeOperations>('tree-operations', async (t, v, cs) => {
  const before = decodeTree(v.tree_before)
  t.equal(toHex(await treeHashRoot(before, cs.hash)), v.tree_hash_before, 'tree hash before')
  const proposal = decodeProposal(hex(v.proposal), 0)?.[0]
  let after: RatchetTree
  switch (proposal?.proposalType) {
    case 'add':
      after = addLeafNode(before, proposal.add.keyPackage.leafNode)[0]
      break
    case 'update':
      after = updateLeafNode(before, proposal.update.leafNode, toLeafIndex(v.proposal_sender))
      break
    case 'remove':
      after = removeLeafNode(before, toLeafIndex(proposal.remove.removed))
      break
    default:
      throw new Error(`the vectors hold only add, update and remove proposals, not ${proposal?.proposalType}`)
  }
  t.equal(toHex(encodeRatchetTree(after)), v.tree_after, `tree after the ${proposal.proposalType}`)
  t.equal(toHex(await treeHashRoot(after, cs.hash)), v.tree_hash_after, 'tree hash after')
})

interface TreeKem {
  cipher_suite: number
  group_id: string
  epoch: number
  confirmed_transcript_hash: string
  ratchet_tree: string
  leaves_private: Array<{ index: number, encryption_priv: string, signature_priv: string, path_secrets: Array<{ node: number, path_secret: string }> }>
  update_paths: Array<{ sender: number, update_path: string, path_secrets: Array<string | null>, commit_secret: string, tree_hash_after: string }>
}

family<TreeKem>('treekem', async (t, v, cs) => {
  const tree = decodeTree(v.ratchet_tree)
  const context: GroupContext = {
    version: 'mls10',
    cipherSuite: SUITE,
    groupId: hex(v.group_id),
    epoch: BigInt(v.epoch),
    treeHash: await treeHashRoot(tree, cs.hash),
    confirmedTranscriptHash: hex(v.confirmed_transcript_hash),
    extensions: []
  }

  // Each member's private state: its leaf key and the keys from its path secrets, which
  // must be the private halves of the public keys in the tree.
  const members = new Map<number, PrivateKeyPath>()
  for (const leaf of v.leaves_private) {
    const secrets: Record<number, Uint8Array> = {}
    for (const { node, path_secret } of leaf.path_secrets) secrets[node] = hex(path_secret)
    const path = await toPrivateKeyPath(secrets, leaf.index, cs)
    path.privateKeys[leafToNodeIndex(toLeafIndex(leaf.index))] = hex(leaf.encryption_priv)
    let consistent = true
    for (const [node, privateKey] of Object.entries(path.privateKeys)) {
      const treeNode = tree[Number(node)]
      if (treeNode === undefined || !(await keysMatch(cs, privateKey, getHpkePublicKey(treeNode)))) consistent = false
    }
    t.ok(consistent, `leaf ${leaf.index}: private state matches the tree`)
    members.set(leaf.index, path)
  }

  for (const update of v.update_paths) {
    const path = decodeUpdatePath(hex(update.update_path), 0)?.[0]
    if (path === undefined) throw new Error('not an UpdatePath')
    const sender = toLeafIndex(update.sender)
    const merged = await applyUpdatePath(tree, sender, path, cs.hash)
    t.equal(toHex(await treeHashRoot(merged, cs.hash)), update.tree_hash_after, `sender ${update.sender}: tree hash after merging`)
    const mergedContext = { ...context, treeHash: await treeHashRoot(merged, cs.hash) }
    for (const [index, member] of members) {
      if (index === update.sender) {
        t.equal(update.path_secrets[index], null, `sender ${update.sender}: no path secret for itself`)
        continue
      }
      const decrypted = await applyUpdatePathSecret(tree, member, sender, mergedContext, path, [], cs)
      const commitSecret = await getCommitSecret(tree, decrypted.nodeIndex, decrypted.pathSecret, cs.kdf)
      t.strictSame(
        { pathSecret: toHex(decrypted.pathSecret), commitSecret: toHex(commitSecret) },
        { pathSecret: update.path_secrets[index], commitSecret: update.commit_secret },
        `sender ${update.sender}, receiver ${index}`
      )
    }
  }
})
