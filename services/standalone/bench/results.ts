/** What each scenario measures, as the report reads it. */
import type { CpuSample } from './proc.js'

export interface Errors {
  /** Error frames by `<request>:<code>`, retries included. */
  byCode: Map<string, number>
  total: number
}

export interface OneToOneResult {
  lifecyclesPerSecond: number
  completed: number
  windowSeconds: number
  /** CPU seconds per part over the measured window (the bench's own under `bench`). */
  cpu: CpuSample
  /** Every part but the bench, µs per completed lifecycle. */
  stackCpuUs: number
  payloadP50Ms: number
  payloadP99Ms: number
  errors: Errors
  rowsLeft: number | undefined
}

export interface TenByTenResult {
  expectedPayloads: number
  payloads: number
  confirmations: number
  messagesCompleted: number
  messages: number
  /** First send → last payload. */
  seconds: number
  /** First send → everything settled (or the deadline and drain). */
  wallSeconds: number
  payloadsPerSecond: number
  finishedInTime: boolean
  errors: Errors
  rowsLeft: number | undefined
}

export interface LatencyResult {
  offeredPerSecond: number
  sends: number
  completed: number
  /** Payloads the percentiles count: those of sends after the warm-up. */
  measured: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** p99 over every payload, the warm-up's included. */
  wholeRunP99Ms: number
  /** How late the open-loop scheduler fired its worst send (the bench falling behind). */
  schedulerLagMs: number
  errors: Errors
  rowsLeft: number | undefined
}

export interface OverloadResult {
  capacityPerSecond: number
  offeredPerSecond: number
  sends: number
  sentInTime: number
  sentLate: number
  refusedInTime: number
  refusedLate: number
  refusals: Map<string, number>
  refusalP99Ms: number
  refusalMaxMs: number
  /** Never answered at all, even after the drain. */
  neverAnswered: number
  /** Lifecycles completed after the warm-up and within the window, whose send was answered in time, per second. */
  goodputPerSecond: number
  completedTotal: number
  schedulerLagMs: number
  /** CPU seconds by part over the sending window (the load generator's own among them). */
  cpu: CpuSample
  errors: Errors
  orphanRows: number | undefined
}

export interface IdleResult {
  connections: number
  wanted: number
  failures: Map<string, number>
  seconds: number
  joinsPerSecond: number
  joinP50Ms: number
  joinP99Ms: number
  /** RSS growth of the processes holding the connections, KiB per connection, read as they hold it after a settle. */
  perConnectionKiB: number
  /** The same, each RSS read after full garbage collections: what the connections themselves keep alive. */
  perConnectionAfterGcKiB: number
  beforeKiB: number
  afterKiB: number
  /** RSS growth (after garbage collection) of the other processes of the target (the vault of split), KiB per connection. */
  othersPerConnectionKiB: number | undefined
  /** CPU seconds per part while the connections joined (the bench's own under `bench`). */
  cpu: CpuSample
}

export interface PgbenchResult {
  lifecyclesPerSecond: number
  transactions: number
  failed: number
  seconds: number
  latencyAvgMs: number
  cpu: CpuSample
  /** PostgreSQL and pgbench, µs per lifecycle. */
  stackCpuUs: number
  rowsLeft: number
  clients: number
}

export interface TargetResults {
  target: string
  oneToOne?: OneToOneResult
  tenByTen?: TenByTenResult
  latency?: LatencyResult
  overload?: OverloadResult
  idle?: IdleResult
  pgbench?: PgbenchResult
  /** What makes the run broken (lost messages, leftover rows without a cause, a crash). */
  broken: string[]
  /** What the reader should know but does not invalidate the figures. */
  notes: string[]
}

export function errorsOf (byCode: Map<string, number>): Errors {
  let total = 0
  for (const n of byCode.values()) total += n
  return { byCode: new Map(byCode), total }
}
