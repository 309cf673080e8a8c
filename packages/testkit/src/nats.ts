import { connectNatsBus, type Bus } from '@ephemeral-chat/bus'
import { randomBytes } from 'node:crypto'

export const natsUrl = (): string => process.env.NATS_URL ?? 'nats://127.0.0.1:4222'

/** A bus connection to the real NATS server of the test environment. */
export async function connectTestBus (name = 'test'): Promise<Bus> {
  return connectNatsBus({ servers: natsUrl(), name, defaultTimeoutMs: 5000 })
}

/** A private subject prefix for one test file (see withSubjectPrefix). */
export function randomPrefix (): string {
  return `t${randomBytes(6).toString('hex')}`
}
