import { codecs, errorMessage, MAX_BUS_PAYLOAD_BYTES, VAULT_SUBJECTS, type Codec, type ErrorCode, type VaultSubject } from '@ephemeral-chat/protocol'
import t, { type Test } from 'tap'
import { b64, countRows, harness, newGatewayId, newMemberId, newMessageId, newRoomHash, vaultApi } from './helpers.js'

interface SubjectCase {
  /** A request that is valid on this subject. */
  valid: () => Record<string, unknown>
  reply: Codec<{ ok: boolean }>
  /** The field an identifier that would reach a NATS subject or a query goes into. */
  identifier: string
}

const SUBJECTS: Record<VaultSubject, SubjectCase> = {
  [VAULT_SUBJECTS.roomJoin]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), gatewayId: newGatewayId(), connectionId: 7 }),
    reply: codecs.roomJoinReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.roomLeave]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), gatewayId: newGatewayId(), connectionId: 7, mode: 'leave' }),
    reply: codecs.roomLeaveReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.messageStore]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), id: newMessageId(), iv: b64(12), ct: b64(272) }),
    reply: codecs.messageStoreReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.messageFetch]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), id: newMessageId() }),
    reply: codecs.messageFetchReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.messageAck]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), id: newMessageId() }),
    reply: codecs.messageAckReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.gatewayHeartbeat]: {
    valid: () => ({ v: 1, gatewayId: newGatewayId(), intervalMs: 5000, connections: 0, digest: '0'.repeat(16) }),
    reply: codecs.gatewayHeartbeatReply,
    identifier: 'gatewayId'
  },
  [VAULT_SUBJECTS.gatewaySync]: {
    valid: () => ({ v: 1, gatewayId: newGatewayId(), from: 0, to: 1, entries: [{ connectionId: 0, roomHash: newRoomHash(), memberId: newMemberId() }] }),
    reply: codecs.gatewaySyncReply,
    identifier: 'gatewayId'
  },
  [VAULT_SUBJECTS.groupCommit]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), groupId: b64(32), epoch: 0, groupInfo: b64(200) }),
    reply: codecs.groupCommitReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.groupSend]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), id: newMessageId(), epoch: 0, message: b64(256 + 200) }),
    reply: codecs.groupSendReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.groupRead]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), id: newMessageId() }),
    reply: codecs.groupReadReply,
    identifier: 'roomHash'
  },
  [VAULT_SUBJECTS.groupState]: {
    valid: () => ({ v: 1, roomHash: newRoomHash(), memberId: newMemberId(), since: 0 }),
    reply: codecs.groupStateReply,
    identifier: 'roomHash'
  }
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value)
const json = (value: unknown): Uint8Array => text(JSON.stringify(value))

/**
 * Sends every payload `make` builds for every vault subject and checks each is
 * answered with the protocol's failed reply carrying `code`. Afterwards the vault
 * still serves a valid join, and the bad input wrote nothing.
 */
async function refusesOnEverySubject (t: Test, code: ErrorCode, make: (c: SubjectCase) => Array<[string, Uint8Array]>): Promise<void> {
  const h = await harness(t)
  await h.startVault()
  for (const [subject, c] of Object.entries(SUBJECTS)) {
    for (const [what, payload] of make(c)) {
      const decoded = c.reply.decode(await h.bus.request(subject, payload))
      t.same(decoded, { ok: true, value: { v: 1, ok: false, code, message: errorMessage(code) } }, `${subject}, ${what}: ${code}`)
    }
  }
  for (const table of ['rooms', 'members', 'gateways', 'messages', 'handshakes'] as const) t.equal(await countRows(h.db, table), 0, `nothing was written to ${table}`)
  t.match(await vaultApi(h.bus).join(newRoomHash(), newMemberId()), { ok: true, members: 1 }, 'the vault still serves a valid join')
}

t.test('a request of the wrong shape is refused with bad-frame', async (t) => {
  await refusesOnEverySubject(t, 'bad-frame', (c) => [
    ['an unrelated object', json({ v: 1, hello: 'world' })],
    ['an empty object', json({})],
    ['every field missing but v', json({ v: 1 })],
    ['v missing', json({ ...c.valid(), v: undefined })],
    ['a field of the wrong type', json({ ...c.valid(), [c.identifier]: 12345 })],
    ['an identifier of the wrong length', json({ ...c.valid(), [c.identifier]: 'ab' })]
  ])
})

