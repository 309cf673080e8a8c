import { connect, createInbox, errors } from '@nats-io/transport-node'
import type { Msg, NatsConnection, NodeConnectionOptions, Subscription as NatsSubscription } from '@nats-io/transport-node'
import { BusError } from './bus.js'
import type { Bus, BusLogger, MessageHandler, RequestHandler, RequestOptions, Subscription } from './bus.js'
import { DEFAULT_TIMEOUT_MS, checkQueue, checkTimeout, closedError, consoleLogger, parseSubject, reportHandlerFailure, settleBefore } from './internal.js'

export interface NatsBusOptions {
  servers: string | string[]
  /** Client name shown in the NATS monitoring pages. */
  name?: string
  /** Request and ping timeout when the caller gives none; also bounds close(). Default 5 000 ms. */
  defaultTimeoutMs?: number
  /** Receives "bus handler failed" warnings; defaults to console.warn. */
  logger?: BusLogger
}

/** The settings connectNatsBus hands to the NATS client; exported so the reconnect policy can be checked without an outage. */
export function natsConnectionOptions (options: NatsBusOptions): Readonly<NodeConnectionOptions> {
  return Object.freeze({
    servers: typeof options.servers === 'string' ? options.servers : [...options.servers],
    name: options.name,
    // A service must outlive any NATS restart; meanwhile ping() fails, so readiness reports the outage.
    maxReconnectAttempts: -1,
    // Attempts every 0.5–1 s: back within about a second of NATS (a restart's outage stays short),
    // the random half second spreading the reconnect stampede of every replica.
    reconnectTimeWait: 500,
    reconnectJitter: 500,
    reconnectJitterTLS: 500,
    // Notice a silently dead TCP connection within about a minute instead of the client's default four.
    pingInterval: 20_000,
    maxPingOut: 3,
    // Otherwise every request builds two Error objects with stack traces up front (~15% of a vault's CPU when busy).
    noAsyncTraces: true
  })
}

/** Connects once; fails at once with `unavailable` if no server answers, so a service that cannot start exits and is restarted. */
export async function connectNatsBus (options: NatsBusOptions): Promise<Bus> {
  const timeoutMs = checkTimeout(options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS)
  let nc: NatsConnection
  try {
    nc = await connect({ ...natsConnectionOptions(options) })
  } catch (err) {
    throw new BusError('unavailable', 'cannot connect to NATS', { cause: err })
  }
  return new NatsBus(nc, timeoutMs, options.logger ?? consoleLogger)
}

interface Outgoing {
  subject: string
  data: Uint8Array
  reply: string | undefined
  /** A request's token: a failure to send rejects it. */
  token: string | undefined
}

interface Waiting {
  resolve (data: Uint8Array): void
  reject (err: BusError): void
  timer: NodeJS.Timeout
}

class NatsBus implements Bus {
  readonly #nc: NatsConnection
  readonly #timeoutMs: number
  readonly #logger: BusLogger
  readonly #subs = new Set<NatsSubscription>()
  readonly #inflight = new Set<Promise<void>>()
  /**
   * Requests are matched to replies here rather than by the client's request(): that one builds
   * Error objects with stack traces on every request, even a successful one (a tenth of a busy
   * gateway's CPU). One subscription to `<inbox>.*` takes every reply.
   */
  readonly #inbox = createInbox()
  #replies: NatsSubscription | undefined
  readonly #waiting = new Map<string, Waiting>()
  #nextToken = 0
  /**
   * Messages of this turn of the event loop, handed to the client together at its end: the client
   * writes what it was given within one microtask in one system call, so requests and replies
   * from many sockets' callbacks leave in one write instead of one each.
   */
  #outbox: Outgoing[] = []
  #closing: Promise<void> | undefined

  readonly #reconnected = new Set<() => void>()

  constructor (nc: NatsConnection, timeoutMs: number, logger: BusLogger) {
    this.#nc = nc
    this.#timeoutMs = timeoutMs
    this.#logger = logger
    void this.#watch()
  }

