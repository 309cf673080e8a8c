// Protocol v2 (MLS rooms) costs with the pinned ts-mls, through the built SDK, driving
// ts-mls exactly as test/mls-v2-flow.test.ts does (cipher suite 1, basic credential =
// the 16 raw member id bytes, default capabilities and client config):
//
//   1. join time of the n-th member (n = 2, 10, 50): (a) the code derivation
//      (PBKDF2 × 600 000 + HKDF, once per room); (b) the joiner's CPU: open the sealed
//      GroupInfo, derive its member keys, make its KeyPackage and join proof, build the
//      external commit; (c) an existing member processing that commit (decode, check the
//      join proof, processMessage), for the creator (leaf 0) and the newest member;
//      (d) the joiner publishing the next sealed GroupInfo.
//   2. bytes: the sealed GroupInfo (with ratchet tree and external public key), the
//      external commit, removal and empty (update-path only) commits, a self-remove
//      proposal, and application messages carrying each padding bucket of plaintext.
//   3. the browser bundle of the ts-mls functions the client uses, minified and gzipped.
//
// The group is built as the product builds it: the creator, then one external commit
// per member, each carrying a join proof that the creator checks before applying it.
// Every timed join starts from the same n−1 member state (ts-mls states are immutable),
// with a new joiner each time; the figure is the median of the repetitions.
//
//   npx tsc -b && node packages/client/bench/mls-v2.mjs [repetitions]   (default 9, at most 30)

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib'
import { PADDING_BUCKETS } from '@ephemeral-chat/protocol'
import {
  acceptAll,
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  createProposal,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroupExternal,
  makePskIndex,
  processMessage
} from 'ts-mls'
import { greaseValues } from 'ts-mls/grease.js'
import { encodeHpkeCiphertext } from 'ts-mls/hpkeCiphertext.js'
import { encodeNode } from 'ts-mls/ratchetTree.js'
import {
  computeJoinProof,
  deriveMemberKeysV2,
  deriveRoomKeysV2,
  generateRoomCodeV2,
  messageAuthenticatedData,
  newMemberSecret,
  newMessageId,
  openGroupInfo,
  sealGroupInfo,
  verifyJoinProof
} from '../dist/src/index.js'

const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'
const SIZES = [2, 10, 50]
const largest = SIZES[SIZES.length - 1]
const REMOVAL_SIZES = new Set([10, 50])

const reps = Number(process.argv[2] ?? 9)
if (!Number.isInteger(reps) || reps < 1 || reps > 30) throw new Error('repetitions must be an integer from 1 to 30')

const cs = await getCiphersuiteImpl(getCiphersuiteFromName(SUITE))

// ---------------------------------------------------------------------------------------
// The calls of test/mls-v2-flow.test.ts

async function keyPackageFor (member) {
  return generateKeyPackageWithKey(
    { credentialType: 'basic', identity: Buffer.from(member.memberId, 'base64url') },
    defaultCapabilities(),
    defaultLifetime,
    [],
    { signKey: member.signaturePrivateKey, publicKey: member.signaturePublicKey },
    cs
  )
}

/** What every member checks before applying a new member's commit: the join proof. */
async function joinProofHolds (joinKey, state, commit) {
  const content = commit.content
  if (content.sender.senderType !== 'new_member_commit' || content.contentType !== 'commit') return false
  const leaf = content.commit.path?.leafNode
  if (leaf === undefined) return false
  return verifyJoinProof(joinKey, state.groupContext.groupId, content.epoch, leaf.signaturePublicKey, content.authenticatedData)
}

const encodePublic = (publicMessage) => encodeMlsMessage({ version: 'mls10', wireformat: 'mls_public_message', publicMessage })

function decodeOne (bytes) {
  const message = decodeMlsMessage(bytes, 0)?.[0]
  if (message === undefined) throw new Error('not an MLSMessage')
  return message
}

/** A member publishes the GroupInfo of its current epoch, sealed for the room. */
async function publishGroupInfo (room, state) {
  const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(state, [], cs)
  const plain = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo })
  const sealed = await sealGroupInfo(room, state.groupContext.epoch, plain)
  return { epoch: state.groupContext.epoch, plain, sealed }
}

