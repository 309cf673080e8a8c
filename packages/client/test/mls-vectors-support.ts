// Shared by the MLS interop vector tests: reads a vector file of test/mls-vectors/ and
// the ts-mls implementation of cipher suite 1, the protocol v2 suite.
import { packageRoot } from '@ephemeral-chat/testkit'
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { getCiphersuiteFromName, getCiphersuiteImpl, type CiphersuiteImpl } from 'ts-mls'

export const SUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'
export const SUITE_ID = 1

export function readVectors<T> (family: string): T[] {
  return JSON.parse(readFileSync(join(packageRoot(import.meta.url), 'test', 'mls-vectors', `${family}.json`), 'utf8')) as T[]
}

let impl: Promise<CiphersuiteImpl> | undefined
export function suite (): Promise<CiphersuiteImpl> {
  impl ??= getCiphersuiteImpl(getCiphersuiteFromName(SUITE))
  return impl
}

export const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'))
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
