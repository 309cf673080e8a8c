/** Small helpers of the product bench: output, deadlines, cleanup, statistics, ports. */
import { randomBytes } from 'node:crypto'

export function say (line: string): void {
  process.stdout.write(`${line}\n`)
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

export class DeadlineError extends Error {
  constructor (what: string, ms: number) {
    super(`${what} did not finish within ${(ms / 1000).toFixed(1)} s`)
    this.name = 'DeadlineError'
  }
}

/** Resolves as `work` does, or rejects with a DeadlineError naming `what` once `ms` have passed. */
export async function within<T> (ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new DeadlineError(what, ms)) }, ms)
  })
  try {
    return await Promise.race([work, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** Polls `condition` until it holds (true) or `timeoutMs` pass (false): a slow product is a figure, not an exception. */
export async function waitUntil (condition: () => boolean, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() >= deadline) return false
    await sleep(intervalMs)
  }
  return true
}

/**
 * Runs `work` for 0…count−1 with at most `limit` in flight. Unlike Promise.all
 * over everything, a failure does not stop the others: each outcome is returned.
 */
export async function mapLimit<T> (count: number, limit: number, work: (index: number) => Promise<T>): Promise<Array<PromiseSettledResult<T>>> {
  const results = new Array<PromiseSettledResult<T>>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++
      try {
        results[index] = { status: 'fulfilled', value: await work(index) }
      } catch (reason) {
        results[index] = { status: 'rejected', reason }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker))
  return results
}

/** Undo steps, run last-added first; each is bounded so a stuck step cannot keep the bench alive. */
export class Cleanup {
  readonly #steps: Array<{ what: string, run: () => Promise<void> | void }> = []

  /** Adds a step; the returned function runs it now (once) and takes it off the list. */
  add (what: string, run: () => Promise<void> | void): () => Promise<void> {
    const step = { what, run }
    this.#steps.push(step)
    return async () => {
      const index = this.#steps.indexOf(step)
      if (index < 0) return
      this.#steps.splice(index, 1)
      await step.run()
    }
  }

  async run (stepTimeoutMs: number): Promise<boolean> {
    let clean = true
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await within(stepTimeoutMs, `cleanup: ${step.what}`, Promise.resolve().then(step.run))
      } catch (error) {
        clean = false
        process.stderr.write(`${errorText(error)}\n`)
      }
    }
    return clean
  }
}

export function errorText (error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export function sortedCopy (values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b)
}

/** Nearest-rank percentile of an ascending array; NaN when it is empty. */
export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN
}

export function increment<K> (map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by)
}

export function sumValues (map: ReadonlyMap<unknown, number>): number {
  let total = 0
  for (const value of map.values()) total += value
  return total
}

export const b64 = (bytes: number): string => randomBytes(bytes).toString('base64url')

// The subpath, not the package: testkit's index loads tap, whose root test would time the bench out after 30 s.
export { freePort } from '@ephemeral-chat/testkit/ports'
