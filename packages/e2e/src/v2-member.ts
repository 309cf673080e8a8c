/**
 * A v2 member for the end-to-end tests: the SDK's RoomGroup (MLS on the pinned ts-mls, with
 * its checks) driven over a raw WebSocket through the v2 frames, the way the v2 session will
 * drive it (that session, with reconnects, sessionStorage and Web Locks, is later work).
 * Commits are applied in epoch order from the relayed `handshake` frames and, to close a
 * gap, from `group` since the member's epoch; a commit or send answered `stale-epoch` is
 * made again on top of the group as it is now.
 */
import { decodeBase64url, deriveMemberKeysV2, encodeBase64url, newMemberSecret, newMessageId, RoomGroup, signJoinChallenge, type RoomKeysV2 } from '@ephemeral-chat/client'
import { raw, type RawSocket, type RunningGateway } from './stack.js'

let refs = 0
const nextRef = (): string => `r${++refs}`

export interface ReceivedMessage { id: string, from: string, epoch: number, text: string }

export class V2Member {
  readonly socket: RawSocket
  group: RoomGroup
  readonly secret: string
  /** Every message this member opened, in order. */
  readonly opened: ReceivedMessage[] = []
  private constructor (socket: RawSocket, group: RoomGroup, secret: string) {
    this.socket = socket
    this.group = group
    this.secret = secret
  }

  get memberId (): string {
    return this.group.member.memberId
  }

  get epoch (): number {
    return Number(this.group.epoch)
  }

