/**
 * Which servers the tests run against. The real PostgreSQL and NATS named by the
 * environment when they answer; on a machine without them (and only when CI is
 * not set) an embedded PostgreSQL and the in-process bus instead, so `npm test`
 * passes anywhere. With CI=true a missing server is a failure, never a fallback.
 */
import { createConnection } from 'node:net'

export async function reachable (host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(timeoutMs, () => { done(false) })
    socket.once('connect', () => { done(true) })
    socket.once('error', () => { done(false) })
  })
}

export const strict = (): boolean => process.env.CI === 'true' || process.env.CI === '1'

export class MissingServerError extends Error {
  constructor (what: string, where: string) {
    super(`${what} is not reachable at ${where}; with CI=true the tests need the real server and do not fall back`)
    this.name = 'MissingServerError'
  }
}
