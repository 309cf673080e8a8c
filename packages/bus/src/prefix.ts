import type { Bus } from './bus.js'

/**
 * A view of `bus` whose subjects all live under `<prefix>.`: several installs (or
 * test runs) can share one NATS server without answering each other's requests
 * or seeing each other's room events.
 */
export function withSubjectPrefix (bus: Bus, prefix: string): Bus {
  const p = (subject: string): string => `${prefix}.${subject}`
  const strip = (subject: string): string => subject.slice(prefix.length + 1)
  return {
    request: async (subject, data, options) => bus.request(p(subject), data, options),
    serve: (subject, queue, handler) => bus.serve(p(subject), queue, async (data, subject) => handler(data, strip(subject))),
    publish: (subject, data) => { bus.publish(p(subject), data) },
    subscribe: (subject, handler) => bus.subscribe(p(subject), (data, subject) => { handler(data, strip(subject)) }),
    onReconnect: (listener) => bus.onReconnect(listener),
    ping: async () => bus.ping(),
    close: async () => bus.close()
  }
}

/** A prefix must be plain subject tokens: no wildcards, no empty tokens, no spaces. */
export function isValidSubjectPrefix (prefix: string): boolean {
  return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)
}
