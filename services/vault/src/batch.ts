/**
 * Admission and group commit for one kind of vault operation. Requests queue here;
 * whenever a batch slot is free, everything that has arrived (up to `maxItems`)
 * leaves together as one statement, so under load many requests share one round
 * trip, one transaction and one WAL flush, and an idle vault adds no waiting.
 *
 * The queue is bounded: a request that finds it full is refused at once with a
 * retry hint, and a request whose deadline passed while it waited is dropped
 * before it reaches PostgreSQL (nobody is waiting for its answer any more).
 */

export interface BatcherOptions {
  /** Most requests in one batch. */
  readonly maxItems: number
  /** Most batches of this kind running at once; each holds one database connection. */
  readonly concurrency: number
  /** Most requests waiting for a slot (a memory bound); beyond it `submit` refuses at once. */
  readonly maxQueued: number
  /** How long a batch waits for company once a slot is free; 0 sends it on the next turn of the event loop. */
  readonly windowMs: number
  /**
   * The longest expected wait for a slot that new work (a store, a join) accepts: beyond it the
   * queue is a standing one, and new work is refused at once so that work already accepted (its
   * fetches and acks, which only ever wait for their deadline) keeps finishing in time.
   */
  readonly maxWaitMs: number
}

/** The queue is full: answer `unavailable` with this hint. */
export class Overloaded extends Error {
  constructor (readonly retryAfterMs: number) {
    super('the vault is at capacity')
    this.name = 'Overloaded'
  }
}

/** The request's deadline passed before it reached the database: nobody waits for an answer. */
export class Expired extends Error {
  constructor () {
    super('the deadline passed while queued')
    this.name = 'Expired'
  }
}

interface Waiting<Item, Result> {
  item: Item
  deadline: number
  resolve (result: Result): void
  reject (error: Error): void
}

/** Runs one batch; the results are in the order of the items. */
export type RunBatch<Item, Result> = (items: Item[]) => Promise<Result[]>

/** Whether a failed batch is worth splitting to isolate the item that broke it (a server error, not a lost connection). */
export type Splittable = (error: unknown) => boolean

const MIN_RETRY_MS = 50
const MAX_RETRY_MS = 5000
/** Batches smaller than this teach the batcher nothing about the cost per request. */
const ITEM_COST_MIN_BATCH = 16

export class Batcher<Item, Result> {
  readonly #run: RunBatch<Item, Result>
  readonly #options: BatcherOptions
  readonly #splittable: Splittable
  readonly #now: () => number
  readonly #maxWaitMs: number
  #queue: Array<Waiting<Item, Result>> = []
  #running = 0
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined
  #scheduledNow = false
  /** Moving averages of a batch's duration and of its duration per request, for the expected wait. */
  #batchMs = 2
  #itemMs = 0.1
  #idle: Array<() => void> = []

  /** `newWork`: requests that start work (stores, joins) rather than finish it; they are refused beyond `maxWaitMs`. */
  constructor (run: RunBatch<Item, Result>, options: BatcherOptions, { newWork = false, splittable = () => false, now = Date.now }: { newWork?: boolean, splittable?: Splittable, now?: () => number } = {}) {
    this.#run = run
    this.#options = options
    this.#maxWaitMs = newWork ? options.maxWaitMs : Number.POSITIVE_INFINITY
    this.#splittable = splittable
    this.#now = now
  }

  get queued (): number {
    return this.#queue.length
  }

  get running (): number {
    return this.#running
  }