/** A new member, knowing the code (its room keys), joins from the sealed GroupInfo: the bytes it publishes and its state. */
async function joinExternally (room, published) {
  const opened = decodeOne(await openGroupInfo(room, published.epoch, published.sealed))
  if (opened.wireformat !== 'mls_group_info') throw new Error('not a GroupInfo')
  const member = await deriveMemberKeysV2(newMemberSecret())
  const kp = await keyPackageFor(member)
  const { groupId, epoch } = opened.groupInfo.groupContext
  const proof = await computeJoinProof(room.joinKey, groupId, epoch, member.signaturePublicKey)
  const t0 = performance.now()
  const joined = await joinGroupExternal(opened.groupInfo, kp.publicPackage, kp.privatePackage, false, cs, undefined, undefined, proof)
  const externalMs = performance.now() - t0
  const path = joined.publicMessage.content.commit.path
  return { state: joined.newState, commit: encodePublic(joined.publicMessage), path, externalMs }
}

/** An existing member receives the commit's bytes: checks the join proof, then applies it. */
async function acceptJoin (room, state, commitBytes) {
  const message = decodeOne(commitBytes)
  if (message.wireformat !== 'mls_public_message') throw new Error('not a PublicMessage')
  if (!await joinProofHolds(room.joinKey, state, message.publicMessage)) throw new Error('join proof refused')
  const result = await processMessage(message, state, makePskIndex(state, {}), acceptAll, cs)
  if (result.kind !== 'newState') throw new Error(`unexpected ${result.kind}`)
  return result.newState
}

async function applyHandshake (state, bytes) {
  const message = decodeOne(bytes)
  const result = await processMessage(message, state, makePskIndex(state, {}), acceptAll, cs)
  if (result.kind !== 'newState') throw new Error(`unexpected ${result.kind}`)
  return result.newState
}

// ---------------------------------------------------------------------------------------

const members = (state) => state.ratchetTree.filter((node, i) => i % 2 === 0 && node !== undefined).length
const now = () => performance.now()
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const ms = (x) => x.toFixed(1)
const pad = (cells, widths) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ')
function table (title, header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  console.log(`\n${title}`)
  console.log(pad(header, widths))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(pad(r, widths))
}

const started = now()
const code = generateRoomCodeV2()

// (a) The code derivation: once per room and tab, the same at any group size.
await deriveRoomKeysV2(generateRoomCodeV2()) // warm-up: JIT, OpenSSL initialisation
const deriveTimes = []
let room
for (let i = 0; i < Math.min(reps, 5); i++) {
  const t0 = now()
  room = await deriveRoomKeysV2(code)
  deriveTimes.push(now() - t0)
}

// The creator.
const creator = await deriveMemberKeysV2(newMemberSecret())
const creatorKp = await keyPackageFor(creator)
let groupState = await createGroup(crypto.getRandomValues(new Uint8Array(32)), creatorKp.publicPackage, creatorKp.privatePackage, [], cs)
let newest = groupState // the member of the highest leaf, kept in step with the creator
const buildStart = now()
let buildJoins = 0

/** Grows the group to `target` members by external commits, as the product would. */
async function growTo (target) {
  while (members(groupState) < target) {
    const published = await publishGroupInfo(room, newest)
    const joined = await joinExternally(room, published)
    groupState = await acceptJoin(room, groupState, joined.commit)
    newest = joined.state
    buildJoins++
  }
}

// Warm-up, not counted: one full join into a one-member group.
{
  const published = await publishGroupInfo(room, groupState)
  const joined = await joinExternally(room, published)
  await acceptJoin(room, groupState, joined.commit)
}

