/**
 * Local room membership and fan-out. The gateway subscribes to
 * `room.<hash>.events` while at least one local socket is in the room (reference
 * counted) and delivers each event to the local members it concerns. Each event
 * is decoded once and its frame serialised once, however many sockets get it.
 */
import type { Bus, Subscription } from '@ephemeral-chat/bus'
import { codecs, encodeBytes, PROTOCOL_VERSION, roomEventsSubject, type RoomEvent, type ServerFrame } from '@ephemeral-chat/protocol'

export interface RoomMember {
  readonly memberId: string
  /** Sends an already serialised frame (UTF-8 JSON). */
  deliverEncoded (frame: Buffer): void
}

interface Room {
  key: string
  /** The version of the latest presence count delivered: older ones arriving late are dropped. */
  presenceVersion: number
  /** That latest count. */
  presentMembers: number
  /** Until when (performance.now()) the vault said the room is over its share: sends are refused here meanwhile. */
  busyUntil: number
  /** Local connections by member id (one member may hold several, e.g. two tabs). */
  members: Map<string, Set<RoomMember>>
  size: number
  subscription: Subscription
}

const encode = (frame: ServerFrame): Buffer => Buffer.from(JSON.stringify(frame))

export class RoomRegistry {
  readonly #rooms = new Map<string, Room>()

  constructor (private readonly bus: Bus) {}

  get size (): number {
    return this.#rooms.size
  }

  /**
   * Adds a local member, subscribing to the room's events with the first one. Returns the
   * registry's own copy of the room hash, so that every member of a room shares one string.
   */
  add (roomHash: string, member: RoomMember): string {
    let room = this.#rooms.get(roomHash)
    if (room === undefined) {
      const subscription = this.bus.subscribe(roomEventsSubject(roomHash), (data) => { this.#dispatch(roomHash, data) })
      room = { key: roomHash, presenceVersion: 0, presentMembers: 0, busyUntil: 0, members: new Map(), size: 0, subscription }
      this.#rooms.set(roomHash, room)
    }
    let connections = room.members.get(member.memberId)
    if (connections === undefined) {
      connections = new Set()
      room.members.set(member.memberId, connections)
    }
    if (!connections.has(member)) {
      connections.add(member)
      room.size++
    }
    return room.key
  }

  /** Removes a local member, unsubscribing with the last one. */
  remove (roomHash: string, member: RoomMember): void {
    const room = this.#rooms.get(roomHash)
    const connections = room?.members.get(member.memberId)
    if (room === undefined || connections === undefined || !connections.delete(member)) return
    room.size--
    if (connections.size === 0) room.members.delete(member.memberId)
    if (room.size === 0) {
      room.subscription.unsubscribe()
      this.#rooms.delete(roomHash)
    }
  }

  /**
   * Notes a presence count that reached us another way (a join's answer). Returns the latest
   * count of the room, which is this one unless a later count was already delivered, and
   * whether this one is news (then the other local members should get it too).
   */
  notePresence (roomHash: string, version: number, members: number): { members: number, news: boolean } {
    const room = this.#rooms.get(roomHash)
    if (room === undefined) return { members, news: false }
    if (version <= room.presenceVersion) return { members: room.presentMembers, news: false }
    room.presenceVersion = version
    room.presentMembers = members
    return { members, news: true }
  }

  /**
   * The vault refused a store of the room as over its share (`room-busy`), with a retry hint:
   * until the hint has passed, the room's sends are refused here, so that a room flooded
   * within every connection's rate costs the bus and the vaults nothing more.
   */
  noteBusy (roomHash: string, retryAfterMs: number): void {
    const room = this.#rooms.get(roomHash)
    if (room !== undefined) room.busyUntil = Math.max(room.busyUntil, performance.now() + retryAfterMs)
  }

  /** How long the room stays busy (see noteBusy), in whole milliseconds; 0 when it is not. */
  busyForMs (roomHash: string): number {
    const until = this.#rooms.get(roomHash)?.busyUntil ?? 0
    return until === 0 ? 0 : Math.max(0, Math.ceil(until - performance.now()))
  }

  /** Tells the room's local members (but `except`) its count of present members. */
  broadcastPresence (roomHash: string, members: number, except?: RoomMember): void {
    const room = this.#rooms.get(roomHash)
    if (room === undefined) return
    const frame = encode({ v: PROTOCOL_VERSION, type: 'presence', members })
    for (const connections of room.members.values()) for (const connection of connections) if (connection !== except) connection.deliverEncoded(frame)
  }

  /** Publishes an event to every gateway with a member in the room (this one included). */
  publish (roomHash: string, event: RoomEvent): void {
    this.bus.publish(roomEventsSubject(roomHash), encodeBytes(event))
  }

  clear (): void {
    for (const room of this.#rooms.values()) room.subscription.unsubscribe()
    this.#rooms.clear()
  }

  #dispatch (roomHash: string, data: Uint8Array): void {
    const room = this.#rooms.get(roomHash)
    if (room === undefined) return
    const decoded = codecs.roomEvent.decode(data)
    if (!decoded.ok) return
    const event = decoded.value
    const v = PROTOCOL_VERSION
    switch (event.type) {
      case 'message': {
        // Cards only to recipients: a member who joined later never learns of the message.
        const frame = encode({ v, type: 'message', id: event.id, from: event.from, bucket: event.bucket, expiresAt: event.expiresAt, ...(event.epoch === undefined ? {} : { epoch: event.epoch }) })
        for (const recipient of event.recipients) deliver(room.members.get(recipient), frame)
        break
      }
      case 'viewed':
        deliver(room.members.get(event.to), encode({ v, type: 'viewed', id: event.id, remaining: event.remaining }))
        break
      case 'typing': {
        const frame = encode({ v, type: 'typing', from: event.from, active: event.active })
        for (const [memberId, connections] of room.members) if (memberId !== event.from) deliver(connections, frame)
        break
      }
      case 'gone':
        broadcast(room, encode({ v, type: 'gone', id: event.id, reason: event.reason }))
        break
      case 'presence':
        // Counts from two vault replicas may arrive out of order: only a later one is news.
        if (event.version <= room.presenceVersion) break
        room.presenceVersion = event.version
        room.presentMembers = event.members
        broadcast(room, encode({ v, type: 'presence', members: event.members }))
        break
      case 'handshake':
        // v2: to every connection, its sender's included: another tab of that member, or the
        // victim of a seized member secret, must see the commit too. A member ignores an epoch
        // it has already passed.
        broadcast(room, encode({ v, type: 'handshake', epoch: event.epoch, from: event.from, handshake: event.handshake }))
        break
      case 'absent':
        broadcast(room, encode({ v, type: 'absent', memberId: event.memberId }))
        break
    }
  }
}

function deliver (connections: Set<RoomMember> | undefined, frame: Buffer): void {
  if (connections !== undefined) for (const connection of connections) connection.deliverEncoded(frame)
}

function broadcast (room: Room, frame: Buffer): void {
  for (const connections of room.members.values()) deliver(connections, frame)
}
