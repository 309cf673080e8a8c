// The official MLS vectors for the building blocks (mlswg/mls-implementations, cipher
// suite 1) against ts-mls 1.6.4. These functions are not in ts-mls's index but are
// exported by its package.json ("./*.js": dist/src/*.js), so they are reached through
// those paths; what each vector checks follows the vector definitions of the
// mls-implementations test-vectors.md.
import t, { type Test } from 'tap'
import { decodeMlsMessage, type GroupContext } from 'ts-mls'
import { decodeAuthenticatedContent } from 'ts-mls/authenticatedContent.js'
import { determineLength } from 'ts-mls/codec/variableLength.js'
import { refhash } from 'ts-mls/crypto/hash.js'
import { decryptWithLabel, encryptWithLabel } from 'ts-mls/crypto/hpke.js'
import { deriveSecret, deriveTreeSecret, expandWithLabel } from 'ts-mls/crypto/kdf.js'
import { signWithLabel, verifyWithLabel } from 'ts-mls/crypto/signature.js'
import { encodeGroupContext } from 'ts-mls/groupContext.js'
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from 'ts-mls/groupInfo.js'
import { defaultKeyRetentionConfig } from 'ts-mls/keyRetentionConfig.js'
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js'
import { initializeEpoch, mlsExporter } from 'ts-mls/keySchedule.js'
import { computePskSecret, type PreSharedKeyID } from 'ts-mls/presharedkey.js'
import { createSecretTree, deriveKey, deriveNonce, ratchetUntil } from 'ts-mls/secretTree.js'
import { expandSenderDataKey, expandSenderDataNonce } from 'ts-mls/sender.js'
import { createConfirmedHash, createInterimHash } from 'ts-mls/transcriptHash.js'
import { left, nodeWidth, parent, right, root, sibling, toLeafIndex, leafToNodeIndex, toNodeIndex } from 'ts-mls/treemath.js'
import { decryptGroupInfo, decryptGroupSecrets } from 'ts-mls/welcome.js'
import { hex, readVectors, suite, SUITE, SUITE_ID, toHex } from './mls-vectors-support.js'

/** Runs one test per case of a family, after checking the file holds only suite 1. */
function family<T extends { cipher_suite?: number }> (name: string, run: (t: Test, vector: T) => Promise<void> | void): void {
  const cases = readVectors<T>(name)
  void t.test(`${name}: ${cases.length} case(s)`, async (t) => {
    t.ok(cases.length > 0)
    for (const [index, vector] of cases.entries()) {
      if (vector.cipher_suite !== undefined) t.equal(vector.cipher_suite, SUITE_ID)
      await t.test(`case ${index}`, async (t) => run(t, vector))
    }
  })
}

/** A tree-math value, or null where the vector says the node has none (ts-mls throws there). */
function orNull (compute: () => number): number | null {
  try {
    return compute()
  } catch {
    return null
  }
}

interface CryptoBasics {
  cipher_suite: number
  ref_hash: { label: string, value: string, out: string }
  expand_with_label: { secret: string, label: string, context: string, length: number, out: string }
  derive_secret: { secret: string, label: string, out: string }
  derive_tree_secret: { secret: string, label: string, generation: number, length: number, out: string }
  sign_with_label: { priv: string, pub: string, content: string, label: string, signature: string }
  encrypt_with_label: { priv: string, pub: string, label: string, context: string, plaintext: string, kem_output: string, ciphertext: string }
}

family<CryptoBasics>('crypto-basics', async (t, v) => {
  const cs = await suite()
  t.equal(toHex(await refhash(v.ref_hash.label, hex(v.ref_hash.value), cs.hash)), v.ref_hash.out, 'RefHash')
  const e = v.expand_with_label
  t.equal(toHex(await expandWithLabel(hex(e.secret), e.label, hex(e.context), e.length, cs.kdf)), e.out, 'ExpandWithLabel')
  t.equal(toHex(await deriveSecret(hex(v.derive_secret.secret), v.derive_secret.label, cs.kdf)), v.derive_secret.out, 'DeriveSecret')
  const d = v.derive_tree_secret
  t.equal(toHex(await deriveTreeSecret(hex(d.secret), d.label, d.generation, d.length, cs.kdf)), d.out, 'DeriveTreeSecret')

  const s = v.sign_with_label
  t.ok(await verifyWithLabel(hex(s.pub), s.label, hex(s.content), hex(s.signature), cs.signature), 'the published signature verifies')
  // Ed25519 is deterministic, so signing again gives the published signature exactly.
  t.equal(toHex(await signWithLabel(hex(s.priv), s.label, hex(s.content), cs.signature)), s.signature, 'SignWithLabel')
  t.notOk(await verifyWithLabel(hex(s.pub), s.label + 'x', hex(s.content), hex(s.signature), cs.signature), 'another label does not verify')

  const h = v.encrypt_with_label
  const privateKey = await cs.hpke.importPrivateKey(hex(h.priv))
  const publicKey = await cs.hpke.importPublicKey(hex(h.pub))
  const opened = await decryptWithLabel(privateKey, h.label, hex(h.context), hex(h.kem_output), hex(h.ciphertext), cs.hpke)
  t.equal(toHex(opened), h.plaintext, 'DecryptWithLabel opens the published ciphertext')
  const sealed = await encryptWithLabel(publicKey, h.label, hex(h.context), hex(h.plaintext), cs.hpke)
  t.equal(toHex(await decryptWithLabel(privateKey, h.label, hex(h.context), sealed.enc, sealed.ct, cs.hpke)), h.plaintext, 'EncryptWithLabel round trip')
})

