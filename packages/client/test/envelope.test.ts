import { createDecipheriv } from 'node:crypto'
import t from 'tap'
import {
  EnvelopeError,
  newMessageId,
  openMessage,
  payloadBytes,
  sealMessage,
  type MessagePayload
} from '../src/index.js'
import { bytesOfLength, flipByte, forgeEnvelope, keysFor, RAW_MESSAGE_KEY, ROOM_A, ROOM_B } from './fixtures.js'

const payload: MessagePayload = { text: 'Grüße aus Köln 🍻', nick: 'Jörg', sentAt: 1732550400000 }
const utf8 = (text: string) => new TextEncoder().encode(text)

/** The reason an envelope operation failed with, or a description of how it did not. */
async function failure (operation: Promise<unknown>): Promise<string> {
  try {
    await operation
    return 'no error'
  } catch (error) {
    return error instanceof EnvelopeError ? error.reason : `unexpected ${String(error)}`
  }
}

void t.test('a sealed message opens to the same payload', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const sealed = await sealMessage(keys, id, payload)
  t.same(await openMessage(keys, id, sealed.iv, sealed.ct), payload)
  t.equal(sealed.bucket, 256)
  t.equal(Buffer.from(sealed.iv, 'base64url').length, 12)
  t.equal(Buffer.from(sealed.ct, 'base64url').length, 256 + 16)
})

void t.test('the ciphertext is AES-256-GCM over the padded JSON with the room and id as AAD', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const sealed = await sealMessage(keys, id, { ...payload, extra: 'dropped' } as MessagePayload)
  const ct = Buffer.from(sealed.ct, 'base64url')
  const decipher = createDecipheriv('aes-256-gcm', RAW_MESSAGE_KEY, Buffer.from(sealed.iv, 'base64url'))
  decipher.setAAD(Buffer.concat([utf8('ephemeral-chat/v1/msg'), ROOM_A, Buffer.from(id, 'base64url')]))
  decipher.setAuthTag(ct.subarray(-16))
  const padded = Buffer.concat([decipher.update(ct.subarray(0, -16)), decipher.final()])
  const json = '{"text":"Grüße aus Köln 🍻","nick":"Jörg","sentAt":1732550400000}'
  const plain = utf8(json)
  t.same([...padded.subarray(0, plain.length)], [...plain], 'JSON with keys text, nick, sentAt and nothing else')
  t.equal(padded[plain.length], 0x80, 'marker right after the JSON')
  t.ok(padded.subarray(plain.length + 1).every((byte) => byte === 0), 'zeros up to the bucket')
})

void t.test('every seal uses a fresh random IV', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const ivs = new Set<string>()
  const cts = new Set<string>()
  for (let i = 0; i < 50; i++) {
    const sealed = await sealMessage(keys, id, payload)
    ivs.add(sealed.iv)
    cts.add(sealed.ct)
  }
  t.equal(ivs.size, 50)
  t.equal(cts.size, 50)
})

void t.test('the ciphertext length reveals only the bucket', async (t) => {
  const keys = await keysFor(ROOM_A)
  const lengths = new Set<number>()
  for (const text of ['', 'a', 'a'.repeat(150), '€'.repeat(70)]) {
    const sealed = await sealMessage(keys, newMessageId(), { text, nick: 'n', sentAt: 0 })
    lengths.add(sealed.ct.length)
  }
  t.same([...lengths], [Buffer.alloc(256 + 16).toString('base64url').length])
})

