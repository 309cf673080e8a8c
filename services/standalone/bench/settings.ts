/** The bench's settings, read once from the environment (documented in main.ts). */

export const TARGET_NAMES = ['floor', 'pgbench', 'standalone', 'split'] as const
export type TargetName = (typeof TARGET_NAMES)[number]
export const SCENARIO_NAMES = ['one-to-one', 'ten-by-ten', 'latency', 'overload', 'idle'] as const
export type ScenarioName = (typeof SCENARIO_NAMES)[number]

export interface Settings {
  targets: TargetName[]
  scenarios: Set<ScenarioName>
  /** Measured seconds of one-to-one, latency, overload and the pgbench run. */
  seconds: number
  warmupSeconds: number
  /** 1:1 rooms of one-to-one (and of the pgbench setup). */
  rooms: number
  /** Lifecycles each member keeps in flight (one-to-one, ten-by-ten). */
  window: number
  tenMessages: number
  /** ten-by-ten stops starting messages after this long, then drains. */
  tenDeadlineSeconds: number
  latencyRooms: number
  /** Sends per second per member in the latency scenario. */
  latencyRate: number
  overloadFactor: number
  overloadRooms: number
  /** Client-side deadline of a send (latency, overload). */
  deadlineSeconds: number
  /** How long outstanding lifecycles may take to finish once a scenario stops sending. */
  drainSeconds: number
  /** How long the target may stay busy after a scenario before it is restarted. */
  quietSeconds: number
  /** Attempts of a reveal or viewed that was refused with a retryable code. */
  attempts: number
  connections: number
  idleMembers: number
  joinsInFlight: number
  settleSeconds: number
  pgbenchClients: number
  vaults: number
  gateways: number
  /** RATE_SEND, RATE_TYPING, RATE_REVEAL and RATE_CONTROL of the product targets. */
  rate: string
  natsUrl: string
  /** Hard stop of the whole bench. */
  timeoutSeconds: number
  /** Extra node flags for the product's processes (BENCH_NODE_FLAGS, space-separated), e.g. --cpu-prof to profile them. */
  nodeFlags: string[]
}

function number (name: string, fallback: number, min: number, max: number, integer = true): number {
  const raw = process.env[name]
  const value = raw === undefined || raw.trim() === '' ? fallback : Number(raw)
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`)
  }
  return value
}

function list<T extends string> (name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return [...fallback]
  const values = raw.split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const value of values) {
    if (!(allowed as readonly string[]).includes(value)) throw new Error(`${name}: unknown "${value}" (choose from ${allowed.join(', ')})`)
  }
  return values as T[]
}

export function readSettings (): Settings {
  const rate = process.env.BENCH_RATE ?? '1000000/1000000'
  if (!/^\d+(\.\d+)?\/\d+$/.test(rate)) throw new Error('BENCH_RATE must be <per second>/<burst>')
  return {
    targets: list('BENCH_TARGETS', TARGET_NAMES, TARGET_NAMES),
    scenarios: new Set(list('BENCH_SCENARIOS', SCENARIO_NAMES, SCENARIO_NAMES)),
    seconds: number('BENCH_SECONDS', 10, 1, 3600),
    warmupSeconds: number('BENCH_WARMUP', 2, 0, 600),
    rooms: number('BENCH_ROOMS', 50, 1, 10_000),
    window: number('BENCH_WINDOW', 10, 1, 400),
    tenMessages: number('BENCH_TEN_MESSAGES', 20, 1, 1000),
    tenDeadlineSeconds: number('BENCH_TEN_DEADLINE', 20, 1, 3600),
    latencyRooms: number('BENCH_LATENCY_ROOMS', 50, 1, 10_000),
    latencyRate: number('BENCH_LATENCY_RATE', 2, 0.01, 1000, false),
    overloadFactor: number('BENCH_OVERLOAD_FACTOR', 2, 0.1, 100, false),
    overloadRooms: number('BENCH_OVERLOAD_ROOMS', 100, 1, 10_000),
    deadlineSeconds: number('BENCH_DEADLINE', 5, 0.1, 600, false),
    drainSeconds: number('BENCH_DRAIN', 30, 1, 3600),
    quietSeconds: number('BENCH_QUIET', 30, 1, 3600),
    attempts: number('BENCH_ATTEMPTS', 6, 1, 20),
    connections: number('BENCH_CONNECTIONS', 5000, 1, 200_000),
    idleMembers: number('BENCH_IDLE_MEMBERS', 10, 1, 50),
    joinsInFlight: number('BENCH_JOINS_IN_FLIGHT', 250, 1, 10_000),
    settleSeconds: number('BENCH_SETTLE', 2, 0, 600, false),
    pgbenchClients: number('BENCH_PGBENCH_CLIENTS', 10, 1, 1000),
    vaults: number('BENCH_VAULTS', 1, 1, 32),
    gateways: number('BENCH_GATEWAYS', 1, 1, 32),
    rate,
    natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    timeoutSeconds: number('BENCH_TIMEOUT', 1200, 10, 86_400),
    nodeFlags: (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '')
  }
}