const joinRows = []
const byteRows = []
const commitRows = []
let lastAtLargest
let ciphertextBytes = 0
let largestCommit
for (const n of SIZES) {
  await growTo(n - 1)
  const published = await publishGroupInfo(room, newest)
  const joinT = []
  const externalT = []
  const creatorT = []
  const newestT = []
  const publishT = []
  const commitBytes = []
  const recipients = []
  let last
  for (let r = 0; r < reps; r++) {
    let t0 = now()
    const joined = await joinExternally(room, published)
    joinT.push(now() - t0)
    externalT.push(joined.externalMs)
    commitBytes.push(joined.commit.length)
    recipients.push(joined.path.nodes.reduce((sum, node) => sum + node.encryptedPathSecret.length, 0))
    ciphertextBytes = encodeHpkeCiphertext(joined.path.nodes[0].encryptedPathSecret[0]).length

    t0 = now()
    const creatorAfter = await acceptJoin(room, groupState, joined.commit)
    creatorT.push(now() - t0)
    if (newest !== groupState) {
      t0 = now()
      await acceptJoin(room, newest, joined.commit)
      newestT.push(now() - t0)
    }

    t0 = now()
    const next = await publishGroupInfo(room, joined.state)
    publishT.push(now() - t0)
    last = { joiner: joined.state, creator: creatorAfter, next, path: joined.path }
  }
  if (members(last.creator) !== n || members(last.joiner) !== n) throw new Error(`expected ${n} members`)
  lastAtLargest = last
  largestCommit = { bytes: Math.max(...commitBytes), recipients: Math.min(...recipients), pathNodes: last.path.nodes.length }

  joinRows.push([
    n,
    ms(median(joinT)),
    ms(median(externalT)),
    ms(median(creatorT)),
    newestT.length > 0 ? ms(median(newestT)) : '(creator)',
    ms(median(publishT)),
    ms(median(deriveTimes) + median(joinT) + median(creatorT))
  ])
  byteRows.push([
    n,
    published.plain.length,
    published.sealed.length,
    `${Math.min(...commitBytes)}–${Math.max(...commitBytes)}`,
    `${Math.min(...recipients)}–${Math.max(...recipients)}`,
    last.next.plain.length,
    last.next.sealed.length
  ])

  if (REMOVAL_SIZES.has(n)) {
    // All from the epoch after the last timed join: the creator is leaf 0, the joiner leaf n−1.
    const joinerLeaf = last.joiner.privatePath.leafIndex
    const empty0 = await createCommit({ state: last.creator, cipherSuite: cs }, { wireAsPublicMessage: true })
    const emptyN = await createCommit({ state: last.joiner, cipherSuite: cs }, { wireAsPublicMessage: true })
    const remove = await createCommit(
      { state: last.creator, cipherSuite: cs },
      { wireAsPublicMessage: true, extraProposals: [{ proposalType: 'remove', remove: { removed: joinerLeaf } }] }
    )
    // Self-remove: the leaver proposes its own removal; another member commits it (by reference).
    const proposal = await createProposal(last.joiner, true, { proposalType: 'remove', remove: { removed: joinerLeaf } }, cs)
    const proposalBytes = encodeMlsMessage(proposal.message)
    const creatorWithProposal = await applyHandshake(last.creator, proposalBytes)
    const selfRemove = await createCommit({ state: creatorWithProposal, cipherSuite: cs }, { wireAsPublicMessage: true })
    const selfRemoveBytes = encodeMlsMessage(selfRemove.commit)
    // Honesty check: the leaver sees it is out, and the commits apply.
    const leaverAfter = await applyHandshake(proposal.newState, selfRemoveBytes)
    if (leaverAfter.groupActiveState.kind !== 'removedFromGroup') throw new Error('the leaver was not removed')
    await applyHandshake(last.creator, encodeMlsMessage(emptyN.commit))
    await applyHandshake(last.joiner, encodeMlsMessage(empty0.commit))
    commitRows.push([
      n,
      encodeMlsMessage(empty0.commit).length,
      encodeMlsMessage(emptyN.commit).length,
      encodeMlsMessage(remove.commit).length,
      proposalBytes.length,
      selfRemoveBytes.length
    ])
  }
}
const buildMs = now() - buildStart
// Continue from the epoch of the last timed join at the largest size (n members).
groupState = lastAtLargest.creator
newest = lastAtLargest.joiner

// Application messages: each padding bucket as plaintext, sent by the newest member of
// the largest group and read by the creator (the size does not depend on the group).
const appRows = []
let sender = newest
for (const size of PADDING_BUCKETS) {
  const plaintext = crypto.getRandomValues(new Uint8Array(size))
  const sendT = []
  const readT = []
  let bytes
  for (let r = 0; r < reps; r++) {
    let t0 = now()
    const sent = await createApplicationMessage(sender, plaintext, cs, messageAuthenticatedData(newMessageId()))
    sendT.push(now() - t0)
    sender = sent.newState
    bytes = encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: sent.privateMessage })
    t0 = now()
    const received = await processMessage(decodeOne(bytes), groupState, makePskIndex(groupState, {}), acceptAll, cs)
    readT.push(now() - t0)
    if (received.kind !== 'applicationMessage' || !Buffer.from(received.message).equals(Buffer.from(plaintext))) throw new Error('message not read back')
  }
  appRows.push([size, bytes.length, bytes.length - size, size + 12 + 16, ms(median(sendT)), ms(median(readT))])
}

