/**
 * The session of a room, either protocol version: v1 (a key from the code) or v2 (an MLS
 * group; architecture §9–§11). Both have the same API; v2 adds fingerprints and a roster.
 */
import type { ChatSession, ChatSessionV2, SessionErrorCode } from '@ephemeral-chat/client'
import { errorMessage } from '@ephemeral-chat/protocol'

export type RoomSession = ChatSession | ChatSessionV2

/** What to tell the person about a session error. */
export function sessionErrorText (code: SessionErrorCode): string {
  if (code === 'closed' || code === 'timeout') return 'The connection was lost.'
  if (code === 'group-failed') return 'The room\'s encrypted group cannot be joined right now (a member published a state nobody can join). Try again later, or start a new room.'
  return errorMessage(code)
}