t.test('a request larger than MAX_BUS_PAYLOAD_BYTES is refused with too-large before it is parsed', async (t) => {
  await refusesOnEverySubject(t, 'too-large', (c) => {
    const body = JSON.stringify({ ...c.valid(), pad: '' })
    const padded = body.replace('"pad":""', `"pad":"${'x'.repeat(MAX_BUS_PAYLOAD_BYTES + 1 - body.length)}"`)
    return [
      ['one byte over the limit', text(padded)],
      ['one byte over the limit, not even JSON', new Uint8Array(MAX_BUS_PAYLOAD_BYTES + 1).fill(0x7b)]
    ]
  })
})

t.test('a request of exactly MAX_BUS_PAYLOAD_BYTES is parsed (and refused only for its shape)', async (t) => {
  await refusesOnEverySubject(t, 'bad-frame', (c) => {
    const body = JSON.stringify({ ...c.valid(), pad: '' })
    const padded = body.replace('"pad":""', `"pad":"${'x'.repeat(MAX_BUS_PAYLOAD_BYTES - body.length)}"`)
    return [['at the limit, with an extra property', text(padded)]]
  })
})

t.test('a request of an unknown protocol version is refused with unsupported-version', async (t) => {
  await refusesOnEverySubject(t, 'unsupported-version', (c) => [
    ['v: 2', json({ ...c.valid(), v: 2 })],
    ['v: 0', json({ ...c.valid(), v: 0 })],
    ['v as a string', json({ ...c.valid(), v: '1' })]
  ])
})

t.test('garbage bytes are refused with bad-frame', async (t) => {
  await refusesOnEverySubject(t, 'bad-frame', () => [
    ['invalid UTF-8', Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ['a lone continuation byte', Uint8Array.from([0x80])],
    ['not JSON', text('hello, vault')],
    ['truncated JSON', text('{"v":1,"roomHash":')],
    ['a JSON array', json([1, 'roomHash'])],
    ['an empty JSON array', json([])],
    ['JSON null', text('null')],
    ['a JSON number', text('42')],
    ['a JSON string', json('vault.v1.room.join')],
    ['no bytes at all', new Uint8Array(0)],
    ['NUL bytes', new Uint8Array(16)]
  ])
})

t.test('a request with an extra property is refused with bad-frame', async (t) => {
  await refusesOnEverySubject(t, 'bad-frame', (c) => [
    ['an extra string', json({ ...c.valid(), extra: 'x' })],
    ['an extra __proto__', text(JSON.stringify(c.valid()).replace(/^\{/, '{"__proto__":{"admin":true},'))],
    ['an extra constructor', json({ ...c.valid(), constructor: { prototype: {} } })]
  ])
})

t.test('an identifier shaped like a NATS wildcard, a subject separator or SQL is refused with bad-frame', async (t) => {
  const hashLike = newRoomHash()
  await refusesOnEverySubject(t, 'bad-frame', (c) => [
    ['*', json({ ...c.valid(), [c.identifier]: '*' })],
    ['>', json({ ...c.valid(), [c.identifier]: '>' })],
    ['a.b', json({ ...c.valid(), [c.identifier]: 'a.b' })],
    ['a hash with a dot inside', json({ ...c.valid(), [c.identifier]: `${hashLike.slice(0, 31)}.${hashLike.slice(32)}` })],
    ['a hash with a trailing wildcard', json({ ...c.valid(), [c.identifier]: `${hashLike}.>` })],
    ['upper-case hex', json({ ...c.valid(), [c.identifier]: hashLike.toUpperCase() })],
    ['a quote and SQL', json({ ...c.valid(), [c.identifier]: "' or 1=1; drop table messages; --" })],
    ['a member id with a wildcard', json({ ...c.valid(), ...('memberId' in c.valid() ? { memberId: '*' } : { gatewayId: '>' }) })]
  ])
})