// What the ratchet tree of the largest group is made of, and how much the GroupInfo moves
// with the leaves' capabilities: ts-mls's defaultCapabilities() lists all 19 cipher suites
// it knows and adds each of the 15 GREASE values with probability 0.1 to each of four
// lists, so a leaf's size is random. Re-encoding every leaf with other capabilities
// (signatures left as they are: only the length matters) gives the GroupInfo with all
// GREASE values in every leaf, and with capabilities trimmed to suite 1 and no GREASE.
const GREASE = new Set(greaseValues)
const isGrease = (v) => GREASE.has(Number(v))
function withCapabilities (node, edit) {
  return { ...node, leaf: { ...node.leaf, capabilities: edit(node.leaf.capabilities) } }
}
const allGrease = (c) => ({
  ...c,
  ciphersuites: [...c.ciphersuites.filter((v) => !isGrease(v)), ...greaseValues.map(String)],
  credentials: [...c.credentials.filter((v) => !isGrease(v)), ...greaseValues.map(String)],
  extensions: [...c.extensions.filter((v) => !isGrease(v)), ...greaseValues],
  proposals: [...c.proposals.filter((v) => !isGrease(v)), ...greaseValues]
})
const trimmed = (c) => ({ ...c, ciphersuites: [SUITE], credentials: ['basic'], extensions: [], proposals: [] })
const tree = groupState.ratchetTree
const leafSizes = []
const parentSizes = []
let deltaGrease = 0
let maxLeafGrease = 0
let deltaTrimmed = 0
let greaseCount = 0
tree.forEach((node, i) => {
  if (node === undefined) return
  const size = encodeNode(node).length
  if (i % 2 === 1) {
    parentSizes.push(size)
    return
  }
  leafSizes.push(size)
  const c = node.leaf.capabilities
  greaseCount += [...c.ciphersuites, ...c.credentials, ...c.extensions, ...c.proposals].filter(isGrease).length
  const greased = encodeNode(withCapabilities(node, allGrease)).length - size
  deltaGrease += greased
  maxLeafGrease = Math.max(maxLeafGrease, greased)
  deltaTrimmed += encodeNode(withCapabilities(node, trimmed)).length - size
})
const largestGroupInfo = lastAtLargest.next.sealed.length
const parentSlots = Math.floor(tree.length / 2)
// An estimate, not a measurement, of the largest external commit at this size: the path
// secrets go to the resolution of the joiner's copath, which holds every other member at
// most once (without Add proposals there are no unmerged leaves), one HPKE ciphertext
// each, when the parent nodes on the way are blank (after removals); the path has at most
// log2(tree width) nodes, each a 32-byte HPKE key with its length prefixes; every length
// prefix may grow by a byte; and the joiner's leaf may carry all GREASE values.
const pathNodeBytes = 1 + 32 + 1
const maxPathNodes = Math.log2((tree.length + 1) / 2)
const commitBound = largestCommit.bytes + (largest - 1 - largestCommit.recipients) * ciphertextBytes +
  (maxPathNodes - largestCommit.pathNodes) * pathNodeBytes + maxPathNodes + 4 + maxLeafGrease
const unmerged = tree.reduce((sum, node, i) => sum + (i % 2 === 1 && node !== undefined ? node.parent.unmergedLeaves.length : 0), 0)

// ---------------------------------------------------------------------------------------
// The browser bundle of what the client imports from ts-mls (as web/build.mjs bundles it).

