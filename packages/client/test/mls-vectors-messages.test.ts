// The official MLS messages vectors (mlswg/mls-implementations): every wire structure
// decodes with ts-mls 1.6.4 and encodes back to the same bytes, all bytes consumed. The
// family is not per cipher suite; the first 10 of its 300 entries are kept (see
// mls-vectors/README.md). The codecs outside ts-mls's index are reached through its
// exported "./*.js" paths.
import t from 'tap'
import { decodeMlsMessage, encodeMlsMessage } from 'ts-mls'
import { decodeCommit, encodeCommit } from 'ts-mls/commit.js'
import { decodeGroupSecrets, encodeGroupSecrets } from 'ts-mls/groupSecrets.js'
import {
  decodeAdd,
  decodeExternalInit,
  decodeGroupContextExtensions,
  decodePSK,
  decodeReinit,
  decodeRemove,
  decodeUpdate,
  encodeAdd,
  encodeExternalInit,
  encodeGroupContextExtensions,
  encodePSK,
  encodeReinit,
  encodeRemove,
  encodeUpdate
} from 'ts-mls/proposal.js'
import { decodeRatchetTree, encodeRatchetTree } from 'ts-mls/ratchetTree.js'
import { hex, readVectors, toHex } from './mls-vectors-support.js'

type Decode<T> = (bytes: Uint8Array, offset: number) => [T, number] | undefined
type Encode<T> = (value: T) => Uint8Array

interface Codec {
  decode: Decode<unknown>
  encode: Encode<never>
  /** The wire format an MLSMessage field must have. */
  wireformat?: string
}

function codec<T> (decode: Decode<T>, encode: Encode<T>, wireformat?: string): Codec {
  return { decode, encode, ...(wireformat === undefined ? {} : { wireformat }) }
}

const CODECS: Record<string, Codec> = {
  mls_welcome: codec(decodeMlsMessage, encodeMlsMessage, 'mls_welcome'),
  mls_group_info: codec(decodeMlsMessage, encodeMlsMessage, 'mls_group_info'),
  mls_key_package: codec(decodeMlsMessage, encodeMlsMessage, 'mls_key_package'),
  ratchet_tree: codec(decodeRatchetTree, encodeRatchetTree),
  group_secrets: codec(decodeGroupSecrets, encodeGroupSecrets),
  add_proposal: codec(decodeAdd, encodeAdd),
  update_proposal: codec(decodeUpdate, encodeUpdate),
  remove_proposal: codec(decodeRemove, encodeRemove),
  pre_shared_key_proposal: codec(decodePSK, encodePSK),
  re_init_proposal: codec(decodeReinit, encodeReinit),
  external_init_proposal: codec(decodeExternalInit, encodeExternalInit),
  group_context_extensions_proposal: codec(decodeGroupContextExtensions, encodeGroupContextExtensions),
  commit: codec(decodeCommit, encodeCommit),
  public_message_application: codec(decodeMlsMessage, encodeMlsMessage, 'mls_public_message'),
  public_message_proposal: codec(decodeMlsMessage, encodeMlsMessage, 'mls_public_message'),
  public_message_commit: codec(decodeMlsMessage, encodeMlsMessage, 'mls_public_message'),
  private_message: codec(decodeMlsMessage, encodeMlsMessage, 'mls_private_message')
}

const cases = readVectors<Record<string, string>>('messages')

void t.test(`messages: ${cases.length} case(s)`, async (t) => {
  t.ok(cases.length > 0)
  for (const [index, vector] of cases.entries()) {
    await t.test(`case ${index}`, async (t) => {
      t.strictSame(Object.keys(vector).sort(), Object.keys(CODECS).sort(), 'every field has a codec')
      for (const [field, { decode, encode, wireformat }] of Object.entries(CODECS)) {
        const bytes = hex(vector[field]!)
        const decoded = decode(bytes, 0)
        if (decoded === undefined) {
          t.fail(`${field} decodes`)
          continue
        }
        const [value, length] = decoded
        t.equal(length, bytes.length, `${field}: every byte is read`)
        if (wireformat !== undefined) t.equal((value as { wireformat: string }).wireformat, wireformat, `${field}: wire format`)
        t.equal(toHex(encode(value as never)), vector[field], `${field}: encodes back to the same bytes`)
      }
    })
  }
})
