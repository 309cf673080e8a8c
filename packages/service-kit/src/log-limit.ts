/**
 * Warnings that can repeat once per request (a database outage fails every
 * request) would flood the logs and drown what matters: each kind of line is
 * written at most `perMinute` times a minute, and when lines were held back the
 * next one says how many.
 */
export interface Warner {
  warn (obj: object, msg: string): void
}

export function limitedWarner (logger: Warner, perMinute = 10, now: () => number = Date.now): Warner {
  const kinds = new Map<string, { windowStart: number, written: number, held: number }>()
  return {
    warn (obj, msg) {
      const key = `${msg}\0${JSON.stringify(obj)}`
      const at = now()
      let kind = kinds.get(key)
      if (kind === undefined || at - kind.windowStart >= 60_000) {
        const held = kind?.held ?? 0
        kind = { windowStart: at, written: 0, held: 0 }
        kinds.set(key, kind)
        if (kinds.size > 1000) kinds.clear() // a bound: the kinds are few (operation × error class)
        if (held > 0) { logger.warn({ ...obj, suppressed: held }, msg); kind.written++; return }
      }
      if (kind.written < perMinute) {
        kind.written++
        logger.warn(obj, msg)
      } else {
        kind.held++
      }
    }
  }
}