async function bundleSize () {
  let build
  try {
    ({ build } = await import('esbuild'))
  } catch {
    return undefined
  }
  const here = dirname(fileURLToPath(import.meta.url))
  const tsMlsDir = join(here, '..', '..', '..', 'node_modules', 'ts-mls')
  const peers = Object.keys(JSON.parse(readFileSync(join(tsMlsDir, 'package.json'), 'utf8')).peerDependencies ?? {})
  // Optional peers that are not installed are only loaded for other cipher suites: leave them out.
  const missing = peers.filter((name) => !existsSync(join(tsMlsDir, '..', name, 'package.json')))
  const names = [
    'acceptAll', 'createApplicationMessage', 'createCommit', 'createGroup', 'createGroupInfoWithExternalPubAndRatchetTree',
    'createProposal', 'decodeMlsMessage', 'defaultCapabilities', 'defaultLifetime', 'encodeMlsMessage',
    'generateKeyPackageWithKey', 'getCiphersuiteFromName', 'getCiphersuiteImpl', 'joinGroupExternal', 'makePskIndex',
    'processMessage'
  ]
  const result = await build({
    stdin: { contents: `export { ${names.join(', ')} } from 'ts-mls'`, resolveDir: here, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome111', 'firefox111', 'safari16.4'],
    minify: true,
    legalComments: 'none',
    external: missing,
    metafile: true,
    logLevel: 'silent'
  })
  const code = result.outputFiles[0].contents
  // Minified bytes each package contributes.
  const perPackage = {}
  for (const [path, input] of Object.entries(Object.values(result.metafile.outputs)[0].inputs)) {
    const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? path
    perPackage[pkg] = (perPackage[pkg] ?? 0) + input.bytesInOutput
  }
  const pkgs = Object.entries(perPackage).filter(([, bytes]) => bytes > 0).sort((a, b) => b[1] - a[1]).map(([pkg, bytes]) => `${pkg} ${bytes} B`)
  return {
    raw: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    brotli: brotliCompressSync(code, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    pkgs,
    missing,
    functions: names.length
  }
}
const bundle = await bundleSize()

// ---------------------------------------------------------------------------------------

console.log(`ts-mls 1.6.4, ${SUITE}, Node ${process.versions.node}, ${reps} repetitions (medians)`)
console.log(`(a) code derivation deriveRoomKeysV2 (PBKDF2-SHA256 ×600 000 + 3 HKDF): ${ms(median(deriveTimes))} ms, once per room, at any size`)
table(
  'Join of the n-th member, ms (median)',
  ['n', '(b) joiner: open GI + keys + KP + proof + external commit', 'of which joinGroupExternal', '(c) creator processes', '(c) newest member processes', '(d) joiner publishes next sealed GI', '(a)+(b)+(c) creator'],
  joinRows
)
table(
  'Join bytes',
  ['n', 'GroupInfo MLSMessage opened (n−1 members)', 'sealed', 'external commit MLSMessage (min–max)', 'its HPKE recipients', 'GroupInfo after join (n members)', 'sealed'],
  byteRows
)
table(
  'Other handshakes at n members (PublicMessage MLSMessage bytes)',
  ['n', 'empty commit by leaf 0', 'empty commit by leaf n−1', 'removal commit (leaf 0 removes n−1)', 'self-remove proposal', 'commit of it (by ref)'],
  commitRows
)
table(
  `Application message (PrivateMessage MLSMessage, ts-mls default padding) vs plaintext, at ${largest} members`,
  ['plaintext', 'MLSMessage bytes', 'overhead', 'v1 envelope (IV+ct+tag)', 'send ms', 'read ms'],
  appRows
)
console.log(
  `\nRatchet tree at ${largest} members: ${tree.length} nodes, ${leafSizes.length} leaves of ${Math.min(...leafSizes)}–${Math.max(...leafSizes)} B ` +
    `(median ${median(leafSizes)}), ${parentSizes.length} of ${parentSlots} parent nodes filled, ${parentSizes.length > 0 ? `${Math.min(...parentSizes)}–${Math.max(...parentSizes)} B each, ` : ''}` +
    `${unmerged} unmerged leaves; ${greaseCount} GREASE values in all (mean ${(greaseCount / leafSizes.length).toFixed(1)} a leaf, at most 60).`
)
console.log(
  `Sealed GroupInfo at ${largest} members: ${largestGroupInfo} B as measured; ${largestGroupInfo + deltaGrease} B if every leaf carried all 60 GREASE values ` +
    `(+${deltaGrease}); ${largestGroupInfo + deltaTrimmed} B with capabilities trimmed to suite 1, basic, no GREASE (${deltaTrimmed}).`
)
console.log(
  `External commit at ${largest} members: ${largestCommit.bytes} B as measured (${largestCommit.recipients} HPKE ciphertexts of ${ciphertextBytes} B, ` +
    `${largestCommit.pathNodes} path nodes); at most about ${commitBound} B with ${largest - 1} recipients, ${maxPathNodes} path nodes and an all-GREASE leaf (estimate, not measured).`
)
if (bundle === undefined) {
  console.log('\nbundle: esbuild not found, skipped')
} else {
  console.log(
    `\nts-mls browser bundle (the ${bundle.functions} functions the flow test and this script use, esbuild minified, esm, browser): ${bundle.raw} B raw, ` +
      `${bundle.gzip} B gzip -9, ${bundle.brotli} B brotli -11; minified bytes by package: ${bundle.pkgs.join(', ')}; ` +
      `left out (optional peers not installed): ${bundle.missing.join(', ') || 'none'}`
  )
}
console.log(`\ngroup built by ${buildJoins} external joins (plus ${SIZES.length * reps} timed ones and 1 warm-up); total ${((now() - started) / 1000).toFixed(1)} s (build+measure ${(buildMs / 1000).toFixed(1)} s)`)