  async #request (frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = nextRef()
    this.socket.send({ v: 1, ...frame, ref })
    return this.socket.answer(ref)
  }

  /** Connects and joins the room by challenge; returns the socket and the joined frame. */
  static async connect (gateway: RunningGateway, room: RoomKeysV2, secret: string): Promise<{ socket: RawSocket, joined: Record<string, unknown> }> {
    const keys = await deriveMemberKeysV2(secret)
    const socket = await raw(gateway)
    const signature = await signJoinChallenge(keys.signingKey, decodeBase64url(await socket.challenge()), room.roomIdBytes)
    socket.send({ v: 1, type: 'join-v2', ref: 'join', roomId: room.roomId, publicKey: encodeBase64url(keys.signaturePublicKey), signature: encodeBase64url(signature) })
    const joined = await socket.answer('join')
    if (joined.type !== 'joined') throw new Error(`join refused: ${String(joined.code)}`)
    return { socket, joined }
  }

  /** A new member: creates the room's group, or joins it by external commit (again on `stale-epoch`). */
  static async enter (gateway: RunningGateway, room: RoomKeysV2, secret = newMemberSecret()): Promise<V2Member> {
    const keys = await deriveMemberKeysV2(secret)
    const { socket } = await V2Member.connect(gateway, room, secret)
    for (let attempt = 0; attempt < 10; attempt++) {
      socket.send({ v: 1, type: 'group', ref: 'state' })
      const state = await socket.answer('state') as { group?: { groupId: string, epoch: number, groupInfo?: string } }
      if (state.group === undefined) {
        const created = await RoomGroup.create(room, keys)
        socket.send({ v: 1, type: 'commit', ref: 'create', groupId: encodeBase64url(created.group.groupId), epoch: 0, groupInfo: encodeBase64url(created.sealedGroupInfo) })
        const answer = await socket.answer('create')
        if (answer.type === 'committed') return new V2Member(socket, created.group, secret)
        continue
      }
      const joined = await RoomGroup.join(room, keys, BigInt(state.group.epoch), decodeBase64url(state.group.groupInfo ?? ''))
      socket.send({ v: 1, type: 'commit', ref: 'join', groupId: state.group.groupId, epoch: state.group.epoch, handshake: encodeBase64url(joined.commit), groupInfo: encodeBase64url(joined.sealedGroupInfo) })
      const answer = await socket.answer('join')
      // Its own commit comes back relayed too: an epoch it has passed, skipped.
      if (answer.type === 'committed') return new V2Member(socket, joined.group, secret)
      if (answer.code !== 'stale-epoch') throw new Error(`join commit refused: ${String(answer.code)}`)
    }
    throw new Error('could not enter the group')
  }

  /** A member coming back (same secret) with its saved group on a new connection. */
  static async resume (gateway: RunningGateway, room: RoomKeysV2, secret: string, saved: string): Promise<{ member: V2Member, joined: Record<string, unknown> }> {
    const { socket, joined } = await V2Member.connect(gateway, room, secret)
    const group = await RoomGroup.load(room, await deriveMemberKeysV2(secret), saved)
    return { member: new V2Member(socket, group, secret), joined }
  }

  /** Applies every commit up to `epoch` (the group's now, by default), from the relayed frames or, for a gap, from the vault. */
  async catchUp (epoch?: number): Promise<void> {
    const target = epoch ?? await this.groupEpoch()
    while (this.epoch < target) {
      const relayed = this.socket.frames.find((f) => f.type === 'handshake' && f.epoch === this.epoch)
      let handshake = typeof relayed?.handshake === 'string' ? relayed.handshake : undefined
      if (handshake === undefined) {
        const state = await this.#request({ type: 'group', since: this.epoch }) as { handshakes?: Array<{ epoch: number, handshake: string }>, gap?: boolean }
        if (state.gap === true) throw new Error('a gap: the member must join again')
        handshake = state.handshakes?.find((h) => h.epoch === this.epoch)?.handshake
        if (handshake === undefined) throw new Error(`no handshake for epoch ${this.epoch}`)
      }
      this.group = await this.group.applyCommit(decodeBase64url(handshake))
    }
    // Relayed frames of passed epochs are done with.
    for (let i = this.socket.frames.length - 1; i >= 0; i--) {
      const frame = this.socket.frames[i]
      if (frame?.type === 'handshake' && typeof frame.epoch === 'number' && frame.epoch < this.epoch) this.socket.frames.splice(i, 1)
    }
  }

  async groupEpoch (): Promise<number> {
    const state = await this.#request({ type: 'group', since: this.epoch }) as { group?: { epoch: number } }
    return state.group?.epoch ?? this.epoch
  }

  /** An update commit (new keys for this member), made again on top of whatever won on `stale-epoch`. */
  async update (): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const next = await this.group.update()
      const answer = await this.#request({ type: 'commit', groupId: encodeBase64url(this.group.groupId), epoch: this.epoch, handshake: encodeBase64url(next.commit), groupInfo: encodeBase64url(next.sealedGroupInfo) })
      if (answer.type === 'committed') { this.group = next.group; return }
      if (answer.code !== 'stale-epoch') throw new Error(`update refused: ${String(answer.code)}`)
      await this.catchUp()
    }
    throw new Error('the update lost ten times')
  }

  /** Sends a text; on `stale-epoch` catches up and seals it again under the new epoch (same id). */
  async send (text: string, id = newMessageId()): Promise<string> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const sealed = await this.group.seal(id, new TextEncoder().encode(text))
      const answer = await this.#request({ type: 'send-v2', id, epoch: this.epoch, message: encodeBase64url(sealed.message) })
      if (answer.type === 'sent') { this.group = sealed.group; return id }
      if (answer.code !== 'stale-epoch') throw new Error(`send refused: ${String(answer.code)}`)
      await this.catchUp()
    }
    throw new Error('the send lost ten times')
  }

  /**
   * Reads its cards in epoch order: before the cards of an epoch, the commits up to it; each
   * message is opened with its epoch's keys, the state kept, then confirmed viewed.
   */
  async readCards (cards: ReadonlyArray<{ id: string, from: string, epoch?: number }>): Promise<void> {
    const ordered = [...cards].sort((a, b) => (a.epoch ?? 0) - (b.epoch ?? 0))
    for (const card of ordered) {
      await this.catchUp(card.epoch)
      const read = await this.#request({ type: 'read', id: card.id })
      if (read.type !== 'payload-v2' || typeof read.message !== 'string') throw new Error(`read refused: ${String(read.code)}`)
      const { group, plaintext } = await this.group.open(card.id, card.from, decodeBase64url(read.message))
      this.group = group
      this.opened.push({ id: card.id, from: card.from, epoch: card.epoch ?? 0, text: new TextDecoder().decode(plaintext) })
      await this.#request({ type: 'viewed', id: card.id })
    }
  }

  /** The cards relayed to this connection so far, taken out of its frames. */
  takeCards (): Array<{ id: string, from: string, epoch?: number }> {
    const cards = this.socket.frames.filter((f) => f.type === 'message') as unknown as Array<{ id: string, from: string, epoch?: number }>
    for (const card of cards) this.socket.frames.splice(this.socket.frames.indexOf(card), 1)
    return cards
  }

  close (): void {
    this.socket.socket.close()
  }
}
