/**
 * The v2 session: a room as an MLS group (docs/architecture.md §9–§11), with the API of the
 * v1 `ChatSession`. On every connection it joins by signing the gateway's challenge (the
 * member secret never leaves), then brings the member's group up to the room's epoch: from
 * the saved state and the handshakes since it, or by creating the group, or by joining it
 * with an external commit (again, replacing its old leaf, when a gap cannot be closed).
 *
 * The group state changes one step at a time (every change goes through one queue) and is
 * saved after each, through `store`, before anything that depends on it leaves the device:
 * a message is opened, its key consumed and the state saved before `viewed` can be sent; a
 * message key is spent (and saved) when a message is sealed, sent or not, so no key ever
 * seals twice. Commits of other members are applied in epoch order after the checks of
 * `RoomGroup` (join proof, leaf shape); one that fails them is refused (`refused`) and this
 * member joins the group again. A message sent while nobody else is in the group waits on
 * this device (`queued`) and is sent when someone joins; members the vault reports absent
 * (or who left) are removed by a commit; every member updates its keys after a reload and
 * every `updateIntervalMs`.
 *
 * One writer per room state: the caller keeps one session per member secret (the web client
 * holds a Web Lock per member secret, so a duplicated tab starts as a new member).
 */
import { PROTOCOL_VERSION, type Card, type ClientFrame, type ServerFrame } from '@ephemeral-chat/protocol'
import { decodeBase64url, encodeBase64url } from '../base64url.js'
import { decodePayload, encodePayload, type MessagePayload } from '../envelope.js'
import { newMessageId } from '../member.js'
import { asSessionError, delay, type ConnectionOptions, type Expect, type JoinedFrame, RETRYABLE, type RevealedMessage, SessionCore, SessionError, type SentMessage } from '../session.js'
import { signJoinChallenge } from './challenge.js'
import { GroupCheckError, RoomGroup } from './group.js'
import type { RoomKeysV2 } from './keys.js'
import { deriveMemberKeysV2, memberFingerprint, type MemberKeysV2 } from './member.js'

/** Where a member's group state is kept between page loads (the web client: sessionStorage). */
export interface GroupStore {
  load (): string | undefined
  save (state: string): void
}

export interface SessionV2Options extends ConnectionOptions {
  keys: RoomKeysV2
  /** This member's secret for the room: the same secret is the same member (and fingerprint). */
  memberSecret: string
  /** Keeps the group state across reloads; without it a reload joins the group again as a new leaf. */
  store?: GroupStore
  /** An empty update commit this often (default 24 h), besides the one after a reload. */
  updateIntervalMs?: number
  /** The longest random wait before committing the removal of an absent member (default 2 s): the first commit wins, the others stand down. */
  removalJitterMs?: number
}

/** Tries at one operation on the group before giving up (each lost race costs a round trip). */
const GROUP_ATTEMPTS = 10
const DAY_MS = 24 * 60 * 60 * 1000

type Made = { group: RoomGroup, commit: Uint8Array, sealedGroupInfo: Uint8Array }

export class ChatSessionV2 extends SessionCore {
  readonly protocol = 2
  readonly #keys: RoomKeysV2
  readonly #memberSecret: string
  readonly #store: GroupStore | undefined
  readonly #updateIntervalMs: number
  readonly #removalJitterMs: number
  #member: MemberKeysV2 | undefined
  #group: RoomGroup | undefined
  /** The state came from the store: this member updates its keys once it is in sync. */
  #restored = false
  /** The queue every change of the group waits in. */
  #queue: Promise<unknown> = Promise.resolve()
  /** The challenge of the current connection, and who waits for it. */
  #challenge: string | undefined
  #challengeWaiters: Array<{ resolve (challenge: string): void, reject (error: SessionError): void }> = []
  /** This member's commit awaiting the vault's answer: if the answer is lost, its relayed handshake says it won. */
  #ownCommit: { epoch: bigint, handshake: string, group: RoomGroup } | undefined
  /** Messages not yet stored, as plaintext: sealed anew at every attempt, under the epoch of the moment. */
  readonly #outbox = new Map<string, MessagePayload>()
  /** Who waits for someone else to be in the group (messages sent while alone). */
  #companyWaiters: Array<{ resolve (): void, reject (error: SessionError): void }> = []
  /** Cards announced and not gone: their sender and epoch, needed to open them. */
  readonly #cards = new Map<string, Card>()
  /** Counts changes of the group's members; `#aloneAt`: the count when a send last found this member alone. */
  #rosterVersion = 0
  #aloneAt = 0
  #updateTimer: ReturnType<typeof setInterval> | undefined
  fingerprint: string | undefined

