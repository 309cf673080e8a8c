/** What a query decided: the protocol's one result shape (a value, or the code to answer with). */
export { failure, success, type Result } from '@ephemeral-chat/protocol'
