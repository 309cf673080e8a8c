// The one doorway to Web Crypto. Everything goes through `globalThis.crypto`, read at
// call time, so the same code runs in browsers and in Node 20+ with no Node APIs.

/** Web Crypto's `SubtleCrypto`, typed from whichever global lib is in scope (DOM or Node). */
export type Subtle = typeof globalThis.crypto.subtle

/**
 * Web Crypto's `CryptoKey`. Derived from the global `crypto` so the declaration works
 * both with the DOM lib and with @types/node, which has no global `CryptoKey` type.
 */
export type WebCryptoKey = Awaited<ReturnType<Subtle['importKey']>>

export function subtle (): Subtle {
  const webCrypto = globalThis.crypto as typeof globalThis.crypto | undefined
  if (webCrypto?.subtle === undefined) {
    throw new Error('Web Crypto (globalThis.crypto.subtle) is unavailable: use a secure context or Node 20+')
  }
  return webCrypto.subtle
}

export function randomBytes (length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length)
  globalThis.crypto.getRandomValues(bytes)
  return bytes
}

const encoder = new TextEncoder()

export function utf8 (text: string): Uint8Array<ArrayBuffer> {
  // Copy into a fresh ArrayBuffer-backed array: some lib typings return ArrayBufferLike.
  return new Uint8Array(encoder.encode(text))
}

export function concatBytes (...parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export async function sha256 (data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle().digest('SHA-256', data))
}

export function toHex (bytes: Uint8Array): string {
  let hex = ''
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0')
  return hex
}