  constructor (options: SessionV2Options) {
    super(options)
    this.#keys = options.keys
    this.#memberSecret = options.memberSecret
    this.#store = options.store
    this.#updateIntervalMs = options.updateIntervalMs ?? DAY_MS
    this.#removalJitterMs = options.removalJitterMs ?? 2000
    this.on('card', (card) => { this.#cards.set(card.id, card) })
    this.on('gone', ({ id }) => { this.#cards.delete(id) })
  }

  /** Message ids not yet stored (failed sends awaiting `retrySend`, or waiting for company). */
  get unsent (): string[] {
    return [...this.#outbox.keys()]
  }

  /** The epoch of this member's group (undefined before it is in one). */
  get epoch (): bigint | undefined {
    return this.#group?.epoch
  }

  /** Seals `text` for the group and sends it; while this member is alone in the group it waits here (`queued`). */
  async send (text: string): Promise<SentMessage> {
    const id = newMessageId()
    this.#outbox.set(id, { text, nick: this.settings.nick, sentAt: Date.now() })
    return this.retrySend(id)
  }

  /** Sends an unsent message again under its id (sealed again: the vault stores one message per id). */
  async retrySend (id: string): Promise<SentMessage> {
    const payload = this.#outbox.get(id)
    if (payload === undefined) throw new SessionError('not-found', 'no unsent message with this id', id)
    let lastError: SessionError | undefined
    let failures = 0
    let races = 0
    while (failures < this.settings.sendAttempts && races < GROUP_ATTEMPTS) {
      try {
        await this.whenJoined(this.settings.requestTimeoutMs)
        const sent = await this.#exclusive(async () => this.#sendOnce(id, payload))
        this.#outbox.delete(id)
        return { id, recipients: sent.recipients, expiresAt: sent.expiresAt, ...(sent.gone === undefined ? {} : { gone: sent.gone }) }
      } catch (error) {
        lastError = asSessionError(error)
        if (this.closedByUser) break
        if (lastError.code === 'alone') {
          // Not a failure: nobody could read it yet. It waits for the next member (forward secrecy: not for the vault).
          this.emit('queued', { id })
          try {
            await this.#whenCompany(this.#aloneAt)
          } catch (closed) {
            lastError = asSessionError(closed)
            break
          }
          continue
        }
        // Lost a race with a commit: the queue has caught up; seal again under the new epoch at once.
        if (lastError.code === 'stale-epoch') { races++; continue }
        if (!RETRYABLE.has(lastError.code)) break
        failures++
        if (failures < this.settings.sendAttempts) await delay(Math.max(this.backoff(failures), lastError.retryAfterMs ?? 0))
      }
    }
    throw new SessionError(lastError?.code ?? 'closed', lastError?.message ?? 'send failed', id)
  }

  /**
   * Fetches and opens a message addressed to this member: its MLS sender must be the card's
   * `from` and its authenticated data the card's id (else `GroupCheckError`, and no text).
   * The key is consumed and the state saved before this returns: call `viewed` after it.
   */
  async reveal (id: string): Promise<RevealedMessage> {
    const card = this.#cards.get(id)
    if (card === undefined) throw new SessionError('not-found', 'no card with this id')
    const read = await this.request({ v: PROTOCOL_VERSION, type: 'read', id }, 'payload-v2')
    return this.#exclusive(async () => {
      // A card of an epoch this member has not reached yet: the commits first.
      if (card.epoch !== undefined && this.#group !== undefined && BigInt(card.epoch) > this.#group.epoch) await this.#catchUp()
      const opened = await this.#requireGroup().open(id, card.from, decodeBase64url(read.message))
      await this.#adopt(opened.group)
      // Its key is spent: the card cannot be opened again, so it is forgotten here.
      this.#cards.delete(id)
      let payload: MessagePayload
      try {
        payload = decodePayload(opened.plaintext)
      } catch {
        throw new GroupCheckError('padding', 'the message is not a v2 chat message')
      }
      return { ...payload, fingerprint: await memberFingerprint(opened.senderPublicKey) }
    })
  }

  /** The members of the group now, with their fingerprints. */
  async roster (): Promise<Array<{ memberId: string, fingerprint: string, self: boolean }>> {
    const group = this.#group
    if (group === undefined) return []
    return Promise.all(group.memberIds().map(async (memberId) => ({
      memberId,
      fingerprint: await memberFingerprint(group.publicKeyOf(memberId) ?? new Uint8Array(32)),
      self: memberId === group.member.memberId
    })))
  }

  /** An empty commit with a new path: this member's keys of the group are replaced (a copy of its state stops working). */
  async update (): Promise<void> {
    await this.#exclusive(async () => this.#commit(async (group) => group.update()))
  }

  // ── joining ─────────────────────────────────────────────────────────────

  protected async joinRoom (): Promise<JoinedFrame> {
    const member = this.#member ??= await deriveMemberKeysV2(this.#memberSecret)
    this.fingerprint = member.fingerprint
    const challenge = await this.#currentChallenge()
    const signature = await signJoinChallenge(member.signingKey, decodeBase64url(challenge), this.#keys.roomIdBytes)
    const joined = await this.request({
      v: PROTOCOL_VERSION, type: 'join-v2', roomId: this.#keys.roomId, publicKey: encodeBase64url(member.signaturePublicKey), signature: encodeBase64url(signature)
    }, 'joined')
    const connection = this.connection
    await this.#exclusive(async () => this.#sync(member, joined.groupEpoch, connection))
    if (this.#restored) {
      // After a reload: new keys, so the saved copy of the state (on disk, in a restored tab) stops working.
      this.#restored = false
      void this.update().catch(() => { /* the next interval tries again */ })
    }
    this.#updateTimer ??= setInterval(() => { void this.update().catch(() => {}) }, this.#updateIntervalMs)
    return joined
  }

  protected override connectionOpened (): void {
    this.#challenge = undefined
    // A join still waiting for the previous socket's challenge must not take the next one's.
    for (const waiter of this.#challengeWaiters.splice(0)) waiter.reject(new SessionError('closed', 'the connection closed'))
  }

  protected override closed (): void {
    clearInterval(this.#updateTimer)
    this.#updateTimer = undefined
    for (const waiter of this.#companyWaiters.splice(0)) waiter.reject(new SessionError('closed', 'the session is closed'))
  }

  protected override frame (frame: ServerFrame): void {
    switch (frame.type) {
      case 'challenge':
        this.#challenge = frame.challenge
        for (const waiter of this.#challengeWaiters.splice(0)) waiter.resolve(frame.challenge)
        break
      case 'handshake':
        void this.#exclusive(async () => this.#handshake(frame.epoch, frame.handshake)).catch(() => { /* refused: said by `refused` */ })
        break
      case 'absent':
        void this.#absent(frame.memberId)
        break
      default:
        break
    }
  }

  async #currentChallenge (): Promise<string> {
    if (this.#challenge !== undefined) return this.#challenge
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new SessionError('timeout', 'no challenge from the gateway')) }, this.settings.requestTimeoutMs)
      this.#challengeWaiters.push({
        resolve: (challenge) => { clearTimeout(timer); resolve(challenge) },
        reject: (error) => { clearTimeout(timer); reject(error) }
      })
    })
  }

  /** Brings the group to the room's: the saved state and the handshakes since it, else a new group or an external join. */
  async #sync (member: MemberKeysV2, roomEpoch: number | undefined, connection: number): Promise<void> {
    if (connection !== this.connection) throw new SessionError('closed', 'the connection closed')
    if (this.#group === undefined) {
      const saved = this.#store?.load()
      if (saved !== undefined && saved !== '') {
        try {
          this.#group = await RoomGroup.load(this.#keys, member, saved)
          this.#restored = true
        } catch { /* unreadable: joined again below */ }
      }
    }
    // No group in the room (it was forgotten and made anew), or ours is ahead of it: ours is of another group.
    if (this.#group !== undefined && (roomEpoch === undefined || this.#group.epoch > BigInt(roomEpoch))) this.#drop()
    if (this.#group !== undefined) {
      try {
        await this.#catchUp()
      } catch (error) {
        // Down or busy: this connection fails and the next one tries again. Anything else (a gap,
        // another group, a commit refused, the vault no longer counting this member in the
        // group after a long absence): this state cannot follow the group, so join it anew.
        if ((error instanceof SessionError && RETRYABLE.has(error.code)) || connection !== this.connection) throw error
        this.#drop()
      }
    }
    if (this.#group === undefined || !this.#group.memberIds().includes(member.memberId)) await this.#enter(member)
    // Whoever shows the roster gets it on every connection (after a reload no commit may follow).
    this.emit('roster', { members: await this.roster() })
  }

  /** Creates the room's group, or joins it by external commit (replacing a leaf of this member's still in it). */
  async #enter (member: MemberKeysV2): Promise<void> {
    this.#drop()
    for (let attempt = 0; attempt < GROUP_ATTEMPTS; attempt++) {
      const state = await this.request({ v: PROTOCOL_VERSION, type: 'group' }, 'group')
      try {
        if (state.group === undefined) {
          const created = await RoomGroup.create(this.#keys, member)
          await this.request({ v: PROTOCOL_VERSION, type: 'commit', groupId: encodeBase64url(created.group.groupId), epoch: 0, groupInfo: encodeBase64url(created.sealedGroupInfo) }, 'committed')
          await this.#adopt(created.group, true)
          return
        }
        let joined: Made
        try {
          joined = await RoomGroup.join(this.#keys, member, BigInt(state.group.epoch), decodeBase64url(state.group.groupInfo ?? ''))
        } catch (error) {
          // The published GroupInfo does not open or does not check: nobody can join until a member commits an honest one.
          throw new SessionError('group-failed', `the room's group cannot be joined: ${error instanceof Error ? error.message : 'failed'}`)
        }
        await this.request({
          v: PROTOCOL_VERSION, type: 'commit', groupId: state.group.groupId, epoch: state.group.epoch,
          handshake: encodeBase64url(joined.commit), groupInfo: encodeBase64url(joined.sealedGroupInfo)
        }, 'committed')
        await this.#adopt(joined.group, true)
        return
      } catch (error) {
        // Another member committed first (or created the group): look again.
        if (error instanceof SessionError && error.code === 'stale-epoch') continue
        // The vault refuses this join itself (e.g. a member's oversized leaf pushes the next GroupInfo past its limit).
        if (error instanceof SessionError && (error.code === 'bad-frame' || error.code === 'too-large')) {
          throw new SessionError('group-failed', 'the vault refuses every way into the room\'s group')
        }
        throw error
      }
    }
    throw new SessionError('room-busy', 'the group moved on ten times while this member joined it')
  }

  // ── following the group ─────────────────────────────────────────────────

  /** A relayed commit made in `epoch`: applied if it is the next, fetched with the missing ones if it is later. */
  async #handshake (epoch: number, handshake: string): Promise<void> {
    const group = this.#group
    if (group === undefined || BigInt(epoch) < group.epoch) return
    try {
      if (BigInt(epoch) === group.epoch) await this.#apply(handshake)
      else await this.#catchUp()
    } catch (error) {
      await this.#recover(error)
      return
    }
    // Removed by another member's commit while here: back in as a new leaf (everyone sees it).
    const member = this.#member
    if (member !== undefined && this.#group?.memberIds().includes(member.memberId) === false) await this.#enter(member).catch(() => { this.reconnect() })
  }

  /** Applies the handshakes from this member's epoch to the room's, asking the vault for them. */
  async #catchUp (): Promise<void> {
    for (;;) {
      const group = this.#requireGroup()
      const reply = await this.request({ v: PROTOCOL_VERSION, type: 'group', since: Number(group.epoch) }, 'group')
      // Pruned handshakes, or another group: this member joins the group again (`bad-frame` marks it for the caller).
      if (reply.gap || (reply.group !== undefined && reply.group.groupId !== encodeBase64url(group.groupId))) throw new SessionError('bad-frame', 'the group cannot be followed from this state')
      for (const { epoch, handshake } of reply.handshakes) {
        if (BigInt(epoch) === this.#requireGroup().epoch) await this.#apply(handshake)
      }
      if (reply.complete || reply.handshakes.length === 0) return
    }
  }

  /** Applies one commit made in this member's epoch (its own, if the vault's answer to it was lost). */
  async #apply (handshake: string): Promise<void> {
    const group = this.#requireGroup()
    const own = this.#ownCommit
    if (own !== undefined && own.epoch === group.epoch && own.handshake === handshake) {
      this.#ownCommit = undefined
      await this.#adopt(own.group, true)
      return
    }
    await this.#adopt(await group.applyCommit(decodeBase64url(handshake)), true)
  }

  /** A commit this member cannot follow (refused by its checks, or by MLS): said, and the member joins the group again. */
  async #recover (error: unknown): Promise<void> {
    // Down or busy: the next handshake or connection catches up.
    if (error instanceof SessionError && RETRYABLE.has(error.code)) return
    // A commit refused (by this member's checks or by MLS), not a gap or another group: said.
    if (!(error instanceof SessionError)) this.emit('refused', { reason: error instanceof GroupCheckError ? error.reason : error instanceof Error ? error.message : 'refused' })
    const member = this.#member
    if (member === undefined) return
    try {
      await this.#enter(member)
    } catch {
      // Not back in the group: the session connects again and joins from the start (or ends, `group-failed`).
      this.reconnect()
    }
  }

  /**
   * Makes a commit and publishes it at this member's epoch; lost races are made again on top of
   * whatever won. `removed` tells the vault which members the commit removes.
   */
  async #commit (make: (group: RoomGroup) => Promise<Made>, removed?: (group: RoomGroup) => string[]): Promise<void> {
    for (let attempt = 0; attempt < GROUP_ATTEMPTS; attempt++) {
      const group = this.#requireGroup()
      const gone = removed?.(group) ?? []
      if (removed !== undefined && gone.length === 0) return
      const made = await make(group)
      const handshake = encodeBase64url(made.commit)
      this.#ownCommit = { epoch: group.epoch, handshake, group: made.group }
      try {
        await this.request({
          v: PROTOCOL_VERSION, type: 'commit', groupId: encodeBase64url(group.groupId), epoch: Number(group.epoch),
          handshake, groupInfo: encodeBase64url(made.sealedGroupInfo), ...(gone.length === 0 ? {} : { removed: gone })
        } satisfies ClientFrame, 'committed')
        if (this.#ownCommit?.handshake === handshake) await this.#adopt(made.group, true)
        this.#ownCommit = undefined
        return
      } catch (error) {
        if (!(error instanceof SessionError && error.code === 'stale-epoch')) throw error
        this.#ownCommit = undefined
        await this.#catchUp()
      }
    }
    throw new SessionError('room-busy', 'the group moved on ten times before this commit')
  }

  /** Someone the vault forgot (away too long) or who left is still in the group: removed by a commit. */
  async #absent (memberId: string): Promise<void> {
    if (this.#group?.publicKeyOf(memberId) === undefined || memberId === this.#member?.memberId) return
    // The first member's commit wins; the others find the member gone when their turn comes.
    await delay(Math.random() * this.#removalJitterMs)
    await this.#exclusive(async () => {
      const ids = (group: RoomGroup): string[] => group.publicKeyOf(memberId) === undefined ? [] : [memberId]
      await this.#commit(async (group) => group.remove(ids(group)), ids)
    }).catch(() => { /* another member removes it, or the next absence report does */ })
  }

  // ── state ───────────────────────────────────────────────────────────────

  /** The group after a step: kept, saved, and (after a commit) the roster told and waiting messages let go. */
  async #adopt (group: RoomGroup, changedMembers = false): Promise<void> {
    this.#group = group
    // Once closed (left and wiped, or refused), a step still finishing must not write the state back.
    if (!this.closedByUser) this.#store?.save(group.save())
    if (!changedMembers) return
    this.#rosterVersion++
    this.emit('roster', { members: await this.roster() })
    if (group.memberIds().length > 1) for (const waiter of this.#companyWaiters.splice(0)) waiter.resolve()
  }

  #drop (): void {
    this.#group = undefined
    this.#ownCommit = undefined
  }

