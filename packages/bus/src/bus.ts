/**
 * The message bus between gateways and vaults: request/reply with queue groups,
 * publish and subscribe. Payloads are opaque bytes; packages/protocol defines what
 * they contain. Two implementations honour the same contract (test/contract.ts):
 * NATS for separate services and an in-process bus for the single-process mode.
 */

/** Why a bus operation failed. */
export type BusErrorCode =
  /** Nobody serves the subject right now ("no responders"), reported at once. */
  | 'unavailable'
  /** A responder exists but did not answer within the request timeout. */
  | 'timeout'
  /** The bus was closed (or is draining) before or during the operation. */
  | 'closed'

export class BusError extends Error {
  readonly code: BusErrorCode

  constructor (code: BusErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'BusError'
    this.code = code
  }
}

/** Where implementations report swallowed handler failures; a pino logger fits. They never pass payloads or subjects. */
export interface BusLogger {
  warn (obj: object, msg: string): void
}

/**
 * Answers one request; the returned bytes are the reply. `undefined` sends no reply, for a request
 * whose requester has already given up (its deadline passed). A throw replies nothing either (the
 * requester times out), so handlers must catch and answer with an error payload themselves.
 */
export type RequestHandler = (data: Uint8Array, subject: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>

export type MessageHandler = (data: Uint8Array, subject: string) => void

export interface Subscription {
  /** Stops delivery; idempotent. */
  unsubscribe (): void
}

export interface RequestOptions {
  /** Milliseconds before the request fails with `timeout`; implementations default to 5 000. */
  timeoutMs?: number
}

export interface Bus {
  /** Sends a request to one member of the queue group serving `subject`. */
  request (subject: string, data: Uint8Array, options?: RequestOptions): Promise<Uint8Array>
  /** Serves requests on `subject` (wildcards allowed); members of one queue group share the load, each request goes to one of them. */
  serve (subject: string, queue: string, handler: RequestHandler): Subscription
  /** Fire-and-forget to every subscriber of `subject`. */
  publish (subject: string, data: Uint8Array): void
  /** Receives every message published on `subject` (NATS wildcards `*` and `>` allowed). */
  subscribe (subject: string, handler: MessageHandler): Subscription
  /**
   * Calls `listener` each time the bus is connected again after losing its server (its
   * subscriptions are restored by then). Messages published while it was away are lost to
   * it: a listener resynchronises what it missed. The in-process bus never loses its server.
   */
  onReconnect (listener: () => void): Subscription
  /** Resolves when the bus is connected and has a round trip to its server (readiness checks). */
  ping (): Promise<void>
  /** Stops serving and subscriptions, lets in-flight work finish (drain), then releases the connection. Idempotent. */
  close (): Promise<void>
}
