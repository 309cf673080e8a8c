import { BusError } from './bus.js'
import type { Bus, BusLogger, MessageHandler, RequestHandler, RequestOptions, Subscription } from './bus.js'
import { DEFAULT_TIMEOUT_MS, checkQueue, checkTimeout, closedError, consoleLogger, parseSubject, reportHandlerFailure, settleBefore } from './internal.js'

export interface MemoryBusOptions {
  /** Request timeout when the caller gives none; also bounds how long close() waits for handlers. Default 5 000 ms. */
  defaultTimeoutMs?: number
  /** Receives "bus handler failed" warnings; defaults to console.warn. */
  logger?: BusLogger
}

/** An in-process stand-in for a NATS server: buses connected to one broker reach each other, like connections to one server. */
export interface MemoryBroker {
  connect (options?: MemoryBusOptions): Bus
}

type Reply = (data: Uint8Array) => void

interface Member {
  readonly pattern: readonly string[]
  readonly queue: string | undefined
  deliver (data: Uint8Array, subject: string, reply: Reply | undefined): void
}

export function createMemoryBroker (): MemoryBroker {
  const router = new Router()
  return { connect: (options = {}) => new MemoryBus(router, options) }
}

/** A bus with a broker of its own, for the single-process mode where every component shares this one bus. */
export function createMemoryBus (options: MemoryBusOptions = {}): Bus {
  return createMemoryBroker().connect(options)
}

class Router {
  /** Subscriptions without wildcards, by subject: a message finds them with one lookup, however many there are. */
  readonly #exact = new Map<string, Set<Member>>()
  readonly #wildcards = new Set<Member>()
  readonly #turns = new Map<string, number>()

  add (member: Member): void {
    if (!member.pattern.some((token) => token === '*' || token === '>')) {
      const subject = member.pattern.join('.')
      const members = this.#exact.get(subject)
      if (members === undefined) this.#exact.set(subject, new Set([member]))
      else members.add(member)
    } else {
      this.#wildcards.add(member)
    }
  }

  remove (member: Member): void {
    if (this.#wildcards.delete(member)) return
    const subject = member.pattern.join('.')
    const members = this.#exact.get(subject)
    if (members?.delete(member) === true && members.size === 0) this.#exact.delete(subject)
  }

  /** Delivers to every plain subscriber and to one member of each queue group, as a NATS server does; returns how many received it. */
  route (subject: string, data: Uint8Array, reply: Reply | undefined): number {
    const tokens = parseSubject(subject, false)
    // NATS groups queue subscribers by queue name across every matching pattern.
    const groups = new Map<string, Member[]>()
    let receivers = 0
    const offer = (member: Member): void => {
      if (member.queue === undefined) {
        member.deliver(data.slice(), subject, reply)
        receivers++
      } else {
        const group = groups.get(member.queue)
        if (group === undefined) groups.set(member.queue, [member])
        else group.push(member)
      }
    }
    for (const member of this.#exact.get(subject) ?? []) offer(member)
    for (const member of this.#wildcards) if (matches(member.pattern, tokens)) offer(member)
    for (const [queue, group] of groups) {
      const turn = this.#turns.get(queue) ?? 0
      this.#turns.set(queue, turn + 1)
      group[turn % group.length]?.deliver(data.slice(), subject, reply)
      receivers++
    }
    return receivers
  }
}

class MemoryBus implements Bus {
  readonly #router: Router
  readonly #timeoutMs: number
  readonly #logger: BusLogger
  readonly #members = new Set<Member>()
  readonly #pending = new Set<(err: BusError) => void>()
  readonly #inflight = new Set<Promise<void>>()
  #state: 'open' | 'draining' | 'closed' = 'open'
  #closing: Promise<void> | undefined

  constructor (router: Router, options: MemoryBusOptions) {
    this.#router = router
    this.#timeoutMs = checkTimeout(options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS)
    this.#logger = options.logger ?? consoleLogger
  }

  request (subject: string, data: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
    if (this.#state !== 'open') return Promise.reject(closedError())
    return new Promise((resolve, reject) => {
      const timeoutMs = checkTimeout(options?.timeoutMs ?? this.#timeoutMs)
      let timer: NodeJS.Timeout | undefined = undefined
      let settled = false
      const settle = (outcome: () => void): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.#pending.delete(fail)
        outcome()
      }
      const fail = (err: BusError): void => { settle(() => { reject(err) }) }
      // Replies arrive on a later macrotask, so registering after routing misses none.
      const receivers = this.#router.route(subject, data, (reply) => { settle(() => { resolve(reply.slice()) }) })
      if (receivers === 0) { fail(new BusError('unavailable', 'no responders')); return }
      this.#pending.add(fail)
      timer = setTimeout(() => { fail(new BusError('timeout', 'request timed out')) }, timeoutMs)
    })
  }

  serve (subject: string, queue: string, handler: RequestHandler): Subscription {
    return this.#join(subject, checkQueue(queue), async (data, received, reply) => {
      const answer = await handler(data, received)
      if (answer !== undefined) reply?.(answer)
    })
  }

  publish (subject: string, data: Uint8Array): void {
    // Still allowed while draining, so in-flight handlers can finish their work.
    if (this.#state === 'closed') throw closedError()
    this.#router.route(subject, data, undefined)
  }

  subscribe (subject: string, handler: MessageHandler): Subscription {
    return this.#join(subject, undefined, (data, received) => { handler(data, received) })
  }

  onReconnect (): Subscription {
    return { unsubscribe: () => {} }
  }

  async ping (): Promise<void> {
    if (this.#state !== 'open') throw closedError()
    // Resolving on a later macrotask than any earlier delivery makes ping a barrier, as a NATS flush is.
    await new Promise<void>((resolve) => { setImmediate(resolve) })
  }

  close (): Promise<void> {
    this.#closing ??= this.#drain()
    return this.#closing
  }

  async #drain (): Promise<void> {
    this.#state = 'draining'
    for (const fail of [...this.#pending]) fail(closedError())
    for (const member of this.#members) this.#router.remove(member)
    // Deliveries already scheduled still run: that is the drain. A reply later than the request timeout is useless, so wait no longer.
    await settleBefore([...this.#inflight], Date.now() + this.#timeoutMs)
    this.#members.clear()
    this.#state = 'closed'
  }

  #join (subject: string, queue: string | undefined, run: (data: Uint8Array, subject: string, reply: Reply | undefined) => unknown): Subscription {
    if (this.#state !== 'open') throw closedError()
    let active = true
    const member: Member = {
      pattern: parseSubject(subject, true),
      queue,
      deliver: (data, received, reply) => {
        // Delivered on a later macrotask, never inside publish; setImmediate keeps each subscriber's order.
        const delivery = new Promise<void>((resolve) => {
          setImmediate(() => {
            if (!active) { resolve(); return }
            resolve(Promise.resolve()
              .then(() => run(data, received, reply))
              .then(() => undefined, (err: unknown) => { reportHandlerFailure(this.#logger, err) }))
          })
        })
        this.#inflight.add(delivery)
        void delivery.finally(() => this.#inflight.delete(delivery))
      }
    }
    this.#router.add(member)
    this.#members.add(member)
    return {
      unsubscribe: () => {
        active = false
        this.#router.remove(member)
        this.#members.delete(member)
      }
    }
  }
}

function matches (pattern: readonly string[], subject: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const token = pattern[i]
    if (token === '>') return subject.length > i
    if (i >= subject.length || (token !== '*' && token !== subject[i])) return false
  }
  return pattern.length === subject.length
}