void t.test('payloads fill the smallest bucket that holds them plus the marker', async (t) => {
  const keys = await keysFor(ROOM_A)
  const overhead = payloadBytes({ text: '', nick: 'n', sentAt: 0 })
  for (const [bytes, bucket] of [
    [255, 256],
    [256, 1024],
    [1023, 1024],
    [1024, 4096],
    [4095, 4096],
    [4096, 16384],
    [16383, 16384]
  ] as const) {
    const message = { text: 'x'.repeat(bytes - overhead), nick: 'n', sentAt: 0 }
    t.equal(payloadBytes(message), bytes)
    const id = newMessageId()
    const sealed = await sealMessage(keys, id, message)
    t.equal(sealed.bucket, bucket, `${bytes} bytes → ${bucket}`)
    t.same(await openMessage(keys, id, sealed.iv, sealed.ct), message)
  }
})

void t.test('payloadBytes counts UTF-8 bytes of the JSON', (t) => {
  t.equal(payloadBytes({ text: 'é', nick: '', sentAt: 5 }), utf8('{"text":"é","nick":"","sentAt":5}').length)
  t.end()
})

void t.test('a payload over 16 383 bytes is refused', async (t) => {
  const keys = await keysFor(ROOM_A)
  const overhead = payloadBytes({ text: '', nick: 'n', sentAt: 0 })
  t.equal(await failure(sealMessage(keys, newMessageId(), { text: 'x'.repeat(16384 - overhead), nick: 'n', sentAt: 0 })), 'too-large')
  t.equal(await failure(sealMessage(keys, newMessageId(), { text: '😀'.repeat(5000), nick: 'n', sentAt: 0 })), 'too-large')
})

void t.test('seal refuses a payload of the wrong shape, a bad message id or IV', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  t.equal(await failure(sealMessage(keys, id, { text: 1, nick: 'n', sentAt: 0 } as any)), 'payload')
  t.equal(await failure(sealMessage(keys, id, { text: 't', nick: 'n', sentAt: Number.NaN })), 'payload')
  t.equal(await failure(sealMessage(keys, id, { text: 't', nick: 'n', sentAt: Infinity })), 'payload')
  t.equal(await failure(sealMessage(keys, 'not an id', payload)), 'malformed')
  t.equal(await failure(sealMessage(keys, 'AAAA', payload)), 'malformed')
  t.equal(await failure(sealMessage(keys, id, payload, { iv: new Uint8Array(16) })), 'malformed')
})

void t.test('any flipped bit in IV, ciphertext or tag fails authentication', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const sealed = await sealMessage(keys, id, payload)
  for (const index of [0, 5, 11]) {
    t.equal(await failure(openMessage(keys, id, flipByte(sealed.iv, index), sealed.ct)), 'authentication')
  }
  for (const index of [0, 1, 100, 255, 256, 263, 271]) {
    t.equal(await failure(openMessage(keys, id, sealed.iv, flipByte(sealed.ct, index))), 'authentication')
  }
})

void t.test('an envelope moved to another room fails authentication', async (t) => {
  const id = newMessageId()
  const sealed = await sealMessage(await keysFor(ROOM_A), id, payload)
  // Same message key, other room id: only the AAD differs.
  t.equal(await failure(openMessage(await keysFor(ROOM_B), id, sealed.iv, sealed.ct)), 'authentication')
  // Other message key.
  t.equal(await failure(openMessage(await keysFor(ROOM_A, new Uint8Array(32)), id, sealed.iv, sealed.ct)), 'authentication')
})

void t.test('an envelope moved to another message id fails authentication', async (t) => {
  const keys = await keysFor(ROOM_A)
  const sealed = await sealMessage(keys, newMessageId(), payload)
  t.equal(await failure(openMessage(keys, newMessageId(), sealed.iv, sealed.ct)), 'authentication')
})

void t.test('a truncated envelope is malformed, or unauthentic if cut to another bucket', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const sealed = await sealMessage(keys, id, { text: 'x'.repeat(600), nick: 'n', sentAt: 0 })
  const ct = Buffer.from(sealed.ct, 'base64url')
  for (const length of [0, 1, 16, 256, 1024, 1039]) {
    t.equal(await failure(openMessage(keys, id, sealed.iv, ct.subarray(0, length).toString('base64url'))), 'malformed')
  }
  t.equal(await failure(openMessage(keys, id, sealed.iv, ct.subarray(0, 256 + 16).toString('base64url'))), 'authentication')
  t.equal(await failure(openMessage(keys, id, sealed.iv.slice(0, 12), sealed.ct)), 'malformed')
})

