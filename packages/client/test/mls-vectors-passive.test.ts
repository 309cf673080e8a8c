// The official MLS passive-client vectors (mlswg/mls-implementations, cipher suite 1)
// against ts-mls's public API: join by Welcome, then apply every epoch's proposals and
// commit, checking the epoch authenticator after each. This is the path a v2 member
// takes when it processes a room's handshakes.
import t, { type Test } from 'tap'
import { decodeMlsMessage, joinGroup, makePskIndex, processMessage, acceptAll, type ClientState, type MLSMessage } from 'ts-mls'
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js'
import { hex, readVectors, suite, SUITE_ID, toHex } from './mls-vectors-support.js'

interface PassiveClientCase {
  cipher_suite: number
  external_psks: Array<{ psk_id: string, psk: string }>
  key_package: string
  signature_priv: string
  encryption_priv: string
  init_priv: string
  welcome: string
  ratchet_tree: string | null
  initial_epoch_authenticator: string
  epochs: Array<{ proposals: string[], commit: string, epoch_authenticator: string }>
}

function decodeMessage (bytes: string): MLSMessage {
  const decoded = decodeMlsMessage(hex(bytes), 0)
  if (decoded === undefined) throw new Error('not an MLSMessage')
  return decoded[0]
}

async function runPassiveClient (t: Test, vector: PassiveClientCase): Promise<void> {
  t.equal(vector.cipher_suite, SUITE_ID)
  const impl = await suite()
  const keyPackage = decodeMessage(vector.key_package)
  const welcome = decodeMessage(vector.welcome)
  if (keyPackage.wireformat !== 'mls_key_package' || welcome.wireformat !== 'mls_welcome') {
    throw new Error('vector does not hold a KeyPackage and a Welcome')
  }
  const psks: Record<string, Uint8Array> = {}
  for (const { psk_id, psk } of vector.external_psks) psks[Buffer.from(psk_id, 'hex').toString('base64')] = hex(psk)
  const tree = vector.ratchet_tree === null ? undefined : decodeRatchetTree(hex(vector.ratchet_tree), 0)?.[0]

  let state: ClientState = await joinGroup(
    welcome.welcome,
    keyPackage.keyPackage,
    { initPrivateKey: hex(vector.init_priv), hpkePrivateKey: hex(vector.encryption_priv), signaturePrivateKey: hex(vector.signature_priv) },
    makePskIndex(undefined, psks),
    impl,
    tree
  )
  t.equal(toHex(state.keySchedule.epochAuthenticator), vector.initial_epoch_authenticator, 'epoch authenticator after joining')

  let epoch = 0
  for (const { proposals, commit, epoch_authenticator } of vector.epochs) {
    epoch++
    for (const bytes of [...proposals, commit]) {
      const message = decodeMessage(bytes)
      if (message.wireformat !== 'mls_private_message' && message.wireformat !== 'mls_public_message') {
        throw new Error(`epoch ${epoch}: a handshake that is neither a PrivateMessage nor a PublicMessage`)
      }
      const result = await processMessage(message, state, makePskIndex(state, psks), acceptAll, impl)
      state = result.newState
    }
    if (toHex(state.keySchedule.epochAuthenticator) !== epoch_authenticator) {
      t.fail(`epoch authenticator after epoch ${epoch}`)
      return
    }
  }
  t.pass(`all ${vector.epochs.length} epochs give the published epoch authenticators`)
}

for (const family of ['passive-client-welcome', 'passive-client-handling-commit', 'passive-client-random']) {
  const cases = readVectors<PassiveClientCase>(family)
  void t.test(`${family}: ${cases.length} case(s)`, async (t) => {
    t.ok(cases.length > 0)
    for (const [index, vector] of cases.entries()) {
      await t.test(`case ${index}`, (t) => runPassiveClient(t, vector))
    }
  })
}