  /** Follows the connection's status for the reconnect listeners; ends when the connection closes. */
  async #watch (): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (status.type !== 'reconnect') continue
        for (const listener of this.#reconnected) {
          try {
            listener()
          } catch (err) {
            reportHandlerFailure(this.#logger, err)
          }
        }
      }
    } catch {
      // The iterator ends with the connection.
    }
  }

  onReconnect (listener: () => void): Subscription {
    this.#reconnected.add(listener)
    return { unsubscribe: () => { this.#reconnected.delete(listener) } }
  }

  request (subject: string, data: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
    if (this.#closing !== undefined) return Promise.reject(closedError())
    return new Promise((resolve, reject) => {
      const timeout = checkTimeout(options?.timeoutMs ?? this.#timeoutMs)
      parseSubject(subject, false)
      const token = (this.#nextToken++).toString(36)
      const timer = setTimeout(() => {
        this.#waiting.delete(token)
        reject(new BusError('timeout', 'request timed out'))
      }, timeout)
      this.#waiting.set(token, { resolve, reject, timer })
      try {
        this.#replies ??= this.#nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => { this.#reply(err, msg) } })
      } catch (err) {
        this.#fail(token, this.#translate(err))
        return
      }
      // The copy matters: the payload is held until it is written.
      this.#send(subject, data.slice(), `${this.#inbox}.${token}`, token)
    })
  }

  #fail (token: string, err: Error): void {
    const waiting = this.#waiting.get(token)
    if (waiting === undefined) return
    this.#waiting.delete(token)
    clearTimeout(waiting.timer)
    waiting.reject(err instanceof BusError ? err : new BusError('unavailable', 'not connected to NATS'))
  }

  #send (subject: string, data: Uint8Array, reply: string | undefined, token: string | undefined): void {
    if (this.#outbox.length === 0) setImmediate(() => { this.#flush() })
    this.#outbox.push({ subject, data, reply, token })
  }

  #flush (): void {
    const outbox = this.#outbox
    this.#outbox = []
    for (const message of outbox) {
      try {
        this.#nc.publish(message.subject, message.data, message.reply === undefined ? undefined : { reply: message.reply })
      } catch (err) {
        if (message.token !== undefined) this.#fail(message.token, this.#translate(err))
        else reportHandlerFailure(this.#logger, err)
      }
    }
  }

  #reply (err: Error | null, msg: Msg): void {
    if (err !== null) return
    const token = msg.subject.slice(this.#inbox.length + 1)
    const waiting = this.#waiting.get(token)
    if (waiting === undefined) return
    this.#waiting.delete(token)
    clearTimeout(waiting.timer)
    // With nobody subscribed, the server answers at once with an empty 503 status message.
    if (msg.data.length === 0 && msg.headers?.code === 503) waiting.reject(new BusError('unavailable', 'no responders'))
    else waiting.resolve(msg.data)
  }

  serve (subject: string, queue: string, handler: RequestHandler): Subscription {
    return this.#subscribe(subject, checkQueue(queue), (msg) => {
      const answered = this.#answer(msg, handler)
      this.#inflight.add(answered)
      void answered.finally(() => this.#inflight.delete(answered))
    })
  }

  publish (subject: string, data: Uint8Array): void {
    // Not refused while draining: in-flight handlers may still publish. The client refuses once the connection drains.
    parseSubject(subject, false)
    if (this.#nc.isClosed()) throw closedError()
    this.#send(subject, data.slice(), undefined, undefined)
  }

  subscribe (subject: string, handler: MessageHandler): Subscription {
    return this.#subscribe(subject, undefined, (msg) => {
      try {
        handler(msg.data, msg.subject)
      } catch (err) {
        reportHandlerFailure(this.#logger, err)
      }
    })
  }

  async ping (): Promise<void> {
    if (this.#closing !== undefined) throw closedError()
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new BusError('timeout', 'ping timed out')) }, this.#timeoutMs)
    })
    // A barrier: what was published before goes out before the ping.
    this.#flush()
    try {
      // rtt() is flush() that first refuses when disconnected, where a bare flush would wait for the reconnect.
      await Promise.race([this.#nc.rtt(), expired])
    } catch (err) {
      throw this.#translate(err)
    } finally {
      clearTimeout(timer)
    }
  }

  close (): Promise<void> {
    this.#closing ??= this.#drain()
    return this.#closing
  }

  async #drain (): Promise<void> {
    // One deadline for the whole drain: while NATS is unreachable every flush inside it would wait for a reconnect.
    const deadline = Date.now() + this.#timeoutMs
    this.#flush()
    for (const waiting of this.#waiting.values()) {
      clearTimeout(waiting.timer)
      waiting.reject(closedError())
    }
    this.#waiting.clear()
    this.#replies?.unsubscribe()
    const subs = [...this.#subs]
    this.#subs.clear()
    // Subscription drains stop new deliveries; the connection drain below would not wait for our async handlers, so we do.
    await settleBefore(subs.map(async (sub) => { await sub.drain() }), deadline)
    await settleBefore([...this.#inflight], deadline)
    // What the finished handlers answered and published goes out before the connection drains.
    this.#flush()
    if (!this.#nc.isClosed()) await settleBefore([this.#nc.drain()], deadline)
    if (!this.#nc.isClosed()) await this.#nc.close()
  }

  #subscribe (subject: string, queue: string | undefined, onMessage: (msg: Msg) => void): Subscription {
    if (this.#closing !== undefined) throw closedError()
    parseSubject(subject, true)
    let sub: NatsSubscription
    try {
      sub = this.#nc.subscribe(subject, {
        queue,
        callback: (err, msg) => {
          if (err === null) onMessage(msg)
          else this.#logger.warn({ error: err.name }, 'bus subscription failed')
        }
      })
    } catch (err) {
      throw this.#translate(err)
    }
    this.#subs.add(sub)
    return {
      unsubscribe: () => {
        if (this.#subs.delete(sub)) sub.unsubscribe()
      }
    }
  }

  async #answer (msg: Msg, handler: RequestHandler): Promise<void> {
    try {
      const reply = await handler(msg.data, msg.subject)
      if (reply !== undefined && msg.reply !== undefined && msg.reply !== '') this.#send(msg.reply, reply.slice(), undefined, undefined)
    } catch (err) {
      // Nothing is sent, so the requester times out; bus.ts asks handlers to answer their own failures.
      reportHandlerFailure(this.#logger, err)
    }
  }

  /** NATS error messages quote the subject, so none is passed on. */
  #translate (err: unknown): Error {
    if (err instanceof errors.TimeoutError) return new BusError('timeout', 'request timed out')
    if (err instanceof errors.RequestError && err.isNoResponders()) return new BusError('unavailable', 'no responders')
    if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) return closedError()
    if (err instanceof errors.RequestError) {
      return this.#nc.isClosed() ? closedError() : new BusError('unavailable', 'not connected to NATS')
    }
    return err instanceof Error ? err : new Error('bus operation failed')
  }
}