  #requireGroup (): RoomGroup {
    if (this.#group === undefined) throw new SessionError('closed', 'not in the room\'s group yet')
    return this.#group
  }

  async #sendOnce (id: string, payload: MessagePayload): Promise<Expect<'sent'>> {
    const group = this.#requireGroup()
    this.#aloneAt = this.#rosterVersion
    if (group.memberIds().length < 2) throw new SessionError('alone', 'nobody else is in the room\'s group')
    const sealed = await group.seal(id, encodePayload(payload))
    // The key is spent whether or not the vault stores it: it never seals anything again.
    await this.#adopt(sealed.group)
    try {
      return await this.request({ v: PROTOCOL_VERSION, type: 'send-v2', id, epoch: Number(sealed.epoch), message: encodeBase64url(sealed.message) }, 'sent')
    } catch (error) {
      if (error instanceof SessionError && error.code === 'stale-epoch') await this.#catchUp().catch(async (failure: unknown) => this.#recover(failure))
      // The vault does not count this member in the group (e.g. a member's commit listed it as
      // removed without removing its leaf): join again, then the send is made anew (as a lost race).
      if (error instanceof SessionError && error.code === 'not-joined' && this.#member !== undefined) {
        try {
          await this.#enter(this.#member)
        } catch (failure) {
          this.reconnect()
          throw failure
        }
        throw new SessionError('stale-epoch', 'joined the group again')
      }
      throw error
    }
  }

  /**
   * Waits until the group changed since the send found this member alone and has someone else.
   * (The vault may say alone while this member's roster still holds a member who left: the
   * removal and the next join are such changes.)
   */
  async #whenCompany (since: number): Promise<void> {
    if (this.#rosterVersion > since && (this.#group?.memberIds().length ?? 0) > 1) return
    await new Promise<void>((resolve, reject) => { this.#companyWaiters.push({ resolve, reject }) })
  }

  async #exclusive<T> (step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step, step)
    this.#queue = run.catch(() => {})
    return run
  }
}
