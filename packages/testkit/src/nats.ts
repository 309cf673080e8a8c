import { connectNatsBus, createMemoryBroker, type Bus, type MemoryBroker } from '@ephemeral-chat/bus'
import { randomBytes } from 'node:crypto'
import { MissingServerError, reachable, strict } from './backends.js'

export const natsUrl = (): string => process.env.NATS_URL ?? 'nats://127.0.0.1:4222'

let broker: MemoryBroker | undefined
let natsUp: Promise<boolean> | undefined

/** True when the NATS server of the environment answers (checked once per process). */
export async function natsAvailable (): Promise<boolean> {
  natsUp ??= (async () => {
    const url = new URL(natsUrl())
    const port = Number(url.port === '' ? 4222 : url.port)
    if (await reachable(url.hostname, port)) return true
    // CI has the real server: a probe lost on a loaded machine is asked again before the bus falls back or fails.
    if (strict()) for (let attempt = 0; attempt < 4; attempt++) if (await reachable(url.hostname, port, 2000)) return true
    return false
  })()
  return natsUp
}

/** The bus tests use: a connection to the real NATS server, or (no server, CI unset) the in-process bus shared by this process. */
export async function connectTestBus (name = 'test'): Promise<Bus> {
  if (await natsAvailable()) return connectNatsBus({ servers: natsUrl(), name, defaultTimeoutMs: 5000 })
  if (strict()) throw new MissingServerError('NATS', natsUrl())
  broker ??= createMemoryBroker()
  return broker.connect({ defaultTimeoutMs: 5000 })
}

/** A private subject prefix for one test file (see withSubjectPrefix). */
export function randomPrefix (): string {
  return `t${randomBytes(6).toString('hex')}`
}