  /**
   * Resolves with the item's result once its batch committed; rejects with Overloaded (the queue
   * is full, longer than new work accepts, or so long that the item would be answered after its
   * deadline), Expired or the batch's error.
   */
  submit (item: Item, deadline: number): Promise<Result> {
    const queued = this.#queue.length
    const wait = this.expectedWaitMs(queued + 1)
    if (queued >= this.#options.maxQueued || wait > this.#maxWaitMs || this.#now() + wait > deadline) {
      return Promise.reject(new Overloaded(this.retryAfterMs()))
    }
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ item, deadline, resolve, reject })
      this.#schedule()
    })
  }

  /** How long a request at `position` in the queue waits for its answer, from recent batches. */
  expectedWaitMs (position: number): number {
    return (position * this.#itemMs) / this.#options.concurrency + this.#batchMs
  }

  /** About how long the queue takes to drain now, as a hint for a refused caller. */
  retryAfterMs (): number {
    return Math.round(Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, this.expectedWaitMs(this.#queue.length))))
  }

  /** Resolves once nothing is queued or running (shutdown). */
  async drained (): Promise<void> {
    if (this.#queue.length === 0 && this.#running === 0) return
    await new Promise<void>((resolve) => { this.#idle.push(resolve) })
  }

  #schedule (): void {
    if (this.#running >= this.#options.concurrency) return
    const now = this.#queue.length >= this.#options.maxItems || this.#options.windowMs === 0
    if (this.#scheduled !== undefined) {
      // A full batch does not wait out the window.
      if (!now || this.#scheduledNow) return
      clearTimeout(this.#scheduled as NodeJS.Timeout)
    }
    this.#scheduledNow = now
    this.#scheduled = now
      ? setImmediate(() => { this.#flush() })
      : setTimeout(() => { this.#flush() }, this.#options.windowMs)
  }

  #cancelScheduled (): void {
    if (this.#scheduled === undefined) return
    if (this.#scheduledNow) clearImmediate(this.#scheduled as NodeJS.Immediate)
    else clearTimeout(this.#scheduled as NodeJS.Timeout)
    this.#scheduled = undefined
  }

  #flush (): void {
    this.#cancelScheduled()
    while (this.#running < this.#options.concurrency && this.#queue.length > 0) {
      const now = this.#now()
      const batch: Array<Waiting<Item, Result>> = []
      let taken = 0
      while (taken < this.#queue.length && batch.length < this.#options.maxItems) {
        const waiting = this.#queue[taken++] as Waiting<Item, Result>
        if (waiting.deadline <= now) waiting.reject(new Expired())
        else batch.push(waiting)
      }
      this.#queue = taken === this.#queue.length ? [] : this.#queue.slice(taken)
      if (batch.length > 0) void this.#execute(batch)
    }
    this.#settleIdle()
  }

  async #execute (batch: Array<Waiting<Item, Result>>): Promise<void> {
    this.#running++
    const started = performance.now()
    try {
      await this.#runIsolating(batch)
    } finally {
      const took = performance.now() - started
      this.#batchMs = 0.8 * this.#batchMs + 0.2 * took
      // Per request, only from batches big enough for their fixed cost not to dominate: one slow
      // small batch (a cold start, a first prepare) would otherwise make every queued join look
      // seconds away and refuse a burst the vault clears in a few batches.
      if (batch.length >= ITEM_COST_MIN_BATCH) this.#itemMs = 0.8 * this.#itemMs + 0.2 * (took / batch.length)
      this.#running--
      // Under load the next batch leaves at once: whatever queued meanwhile is its company.
      if (this.#queue.length > 0) this.#flush()
      this.#settleIdle()
    }
  }

  /** Runs a batch; if it fails in a way one bad item could cause, runs each half again so the others still succeed. */
  async #runIsolating (batch: Array<Waiting<Item, Result>>): Promise<void> {
    let results: Result[]
    try {
      results = await this.#run(batch.map((waiting) => waiting.item))
    } catch (error) {
      if (batch.length > 1 && this.#splittable(error)) {
        const half = Math.ceil(batch.length / 2)
        await this.#runIsolating(batch.slice(0, half))
        await this.#runIsolating(batch.slice(half))
        return
      }
      const failure = error instanceof Error ? error : new Error('batch failed')
      for (const waiting of batch) waiting.reject(failure)
      return
    }
    batch.forEach((waiting, index) => {
      const result = results[index]
      if (result === undefined) waiting.reject(new Error('the batch returned no result for an item'))
      else waiting.resolve(result)
    })
  }

  #settleIdle (): void {
    if (this.#queue.length > 0 || this.#running > 0) return
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}
