import type { Bus } from '@ephemeral-chat/bus'
import { encodeBytes, PROTOCOL_VERSION, roomEventsSubject, type AbsentEvent, type GoneEvent, type HandshakeEvent, type MessageEvent, type PresenceEvent, type ViewedEvent } from '@ephemeral-chat/protocol'

type Event = Omit<MessageEvent, 'v'> | Omit<GoneEvent, 'v'> | Omit<PresenceEvent, 'v'> | Omit<ViewedEvent, 'v'> | Omit<HandshakeEvent, 'v'> | Omit<AbsentEvent, 'v'>

/** Publishes a fan-out event to every gateway holding a member of the room. */
export function publishRoomEvent (bus: Bus, roomHash: string, event: Event): void {
  bus.publish(roomEventsSubject(roomHash), encodeBytes({ v: PROTOCOL_VERSION, ...event }))
}
