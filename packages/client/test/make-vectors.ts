// Regenerates test/vectors.json with the SDK itself. The codes, message ids and IVs
// below were drawn at random once and are fixed from now on; test/vectors.test.ts checks
// the SDK still reproduces the file and test/vectors-crosscheck.test.ts recomputes it
// with node:crypto alone. Run after `npx tsc -b`:
//
//   node packages/client/dist/test/make-vectors.js > packages/client/test/vectors.json

import {
  decodeBase64url,
  deriveRoomKeys,
  formatRoomCode,
  normalizeRoomCode,
  roomHashHex,
  sealMessage,
  type MessagePayload
} from '../src/index.js'

const DERIVATION_CODES = [
  // Typed by a person: lower case, spaces, an en dash, O for 0, I and L for 1.
  'lyn o3e–e5p-wIb mds 35c  k5w-jxr-vkr',
  formatRoomCode('490H4R3VFVC9RSP8K5PFD272N2X'),
  formatRoomCode('7HMESHZ04XF9CXGBRYMNV53HC4B'),
  formatRoomCode('04CTAPJ04K370PAF2TFFH4R8JF8'),
  formatRoomCode('23B70X0F0M0J60CFARVQK0T7TN3'),
  // The smallest and the largest 128-bit values.
  formatRoomCode('000000000000000000000000000'),
  formatRoomCode('7ZZZZZZZZZZZZZZZZZZZZZZZZZJ')
]

/** `prefix` followed by ASCII filler so the JSON plaintext is exactly `bytes` long. */
function payloadOfLength (prefix: string, nick: string, sentAt: number, bytes: number): MessagePayload {
  const base = new TextEncoder().encode(JSON.stringify({ text: prefix, nick, sentAt })).length
  if (base > bytes) throw new Error('prefix too long')
  const filler = 'The quick brown fox jumps over the lazy dog. '
  return { text: prefix + filler.repeat(Math.ceil((bytes - base) / filler.length)).slice(0, bytes - base), nick, sentAt }
}

const ENVELOPES: Array<{ code: string, messageId: string, iv: string, payload: MessagePayload }> = [
  {
    // 255 bytes: the largest plaintext for the 256 bucket (marker in the last byte).
    code: DERIVATION_CODES[1]!,
    messageId: '80jmexaVfX8o14AlgpFomQ',
    iv: 'OF06-2D1_LxLREmz',
    payload: payloadOfLength('Héllo, wörld! 👋 Ça va? — «ok» ', 'Zoë', 1732550400000, 255)
  },
  {
    // 256 bytes: the smallest plaintext that no longer fits 256, so it takes 1024.
    // Quotes, backslash, newline, a control character and a lone surrogate pin down
    // JSON.stringify's escaping.
    code: DERIVATION_CODES[2]!,
    messageId: 'EVXDdJuK2Y5uKPl0kCVClw',
    iv: '9YvnZH9Gae73CMNe',
    payload: payloadOfLength('line 1\nline 2 "quoted" \\ tab\t bell\u0007 lone\ud800 日本語 ', 'Ωmega', 1700000000123, 256)
  },
  {
    code: DERIVATION_CODES[3]!,
    messageId: 'ztn88szlbiAbb5d2Mu0a0w',
    iv: 'iBWe_fWIwQqhQ8VP',
    payload: {
      text: 'Привет, мир! 🌍🌎🌏 '.repeat(60) + 'Ende.',
      nick: 'Ярослав',
      sentAt: 1767225599999
    }
  },
  {
    // 16 383 bytes: the largest plaintext accepted at all.
    code: DERIVATION_CODES[0]!,
    messageId: 'HZzxiS2mpbqfUNUZGfqa7A',
    iv: 'zfVBQl-vECkbqVFR',
    payload: payloadOfLength('Ελληνικά, עברית, العربية, हिन्दी, 中文, 🧪🔐 ', 'ünïcødé', 0, 16383)
  }
]

const derivation = []
for (const code of DERIVATION_CODES) {
  const keys = await deriveRoomKeys(code)
  derivation.push({
    code,
    normalized: normalizeRoomCode(code),
    roomId: keys.roomId,
    roomHash: await roomHashHex(keys.roomIdBytes)
  })
}

const envelope = []
for (const { code, messageId, iv, payload } of ENVELOPES) {
  const keys = await deriveRoomKeys(code)
  const sealed = await sealMessage(keys, messageId, payload, { iv: decodeBase64url(iv) })
  envelope.push({
    code,
    messageId,
    iv: sealed.iv,
    plaintextUtf8: JSON.stringify({ text: payload.text, nick: payload.nick, sentAt: payload.sentAt }),
    paddedLength: sealed.bucket,
    ciphertext: sealed.ct
  })
}

process.stdout.write(JSON.stringify({ derivation, envelope }, null, 2) + '\n')
