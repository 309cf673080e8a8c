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
  return {
    registry,
    observe (operation, outcome, seconds) {
      duration.labels(operation, outcome).observe(seconds)
    },
    counter (name, help) {
      return new Counter({ name: `${prefix}_${name}`, help, registers: [registry] })
    },
    gauge (name, help, collect) {
      return new Gauge({ name: `${prefix}_${name}`, help, registers: [registry], collect () { this.set(collect()) } })
    }
  }
}
