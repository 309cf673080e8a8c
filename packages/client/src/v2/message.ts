// Message authenticated data, protocol v2 (docs/architecture.md §10 "message"):
//
//   authenticated_data = "ephemeral-chat/v2/msg" ‖ message id (16 bytes)
//
// It goes into the MLS PrivateMessage's authenticated_data, which MLS authenticates
// with the content (RFC 9420 §6.3), so a server cannot move a ciphertext to another
// message id (card); the room is already bound by the MLS group itself.

import { MESSAGE_ID_BYTES } from '@ephemeral-chat/protocol'
import { Base64urlError, decodeBase64url, encodeBase64url } from '../base64url.js'
import { concatBytes, utf8 } from '../webcrypto.js'
import { requireBytes } from './bytes.js'
import { MESSAGE_AAD_CONTEXT_V2 } from './params.js'

const CONTEXT = utf8(MESSAGE_AAD_CONTEXT_V2)

/** The authenticated data for a message id (base64url of 16 bytes, as `newMessageId` makes, or the bytes). */
export function messageAuthenticatedData (messageId: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const id = typeof messageId === 'string' ? decodeMessageId(messageId) : messageId
  requireBytes(id, MESSAGE_ID_BYTES, 'message id')
  return concatBytes(CONTEXT, id)
}

/**
 * The message id (base64url) that authenticated data names, for checking it against
 * the card's id; `undefined` if it is not v2 message authenticated data.
 */
export function messageIdFromAuthenticatedData (authenticatedData: Uint8Array): string | undefined {
  if (authenticatedData.length !== CONTEXT.length + MESSAGE_ID_BYTES) return undefined
  for (let i = 0; i < CONTEXT.length; i++) if (authenticatedData[i] !== CONTEXT[i]) return undefined
  return encodeBase64url(authenticatedData.subarray(CONTEXT.length))
}

function decodeMessageId (text: string): Uint8Array {
  try {
    return decodeBase64url(text)
  } catch (error) {
    if (error instanceof Base64urlError) throw new TypeError(`message id is not base64url: ${error.message}`)
    throw error
  }
}
