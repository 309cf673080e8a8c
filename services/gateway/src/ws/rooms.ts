/**
 * Local room membership and fan-out. The gateway subscribes to
 * `room.<hash>.events` while at least one local socket is in the room (reference
 * counted) and delivers each event to the local members it concerns.
 */
import type { Bus, Subscription } from '@ephemeral-chat/bus'
import { codecs, encodeBytes, PROTOCOL_VERSION, roomEventsSubject, type RoomEvent, type ServerFrame } from '@ephemeral-chat/protocol'

export interface RoomMember {
  readonly memberId: string
  deliver (frame: ServerFrame): void
}

interface Room {
  members: Set<RoomMember>
  subscription: Subscription
}

export class RoomRegistry {
  readonly #rooms = new Map<string, Room>()

  constructor (private readonly bus: Bus) {}

  get size (): number {
    return this.#rooms.size
  }

  /** Adds a local member, subscribing to the room's events with the first one. */
  add (roomHash: string, member: RoomMember): void {
    let room = this.#rooms.get(roomHash)
    if (room === undefined) {
      const subscription = this.bus.subscribe(roomEventsSubject(roomHash), (data) => { this.#dispatch(roomHash, data) })
      room = { members: new Set(), subscription }
      this.#rooms.set(roomHash, room)
    }
    room.members.add(member)
  }

  /** Removes a local member, unsubscribing with the last one. */
  remove (roomHash: string, member: RoomMember): void {
    const room = this.#rooms.get(roomHash)
    if (room === undefined) return
    room.members.delete(member)
    if (room.members.size === 0) {
      room.subscription.unsubscribe()
      this.#rooms.delete(roomHash)
    }
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
    const decoded = codecs.roomEvent.decode(data)
    if (room === undefined || !decoded.ok) return
    const event = decoded.value
    const v = PROTOCOL_VERSION
    for (const member of room.members) {
      switch (event.type) {
        case 'message':
          // Cards only to recipients: a member who joined later never learns of the message.
          if (event.recipients.includes(member.memberId)) member.deliver({ v, type: 'message', id: event.id, from: event.from, bucket: event.bucket, expiresAt: event.expiresAt })
          break
        case 'viewed':
          if (event.to === member.memberId) member.deliver({ v, type: 'viewed', id: event.id, remaining: event.remaining })
          break
        case 'typing':
          if (event.from !== member.memberId) member.deliver({ v, type: 'typing', from: event.from, active: event.active })
          break
        case 'gone':
          member.deliver({ v, type: 'gone', id: event.id, reason: event.reason })
          break
        case 'presence':
          member.deliver({ v, type: 'presence', members: event.members })
          break
      }
    }
  }
}
