/** One valid example of every protocol message, shared by the tests. */
const id = 'AAAAAAAAAAAAAAAAAAAAAA'
const member = 'BBBBBBBBBBBBBBBBBBBBBA'
const other = 'CCCCCCCCCCCCCCCCCCCCCA'
const roomId = 'A'.repeat(42) + 'E'
const secret = 'Q'.repeat(42) + 'A'
const roomHash = 'ab'.repeat(32)
const gatewayId = 'cd'.repeat(16)
const iv = 'AAAAAAAAAAAAAAAA'
const ct = 'A'.repeat(363)
const card = { id, from: other, bucket: 256, expiresAt: 1_800_000_000_000 }

export const values = { id, member, other, roomId, secret, roomHash, gatewayId, iv, ct, card }

export const clientFrames = {
  join: { v: 1, type: 'join', ref: 'r1', roomId, memberSecret: secret },
  send: { v: 1, type: 'send', ref: 'r2', id, iv, ct },
  reveal: { v: 1, type: 'reveal', id },
  viewed: { v: 1, type: 'viewed', ref: 'x', id },
  typing: { v: 1, type: 'typing', active: true },
  leave: { v: 1, type: 'leave' },
  ping: { v: 1, type: 'ping', ref: 'p' }
}

export const serverFrames = {
  joined: { v: 1, type: 'joined', ref: 'r1', memberId: member, members: 2, pending: [card] },
  sent: { v: 1, type: 'sent', ref: 'r2', id, recipients: 1, expiresAt: 1_800_000_000_000 },
  message: { v: 1, type: 'message', ...card },
  payload: { v: 1, type: 'payload', id, iv, ct },
  viewed: { v: 1, type: 'viewed', id, remaining: 0 },
  gone: { v: 1, type: 'gone', id, reason: 'expired' },
  typing: { v: 1, type: 'typing', from: other, active: false },
  presence: { v: 1, type: 'presence', members: 3 },
  left: { v: 1, type: 'left' },
  pong: { v: 1, type: 'pong' },
  error: { v: 1, type: 'error', ref: 'r2', code: 'rate-limited', message: 'Too many requests; slow down.' }
}

export const requests = {
  roomJoinRequest: { v: 1, deadline: 1_800_000_000_000, roomHash, memberId: member, gatewayId, connectionId: 7 },
  roomLeaveRequest: { v: 1, roomHash, memberId: member, gatewayId, connectionId: 7, mode: 'leave' },
  messageStoreRequest: { v: 1, roomHash, memberId: member, id, iv, ct },
  messageFetchRequest: { v: 1, roomHash, memberId: member, id },
  messageAckRequest: { v: 1, roomHash, memberId: member, id },
  gatewayHeartbeatRequest: { v: 1, deadline: 1_800_000_000_000, gatewayId, intervalMs: 5000, connections: 2, digest: '0123456789abcdef' },
  gatewaySyncRequest: { v: 1, gatewayId, from: 0, to: 8, entries: [{ connectionId: 7, roomHash, memberId: member }] }
}

export const replies = {
  roomJoinReply: { v: 1, ok: true, members: 2, presenceVersion: 41, pending: [card], receipts: [{ id, remaining: 1 }], gone: [] },
  roomLeaveReply: { v: 1, ok: true, members: 1 },
  messageStoreReply: { v: 1, ok: true, recipients: [other], bucket: 256, expiresAt: 1_800_000_000_000, duplicate: false },
  messageFetchReply: { v: 1, ok: true, iv, ct },
  messageAckReply: { v: 1, ok: true, remaining: 0, gone: true },
  gatewayHeartbeatReply: { v: 1, ok: true, resync: false },
  gatewaySyncReply: { v: 1, ok: true }
}

export const events = {
  message: { v: 1, type: 'message', id, from: member, recipients: [other], bucket: 1024, expiresAt: 1 },
  viewed: { v: 1, type: 'viewed', id, to: member, remaining: 1 },
  gone: { v: 1, type: 'gone', id, reason: 'viewed' },
  typing: { v: 1, type: 'typing', from: member, active: true },
  presence: { v: 1, type: 'presence', members: 0, version: 42 }
}