interface KeySchedule {
  cipher_suite: number
  group_id: string
  initial_init_secret: string
  epochs: Array<{
    tree_hash: string
    commit_secret: string
    psk_secret: string
    confirmed_transcript_hash: string
    group_context: string
    joiner_secret: string
    welcome_secret: string
    init_secret: string
    sender_data_secret: string
    encryption_secret: string
    exporter_secret: string
    epoch_authenticator: string
    external_secret: string
    confirmation_key: string
    membership_key: string
    resumption_psk: string
    external_pub: string
    exporter: { label: string, context: string, length: number, secret: string }
  }>
}

family<KeySchedule>('key-schedule', async (t, v) => {
  const cs = await suite()
  let initSecret = hex(v.initial_init_secret)
  for (const [index, epoch] of v.epochs.entries()) {
    const context: GroupContext = {
      version: 'mls10',
      cipherSuite: SUITE,
      groupId: hex(v.group_id),
      epoch: BigInt(index),
      treeHash: hex(epoch.tree_hash),
      confirmedTranscriptHash: hex(epoch.confirmed_transcript_hash),
      extensions: []
    }
    const actual = { group_context: toHex(encodeGroupContext(context)) } as Record<string, unknown>
    const secrets = await initializeEpoch(initSecret, hex(epoch.commit_secret), context, hex(epoch.psk_secret), cs.kdf)
    const ks = secrets.keySchedule
    Object.assign(actual, {
      joiner_secret: toHex(secrets.joinerSecret),
      welcome_secret: toHex(secrets.welcomeSecret),
      encryption_secret: toHex(secrets.encryptionSecret),
      init_secret: toHex(ks.initSecret),
      sender_data_secret: toHex(ks.senderDataSecret),
      exporter_secret: toHex(ks.exporterSecret),
      external_secret: toHex(ks.externalSecret),
      confirmation_key: toHex(ks.confirmationKey),
      membership_key: toHex(ks.membershipKey),
      resumption_psk: toHex(ks.resumptionPsk),
      epoch_authenticator: toHex(ks.epochAuthenticator),
      external_pub: toHex(await cs.hpke.exportPublicKey((await cs.hpke.deriveKeyPair(ks.externalSecret)).publicKey)),
      exporter: {
        ...epoch.exporter,
        secret: toHex(await mlsExporter(ks.exporterSecret, epoch.exporter.label, hex(epoch.exporter.context), epoch.exporter.length, cs))
      }
    })
    const expected: Record<string, unknown> = { ...epoch }
    for (const input of ['tree_hash', 'commit_secret', 'psk_secret', 'confirmed_transcript_hash']) delete expected[input]
    t.strictSame(actual, expected, `epoch ${index}`)
    initSecret = ks.initSecret
  }
})

interface SecretTree {
  cipher_suite: number
  sender_data: { sender_data_secret: string, ciphertext: string, key: string, nonce: string }
  encryption_secret: string
  leaves: Array<Array<{ generation: number, handshake_key: string, handshake_nonce: string, application_key: string, application_nonce: string }>>
}

family<SecretTree>('secret-tree', async (t, v) => {
  const cs = await suite()
  const sd = v.sender_data
  t.equal(toHex(await expandSenderDataKey(cs, hex(sd.sender_data_secret), hex(sd.ciphertext))), sd.key, 'sender data key')
  t.equal(toHex(await expandSenderDataNonce(cs, hex(sd.sender_data_secret), hex(sd.ciphertext))), sd.nonce, 'sender data nonce')
  const tree = await createSecretTree(v.leaves.length, hex(v.encryption_secret), cs.kdf)
  for (const [leaf, generations] of v.leaves.entries()) {
    const node = tree[leafToNodeIndex(toLeafIndex(leaf))]!
    for (const g of generations) {
      const actual: Record<string, string | number> = { generation: g.generation }
      for (const kind of ['handshake', 'application'] as const) {
        const [ratcheted] = await ratchetUntil(node[kind], g.generation, defaultKeyRetentionConfig, cs.kdf)
        actual[`${kind}_key`] = toHex(await deriveKey(ratcheted.secret, ratcheted.generation, cs))
        actual[`${kind}_nonce`] = toHex(await deriveNonce(ratcheted.secret, ratcheted.generation, cs))
      }
      t.strictSame(actual, g, `leaf ${leaf}, generation ${g.generation}`)
    }
  }
})

