import { BusError } from './bus.js'
import type { BusLogger } from './bus.js'

export const DEFAULT_TIMEOUT_MS = 5_000

export const consoleLogger: BusLogger = {
  warn: (obj, msg) => { console.warn(msg, obj) }
}

export function closedError (): BusError {
  return new BusError('closed', 'bus is closed')
}

/** Only the error's class name is logged: messages from NATS and from handlers can quote subjects or payloads. */
export function reportHandlerFailure (logger: BusLogger, err: unknown): void {
  logger.warn({ error: err instanceof Error ? err.name : typeof err }, 'bus handler failed')
}

export function checkTimeout (timeoutMs: number): number {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError('bus timeout must be a positive number of milliseconds')
  return timeoutMs
}

/** Waits for the promises to settle, but never past `deadline` (epoch ms), so a stuck handler cannot block shutdown. */
export async function settleBefore (promises: Iterable<Promise<unknown>>, deadline: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())) })
  try {
    await Promise.race([Promise.allSettled(promises), expired])
  } finally {
    clearTimeout(timer)
  }
}

/** Same rules for both buses; NATS itself would accept `a..b` and then silently never match it. */
export function parseSubject (subject: string, wildcards: boolean): string[] {
  const tokens = subject.split('.')
  const valid = tokens.every((token, i) =>
    token.length > 0 && !/\s/.test(token) &&
    (wildcards ? token !== '>' || i === tokens.length - 1 : token !== '*' && token !== '>'))
  // The subject is not quoted: subjects carry room hashes.
  if (!valid) throw new TypeError('invalid bus subject')
  return tokens
}

/** An empty queue name would make NATS treat a server as a plain subscriber, so every replica would answer. */
export function checkQueue (queue: string): string {
  if (!/^[^\s.]+$/.test(queue)) throw new TypeError('invalid bus queue group')
  return queue
}
