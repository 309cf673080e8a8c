import type { Bus } from '@ephemeral-chat/bus'
import { randomBytes } from 'node:crypto'

/**
 * A view of `bus` whose subjects all live under `<prefix>.`: test files that run
 * in parallel against one NATS server each get their own vault queue group and
 * room subjects, so they never answer each other's requests.
 */
export function withSubjectPrefix (bus: Bus, prefix: string): Bus {
  const p = (subject: string): string => `${prefix}.${subject}`
  const strip = (subject: string): string => subject.slice(prefix.length + 1)
  return {
    request: async (subject, data, options) => bus.request(p(subject), data, options),
    serve: (subject, queue, handler) => bus.serve(p(subject), queue, async (data, subject) => handler(data, strip(subject))),
    publish: (subject, data) => { bus.publish(p(subject), data) },
    subscribe: (subject, handler) => bus.subscribe(p(subject), (data, subject) => { handler(data, strip(subject)) }),
    ping: async () => bus.ping(),
    close: async () => bus.close()
  }
}

export function randomPrefix (): string {
  return `t${randomBytes(6).toString('hex')}`
}
