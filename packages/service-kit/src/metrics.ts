/**
 * Prometheus metrics for a service: counts and latencies, labelled by operation
 * and outcome code only, never by an identifier.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

export interface ServiceMetrics {
  readonly registry: Registry
  /** Records one operation's outcome and how long it took. */
  observe (operation: string, outcome: string, seconds: number): void
  counter (name: string, help: string): Counter
  /** A gauge read from `collect` at every scrape. */
  gauge (name: string, help: string, collect: () => number): Gauge
}

export function createMetrics (prefix: string, options: { defaultMetrics?: boolean } = {}): ServiceMetrics {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: `${prefix}_` })
  const duration = new Histogram({
    name: `${prefix}_operation_duration_seconds`,
    help: 'Duration of operations by kind and outcome code',
    labelNames: ['operation', 'outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })
  // Label children cached: prom-client's own lookup hashes the label set on every call, and this runs per frame.
  const children = new Map<string, Map<string, { observe (value: number): void }>>()
  return {
    registry,
    observe (operation, outcome, seconds) {
      let byOutcome = children.get(operation)
      if (byOutcome === undefined) children.set(operation, byOutcome = new Map<string, { observe (value: number): void }>())
      let child = byOutcome.get(outcome)
      if (child === undefined) byOutcome.set(outcome, child = duration.labels(operation, outcome))
      child.observe(seconds)
    },
    counter (name, help) {
      return new Counter({ name: `${prefix}_${name}`, help, registers: [registry] })
    },
    gauge (name, help, collect) {
      return new Gauge({ name: `${prefix}_${name}`, help, registers: [registry], collect () { this.set(collect()) } })
    }
  }
}
