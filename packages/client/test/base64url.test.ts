import { randomBytes } from 'node:crypto'
import t from 'tap'
import { Base64urlError, decodeBase64url, encodeBase64url } from '../src/index.js'

void t.test('encoding matches Node and round-trips for every length up to 64', (t) => {
  for (let length = 0; length <= 64; length++) {
    const bytes = randomBytes(length)
    const text = encodeBase64url(bytes)
    t.equal(text, bytes.toString('base64url'))
    t.same([...decodeBase64url(text)], [...bytes])
  }
  t.end()
})

void t.test('RFC 4648 test vectors', (t) => {
  const vectors: Array<[string, string]> = [
    ['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']
  ]
  for (const [plain, encoded] of vectors) {
    t.equal(encodeBase64url(new TextEncoder().encode(plain)), encoded)
    t.equal(new TextDecoder().decode(decodeBase64url(encoded)), plain)
  }
  t.equal(encodeBase64url(Uint8Array.of(0xfb, 0xff)), '-_8', 'URL-safe alphabet')
  t.end()
})

void t.test('decoding is strict', (t) => {
  for (const bad of ['Zg==', 'Zm8=', 'Zm9v+', 'ab/c', 'ab c', 'Zm9v\n', 'Z', 'Zm9vY', 'Zh', 'Zm9', 'Zm-']) {
    t.throws(() => decodeBase64url(bad), Base64urlError, JSON.stringify(bad))
  }
  t.same([...decodeBase64url('Zg')], [0x66], 'canonical form of the same byte is accepted')
  t.same([...decodeBase64url('Zm8')], [0x66, 0x6f])
  t.end()
})
