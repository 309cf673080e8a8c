/** Small helpers shared by the gateway benchmarks: settings, deadlines, cleanup, statistics, tables. */
import { readFileSync } from 'node:fs'

export function positiveSetting (name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be a whole number from 1 to ${max}`)
  return value
}

export function say (line: string): void {
  process.stdout.write(`${line}\n`)
}

export class DeadlineError extends Error {
  constructor (what: string, ms: number) {
    super(`${what} did not finish within ${(ms / 1000).toFixed(0)} s`)
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

/**
 * Runs `work` for 0…count−1 with at most `limit` in flight; results in order.
 * Stops starting new items after the first failure, which it rethrows.
 */
export async function mapLimit<T> (count: number, limit: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count)
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < count && !failed) {
      const index = next++
      try {
        results[index] = await work(index)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker))
  return results
}

export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Undo steps, run last-added first; each is bounded so a stuck step cannot keep the bench alive. */
export class Cleanup {
  readonly #steps: Array<{ what: string, run: () => Promise<void> | void }> = []

  add (what: string, run: () => Promise<void> | void): void {
    this.#steps.push({ what, run })
  }

  async run (stepTimeoutMs: number): Promise<boolean> {
    let clean = true
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await within(stepTimeoutMs, `cleanup: ${step.what}`, Promise.resolve().then(step.run))
      } catch (error) {
        clean = false
        process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
      }
    }
    return clean
  }
}

export function percentile (sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN
}

export function sortedCopy (values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b)
}

/** Prints rows under a header in left-aligned columns. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  for (const row of [header, ...rows]) {
    say(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd())
  }
}

/** The open-file limit of this process (children spawned from it inherit it). */
export function openFileLimit (): { soft: number, hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const match = line === undefined ? null : /Max open files\s+(\S+)\s+(\S+)/.exec(line)
    if (match === null) return undefined
    const value = (s: string | undefined): number => s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s)
    return { soft: value(match[1]), hard: value(match[2]) }
  } catch {
    return undefined
  }
}

/** Sum of the sample values of one Prometheus series family, by one label's value. */
export function seriesByLabel (exposition: string, name: string, match: Record<string, string>, by: string): Map<string, number> {
  const totals = new Map<string, number>()
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const close = line.indexOf('}')
    const labels = new Map<string, string>()
    for (const pair of line.slice(name.length + 1, close).matchAll(/(\w+)="([^"]*)"/g)) labels.set(pair[1] ?? '', pair[2] ?? '')
    if (!Object.entries(match).every(([key, value]) => labels.get(key) === value)) continue
    const key = labels.get(by) ?? ''
    totals.set(key, (totals.get(key) ?? 0) + Number(line.slice(close + 1).trim()))
  }
  return totals
}
