import { connectNatsBus, type Bus } from '@ephemeral-chat/bus'

export const natsUrl = (): string => process.env.NATS_URL ?? 'nats://127.0.0.1:4222'

/** A bus connection to the real NATS server of the test environment. */
export async function connectTestBus (name = 'test'): Promise<Bus> {
  return connectNatsBus({ servers: natsUrl(), name, defaultTimeoutMs: 5000 })
}
