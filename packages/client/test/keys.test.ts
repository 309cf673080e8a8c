import { createHash, hkdfSync, pbkdf2Sync } from 'node:crypto'
import t from 'tap'
import {
  deriveRoomKeys,
  formatRoomCode,
  generateRoomCode,
  HKDF_INFO_MESSAGE_KEY,
  HKDF_INFO_ROOM_ID,
  PBKDF2_ITERATIONS,
  PBKDF2_SALT,
  roomFingerprint,
  roomHashHex,
  RoomCodeError,
  type RoomKeys
} from '../src/index.js'

const code = generateRoomCode()
const otherCode = generateRoomCode()
// One PBKDF2 run per code, shared by the tests below.
const keysPromise = deriveRoomKeys(formatRoomCode(code).toLowerCase())
const otherKeysPromise = deriveRoomKeys(otherCode)

void t.test('protocol constants are those of docs/architecture.md §3', (t) => {
  t.equal(PBKDF2_ITERATIONS, 600_000)
  t.equal(PBKDF2_SALT, 'ephemeral-chat/v1/room')
  t.equal(HKDF_INFO_ROOM_ID, 'ephemeral-chat/v1/room-id')
  t.equal(HKDF_INFO_MESSAGE_KEY, 'ephemeral-chat/v1/message-key')
  t.end()
})

void t.test('any spelling of a code derives the keys of its normalised form', async (t) => {
  const keys = await keysPromise
  const master = pbkdf2Sync(code, 'ephemeral-chat/v1/room', 600_000, 32, 'sha256')
  const roomId = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'ephemeral-chat/v1/room-id', 32))
  t.equal(keys.roomId, roomId.toString('base64url'))
  t.same([...keys.roomIdBytes], [...roomId])
  t.match(keys.roomId, /^[A-Za-z0-9_-]{43}$/)
})

void t.test('different codes derive different rooms', async (t) => {
  t.not((await keysPromise).roomId, (await otherKeysPromise).roomId)
})

void t.test('an invalid code rejects with RoomCodeError', async (t) => {
  const reason = (input: string) =>
    deriveRoomKeys(input).then(
      () => 'no error',
      (error: unknown) => (error instanceof RoomCodeError ? error.reason : 'not a RoomCodeError')
    )
  t.equal(await reason(''), 'empty')
  t.equal(await reason(code.slice(1)), 'wrong-length')
  t.equal(await reason(code.slice(0, 5) + (code[5] === 'A' ? 'B' : 'A') + code.slice(6)), 'check-failed')
  t.equal(await reason(code + 'U'), 'invalid-character')
})

void t.test('the message key is a non-extractable AES-GCM-256 key for encrypt and decrypt', async (t) => {
  const { messageKey } = await keysPromise
  t.equal(messageKey.extractable, false)
  t.equal(messageKey.type, 'secret')
  t.match(messageKey.algorithm, { name: 'AES-GCM', length: 256 })
  t.same([...messageKey.usages].sort(), ['decrypt', 'encrypt'])
  await t.rejects(crypto.subtle.exportKey('raw', messageKey))
  await t.rejects(crypto.subtle.exportKey('jwk', messageKey))
})

void t.test('room keys cannot be changed after derivation', async (t) => {
  const keys = await keysPromise
  t.ok(Object.isFrozen(keys))
})

void t.test('the room hash is hex SHA-256 of the 32 room id bytes', async (t) => {
  const keys: RoomKeys = await keysPromise
  const expected = createHash('sha256').update(keys.roomIdBytes).digest('hex')
  t.equal(await roomHashHex(keys.roomIdBytes), expected)
  t.equal(await roomHashHex(new Uint8Array(32)), '66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925')
})

void t.test('the fingerprint is 40 bits of a domain-separated hash in two groups of four', async (t) => {
  const keys = await keysPromise
  const fingerprint = await roomFingerprint(keys.roomIdBytes)
  t.match(fingerprint, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/)
  t.equal(await roomFingerprint(keys.roomIdBytes), fingerprint, 'deterministic')
  t.not(await roomFingerprint((await otherKeysPromise).roomIdBytes), fingerprint)

  const digest = createHash('sha256').update('ephemeral-chat/v1/fingerprint').update(keys.roomIdBytes).digest()
  const value = digest.readUIntBE(0, 5)
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
  let symbols = ''
  for (let i = 7; i >= 0; i--) symbols += alphabet[Math.floor(value / 2 ** (5 * i)) % 32]
  t.equal(fingerprint, `${symbols.slice(0, 4)}-${symbols.slice(4)}`)

  const roomHash = createHash('sha256').update(keys.roomIdBytes).digest()
  t.not(digest.subarray(0, 5).toString('hex'), roomHash.subarray(0, 5).toString('hex'), 'not a prefix of the room hash')
})

void t.test('a fixed fingerprint vector', async (t) => {
  // SHA-256("ephemeral-chat/v1/fingerprint" ‖ 32 zero bytes) starts 09 43 ac 30 1a:
  // 00001 00101 00001 11010 11000 01100 00000 11010 = 1 5 1 T R C 0 T (checked by hand).
  const digest = createHash('sha256').update('ephemeral-chat/v1/fingerprint').update(Buffer.alloc(32)).digest()
  t.equal(digest.subarray(0, 5).toString('hex'), '0943ac301a')
  t.equal(await roomFingerprint(new Uint8Array(32)), '151T-RC0T')
})
