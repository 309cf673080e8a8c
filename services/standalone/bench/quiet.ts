/**
 * Between scenarios: a product that gave up on requests (the gateway answered
 * `unavailable`) may still be working through them. Waiting until its processes
 * go idle keeps that backlog out of the next scenario's figures, and how long it
 * took is itself worth reporting.
 */
import { processes, sampleCpu } from './proc.js'
import type { Target } from './targets.js'
import { sleep } from './util.js'

const INTERVAL_MS = 500
/** Under a tenth of one core over an interval counts as idle (timers, heartbeats, the sweeper). */
const IDLE_SHARE = 0.1

/** Resolves with the ms it took the target's own processes to go idle, or undefined if they were still busy after `timeoutMs`. */
export async function waitQuiet (target: Target, timeoutMs: number): Promise<number | undefined> {
  const source = [processes('product', target.children.map((child) => child.pid))]
  const started = Date.now()
  let last = sampleCpu(source).get('product') ?? 0
  for (;;) {
    await sleep(INTERVAL_MS)
    const now = sampleCpu(source).get('product') ?? 0
    if (now - last < (IDLE_SHARE * INTERVAL_MS) / 1000) return Date.now() - started
    last = now
    if (Date.now() - started > timeoutMs) return undefined
  }
}
