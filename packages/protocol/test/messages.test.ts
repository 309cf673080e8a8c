import t from 'tap'
import { base64urlLength, codecs, MAX_ENVELOPE_BYTES, MAX_FRAME_BYTES, type Codec } from '../src/index.js'
import { clientFrames, events, replies, requests, serverFrames, values } from './examples.js'

type Example = Record<string, unknown>
const OPTIONAL = new Set(['ref', 'deadline'])

/** A value of a different JSON type than `value`. */
function wrongType (value: unknown): unknown {
  if (typeof value === 'string') return 42
  if (typeof value === 'number') return String(value)
  if (typeof value === 'boolean') return 'true'
  if (Array.isArray(value)) return {}
  return []
}

function specify (group: string, codec: Codec<unknown>, examples: Record<string, Example>, versioned = true): void {
  for (const [name, example] of Object.entries(examples)) {
    t.test(`${group} ${name}`, async (t) => {
      t.same(codec.decode(JSON.stringify(example)), { ok: true, value: example }, 'a valid example passes')
      t.ok(codec.decode(new TextEncoder().encode(JSON.stringify(example))).ok, 'valid as UTF-8 bytes too')

      for (const key of Object.keys(example)) {
        const missing = { ...example }
        delete missing[key]
        if (OPTIONAL.has(key)) {
          t.ok(codec.check(missing), `optional ${key} may be left out`)
        } else {
          t.notOk(codec.check(missing), `missing ${key} fails`)
        }
        t.notOk(codec.check({ ...example, [key]: wrongType(example[key]) }), `${key} of the wrong type fails`)
      }
      t.notOk(codec.check({ ...example, extra: 1 }), 'an extra property fails')
      if (versioned) {
        const decoded = codec.decode(JSON.stringify({ ...example, v: 2 }))
        t.same(decoded, { ok: false, code: 'unsupported-version' }, 'a wrong version fails as such')
      }
      const text = JSON.stringify(example)
      t.same(codec.decode(text, text.length - 1), { ok: false, code: 'too-large' }, 'input over the byte limit fails before parsing')
      for (const key of Object.keys(example)) {
        const value = example[key]
        if (typeof value === 'string' && key !== 'type' && key !== 'reason' && key !== 'code') {
          t.notOk(codec.check({ ...example, [key]: value + 'A'.repeat(30_000) }), `oversize ${key} fails`)
        }
      }
    })
  }
}

specify('client frame', codecs.clientFrame, clientFrames)
specify('server frame', codecs.serverFrame, serverFrames)
for (const [name, example] of Object.entries(requests)) {
  specify('request', codecs[name as keyof typeof requests], { [name]: example })
}
for (const [name, example] of Object.entries(replies)) {
  specify('reply', codecs[name as keyof typeof replies], { [name]: example })
}
specify('event', codecs.roomEvent, events)

t.test('garbage is a bad frame, never an exception', async (t) => {
  for (const input of ['', 'nul', '{', '[]', '"join"', '42', 'null', '{"type":"join"}', '\u0000\u0001']) {
    t.same(codecs.clientFrame.decode(input), { ok: false, code: 'bad-frame' }, JSON.stringify(input))
  }
  t.same(codecs.clientFrame.decode(new Uint8Array([0xff, 0xfe, 0x00])), { ok: false, code: 'bad-frame' }, 'invalid UTF-8')
})

t.test('an unknown frame type is reported as such', async (t) => {
  t.same(codecs.clientFrame.decode('{"v":1,"type":"shout","text":"hi"}'), { ok: false, code: 'unknown-type' })
  t.same(codecs.clientFrame.decode('{"v":1,"type":"joined"}'), { ok: false, code: 'unknown-type' }, 'a server frame type is not a client frame')
})

t.test('identifiers have exact shapes', async (t) => {
  const join = clientFrames.join
  for (const roomId of ['room.*', '>', values.roomId + 'A', values.roomId.slice(1), values.roomId.replace('A', '.'), values.roomId.replace('A', ' '), values.roomId.replace('A', '+'), 'A'.repeat(42) + 'B']) {
    t.notOk(codecs.clientFrame.check({ ...join, roomId }), `room id ${JSON.stringify(roomId.slice(0, 12))}… refused`)
  }
  t.notOk(codecs.roomJoinRequest.check({ ...requests.roomJoinRequest, roomHash: 'AB'.repeat(32) }), 'upper-case hash refused')
  t.notOk(codecs.roomJoinRequest.check({ ...requests.roomJoinRequest, roomHash: '*' }), 'wildcard hash refused')
  t.notOk(codecs.clientFrame.check({ ...clientFrames.reveal, id: 'AAAAAAAAAAAAAAAAAAAAAB' }), 'non-canonical base64url tail refused')
  t.notOk(codecs.clientFrame.check({ ...clientFrames.ping, ref: 'x'.repeat(33) }), 'ref over 32 characters refused')
})

t.test('envelope size bounds', async (t) => {
  const send = clientFrames.send
  const largest = 'A'.repeat(base64urlLength(MAX_ENVELOPE_BYTES))
  t.ok(codecs.clientFrame.check({ ...send, ct: largest }), 'the largest envelope fits')
  t.notOk(codecs.clientFrame.check({ ...send, ct: largest + 'A' }), 'one character more is refused')
  t.notOk(codecs.clientFrame.check({ ...send, ct: 'A'.repeat(362) }), 'shorter than the smallest bucket is refused')
  t.ok(JSON.stringify({ ...send, ct: largest }).length < MAX_FRAME_BYTES, 'the largest send frame fits in a WebSocket frame')
  t.notOk(codecs.serverFrame.check({ ...serverFrames.message, bucket: 512 }), 'a bucket that is not a padding bucket is refused')
})

t.test('failed replies carry only a known code', async (t) => {
  t.ok(codecs.messageFetchReply.check({ v: 1, ok: false, code: 'not-recipient', message: 'x' }))
  t.notOk(codecs.messageFetchReply.check({ v: 1, ok: false, code: 'stack trace', message: 'x' }))
  t.notOk(codecs.messageFetchReply.check({ v: 1, ok: false, code: 'internal', message: 'x'.repeat(201) }))
  t.notOk(codecs.serverFrame.check({ ...serverFrames.error, code: 'oops' }))
})

t.test('too many recipients or cards are refused', async (t) => {
  t.notOk(codecs.messageStoreReply.check({ ...replies.messageStoreReply, recipients: Array(51).fill(values.other) }))
  t.notOk(codecs.serverFrame.check({ ...serverFrames.joined, pending: Array(501).fill(values.card) }))
})