void t.test('bad base64url anywhere is malformed', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const sealed = await sealMessage(keys, id, payload)
  t.equal(await failure(openMessage(keys, id, sealed.iv + '=', sealed.ct)), 'malformed')
  t.equal(await failure(openMessage(keys, id, sealed.iv, sealed.ct.slice(0, 10) + '+' + sealed.ct.slice(11))), 'malformed')
  t.equal(await failure(openMessage(keys, id, sealed.iv, sealed.ct + ' ')), 'malformed')
  t.equal(await failure(openMessage(keys, id + '!', sealed.iv, sealed.ct)), 'malformed')
  t.equal(await failure(openMessage(keys, id.slice(0, 20), sealed.iv, sealed.ct)), 'malformed')
})

void t.test('authentic plaintext without the 0x80 marker is a padding error', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const json = utf8(JSON.stringify(payload))
  for (const padded of [
    bytesOfLength(256, json),
    new Uint8Array(256),
    bytesOfLength(256, json, Uint8Array.of(0x81)),
    bytesOfLength(256, json, Uint8Array.of(0x01))
  ]) {
    const forged = forgeEnvelope(ROOM_A, id, padded)
    t.equal(await failure(openMessage(keys, id, forged.iv, forged.ct)), 'padding')
  }
})

void t.test('authentic plaintext with non-zero bytes after the marker is a padding error', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const json = utf8(JSON.stringify(payload))
  const padded = bytesOfLength(256, json, Uint8Array.of(0x80))
  padded[255] = 0x01
  const forged = forgeEnvelope(ROOM_A, id, padded)
  t.equal(await failure(openMessage(keys, id, forged.iv, forged.ct)), 'padding')
})

void t.test('authentic, well-padded bytes that are not the payload JSON are a payload error', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  for (const body of [
    utf8('not json'),
    utf8(''),
    Uint8Array.of(0xff, 0xfe, 0x7b, 0x7d),
    utf8('\ufeff' + JSON.stringify(payload)),
    utf8('null'),
    utf8('[1,2,3]'),
    utf8('"text"'),
    utf8('{"text":"t","nick":"n"}'),
    utf8('{"text":"t","nick":"n","sentAt":"1"}'),
    utf8('{"text":"t","nick":null,"sentAt":1}'),
    utf8('{"text":"t","nick":"n","sentAt":1e999}')
  ]) {
    const forged = forgeEnvelope(ROOM_A, id, bytesOfLength(256, body, Uint8Array.of(0x80)))
    t.equal(await failure(openMessage(keys, id, forged.iv, forged.ct)), 'payload')
  }
})

void t.test('unknown JSON properties are left out of the opened payload', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const body = utf8('{"sentAt":7,"extra":{"x":1},"nick":"n","text":"t"}')
  const forged = forgeEnvelope(ROOM_A, id, bytesOfLength(256, body, Uint8Array.of(0x80)))
  t.strictSame(await openMessage(keys, id, forged.iv, forged.ct), { text: 't', nick: 'n', sentAt: 7 })
})

void t.test('arguments that break the types still reject with EnvelopeError', async (t) => {
  const keys = await keysFor(ROOM_A)
  const id = newMessageId()
  const sealed = await sealMessage(keys, id, payload)
  t.equal(await failure(openMessage({} as any, id, sealed.iv, sealed.ct)), 'malformed')
  t.equal(await failure(openMessage(keys, 42 as any, sealed.iv, sealed.ct)), 'malformed')
  t.equal(await failure(openMessage(keys, id, sealed.iv, null as any)), 'malformed')
})