interface TreeMath {
  cipher_suite?: undefined
  n_leaves: number
  n_nodes: number
  root: number
  left: Array<number | null>
  right: Array<number | null>
  parent: Array<number | null>
  sibling: Array<number | null>
}

family<TreeMath>('tree-math', (t, v) => {
  t.equal(nodeWidth(v.n_leaves), v.n_nodes, 'node width')
  t.equal(root(v.n_leaves), v.root, 'root')
  const nodes = Array.from({ length: v.n_nodes }, (_, i) => toNodeIndex(i))
  t.strictSame(nodes.map((x) => orNull(() => left(x))), v.left, 'left')
  t.strictSame(nodes.map((x) => orNull(() => right(x))), v.right, 'right')
  t.strictSame(nodes.map((x) => orNull(() => parent(x, v.n_leaves))), v.parent, 'parent')
  t.strictSame(nodes.map((x) => orNull(() => sibling(x, v.n_leaves))), v.sibling, 'sibling')
})

interface Deserialization {
  cipher_suite?: undefined
  vlbytes_header: string
  length: number
}

family<Deserialization>('deserialization', (t, v) => {
  t.equal(determineLength(hex(v.vlbytes_header)).length, v.length, `variable-length header ${v.vlbytes_header}`)
})

interface TranscriptHashes {
  cipher_suite: number
  confirmation_key: string
  authenticated_content: string
  interim_transcript_hash_before: string
  confirmed_transcript_hash_after: string
  interim_transcript_hash_after: string
}

family<TranscriptHashes>('transcript-hashes', async (t, v) => {
  const cs = await suite()
  const decoded = decodeAuthenticatedContent(hex(v.authenticated_content), 0)?.[0]
  if (decoded?.content.contentType !== 'commit' || decoded.auth.contentType !== 'commit') throw new Error('not a commit')
  const { confirmationTag, signature } = decoded.auth
  t.ok(await cs.hash.verifyMac(hex(v.confirmation_key), confirmationTag, hex(v.confirmed_transcript_hash_after)), 'confirmation tag')
  const confirmed = await createConfirmedHash(hex(v.interim_transcript_hash_before), { wireformat: decoded.wireformat, content: decoded.content, signature }, cs.hash)
  t.equal(toHex(confirmed), v.confirmed_transcript_hash_after, 'confirmed transcript hash')
  t.equal(toHex(await createInterimHash(confirmed, confirmationTag, cs.hash)), v.interim_transcript_hash_after, 'interim transcript hash')
})

interface PskSecret {
  cipher_suite: number
  psks: Array<{ psk_id: string, psk: string, psk_nonce: string }>
  psk_secret: string
}

family<PskSecret>('psk_secret', async (t, v) => {
  const cs = await suite()
  const psks = v.psks.map(({ psk_id, psk, psk_nonce }): [PreSharedKeyID, Uint8Array] => [
    { psktype: 'external', pskId: hex(psk_id), pskNonce: hex(psk_nonce) },
    hex(psk)
  ])
  t.equal(toHex(await computePskSecret(psks, cs)), v.psk_secret, `${v.psks.length} PSK(s)`)
})

interface WelcomeVector {
  cipher_suite: number
  init_priv: string
  signer_pub: string
  key_package: string
  welcome: string
}

family<WelcomeVector>('welcome', async (t, v) => {
  const cs = await suite()
  const welcome = decodeMlsMessage(hex(v.welcome), 0)?.[0]
  const keyPackage = decodeMlsMessage(hex(v.key_package), 0)?.[0]
  if (welcome?.wireformat !== 'mls_welcome' || keyPackage?.wireformat !== 'mls_key_package') throw new Error('not a Welcome and a KeyPackage')
  const ref = await makeKeyPackageRef(keyPackage.keyPackage, cs.hash)
  t.ok(welcome.welcome.secrets.some((secret) => toHex(secret.newMember) === toHex(ref)), 'the Welcome names the KeyPackage')
  const groupSecrets = await decryptGroupSecrets(await cs.hpke.importPrivateKey(hex(v.init_priv)), ref, welcome.welcome, cs.hpke)
  if (groupSecrets === undefined) throw new Error('group secrets do not decrypt')
  const noPsk = new Uint8Array(cs.kdf.size)
  const groupInfo = await decryptGroupInfo(welcome.welcome, groupSecrets.joinerSecret, noPsk, cs)
  if (groupInfo === undefined) throw new Error('GroupInfo does not decrypt')
  t.ok(await verifyGroupInfoConfirmationTag(groupInfo, groupSecrets.joinerSecret, noPsk, cs), 'confirmation tag')
  t.ok(await verifyGroupInfoSignature(groupInfo, hex(v.signer_pub), cs.signature), 'signature')
})
