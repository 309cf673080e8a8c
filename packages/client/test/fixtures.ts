// Shared test helpers: room keys from a known raw AES key (no PBKDF2, so envelope tests
// are fast and can forge ciphertexts with node:crypto), and node:crypto sealing that
// bypasses the SDK's padding and payload encoding.

import { createCipheriv, randomBytes } from 'node:crypto'
import type { RoomKeys } from '../src/index.js'

export const RAW_MESSAGE_KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')

export async function keysFor (roomIdBytes: Uint8Array, rawKey: Uint8Array = RAW_MESSAGE_KEY): Promise<RoomKeys> {
  const messageKey = await crypto.subtle.importKey('raw', rawKey, 'AES-GCM', false, ['encrypt', 'decrypt'])
  return { roomId: Buffer.from(roomIdBytes).toString('base64url'), roomIdBytes, messageKey }
}

export const ROOM_A = new Uint8Array(32).fill(0xaa)
export const ROOM_B = new Uint8Array(32).fill(0xbb)

/** AES-256-GCM exactly as docs/architecture.md §3 describes it, on bytes the caller chose. */
export function forgeEnvelope (
  roomIdBytes: Uint8Array,
  messageId: string,
  padded: Uint8Array,
  rawKey: Uint8Array = RAW_MESSAGE_KEY
): { iv: string, ct: string } {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', rawKey, iv, { authTagLength: 16 })
  cipher.setAAD(Buffer.concat([Buffer.from('ephemeral-chat/v1/msg', 'utf8'), roomIdBytes, Buffer.from(messageId, 'base64url')]))
  const ct = Buffer.concat([cipher.update(padded), cipher.final(), cipher.getAuthTag()])
  return { iv: iv.toString('base64url'), ct: ct.toString('base64url') }
}

/** `bytes ‖ tail`, zero-filled to `length`. */
export function bytesOfLength (length: number, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Flips one bit of the decoded bytes of a base64url string. */
export function flipByte (base64url: string, index: number): string {
  const bytes = Buffer.from(base64url, 'base64url')
  bytes[index] = bytes[index]! ^ 0x01
  return bytes.toString('base64url')
}
