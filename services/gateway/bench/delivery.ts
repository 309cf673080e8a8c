/**
 * Scenario 1: card delivery. Rooms of N members spread over several in-process
 * gateways; every member sends K messages through the SDK (by default all at
 * once, as fast as it allows), and we wait until every recipient has its card.
 * Each message becomes N − 1 cards.
 */
import { ChatSession, deriveRoomKeys, generateRoomCode, newMemberSecret, type SentMessage } from '@ephemeral-chat/client'
import { DEFAULT_REQUEST_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS } from '@ephemeral-chat/protocol'
import { waitFor } from '@ephemeral-chat/testkit'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import type { Deployment, RunningGateway } from '../test/helpers.js'
import { percentile, say, seriesByLabel, sortedCopy, within, type Cleanup } from './support.js'

export interface DeliveryOptions {
  rooms: number
  membersPerRoom: number
  messagesPerMember: number
  /** Sends each member keeps outstanding (K: all at once, as fast as the SDK allows). */
  inFlightPerMember: number
  gateways: number
  timeoutMs: number
}

export interface DeliveryResult {
  messages: number
  stored: number
  failedSends: Map<string, number>
  expectedCards: number
  cards: number
  /** From the first send() call to the last `sent` answer. */
  storeSeconds: number
  /** From the first send() call to the last card received. */
  deliverSeconds: number
  /** Card receipt minus the start of the send() that produced it, per card. */
  cardLatencyMs: number[]
  /** send() start to its `sent` answer, per stored message. */
  sendLatencyMs: number[]
  /** Gateway-side outcomes of send frames, retries included, summed over the gateways. */
  sendFrames: Map<string, number>
  /** Mean time a gateway waited for the vault to store a message. */
  vaultStoreMeanMs: number
  reconnects: number
  /** Event loop utilisation and CPU of this process (clients, gateways and vault) while sending. */
  eventLoopUtilisation: number
  cpuSeconds: number
}

const TEXT = 'benchmark message '.repeat(5)

export async function measureDelivery (deployment: Deployment, options: DeliveryOptions, cleanup: Cleanup): Promise<DeliveryResult> {
  const { rooms, membersPerRoom, messagesPerMember, timeoutMs } = options
  const gateways: RunningGateway[] = []
  for (let g = 0; g < options.gateways; g++) {
    // Production request timeout and heartbeat, not the short ones the tests use.
    const gateway = await deployment.startGateway({ requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS })
    gateways.push(gateway)
    cleanup.add(`stop delivery gateway ${g + 1}`, async () => { await gateway.stop() })
  }

  const keys = await within(timeoutMs, 'deriving room keys', Promise.all(Array.from({ length: rooms }, async () => deriveRoomKeys(generateRoomCode()))))
  const sessions: ChatSession[] = []
  cleanup.add('close delivery sessions', () => { for (const session of sessions) session.close() })
  let member = 0
  for (const roomKeys of keys) {
    for (let m = 0; m < membersPerRoom; m++) {
      const gateway = gateways[member++ % gateways.length] as RunningGateway
      sessions.push(new ChatSession({
        url: gateway.wsUrl, keys: roomKeys, memberSecret: newMemberSecret(),
        createSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as never
      }))
    }
  }
  await within(timeoutMs, `joining ${sessions.length} sessions`, Promise.all(sessions.map(async (session) => session.connect())))

  const cardsSeen: Array<{ id: string, at: number }> = []
  let reconnects = 0
  for (const session of sessions) {
    session.on('card', (card) => { cardsSeen.push({ id: card.id, at: performance.now() }) })
    session.on('state', ({ state }) => { if (state === 'reconnecting') reconnects++ })
  }

  say(`delivery: ${rooms} rooms × ${membersPerRoom} members on ${gateways.length} gateways, ${messagesPerMember} messages per member, ${Math.min(options.inFlightPerMember, messagesPerMember)} in flight per member`)
  const sendStarted = new Map<string, number>()
  const sendLatencyMs: number[] = []
  const failedSends = new Map<string, number>()
  let expectedCards = 0
  let lastStored = 0
  const elu = performance.eventLoopUtilization()
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const sendOne = async (session: ChatSession): Promise<void> => {
    const started = performance.now()
    let sent: SentMessage
    try {
      sent = await session.send(TEXT)
    } catch (error) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'exception'
      failedSends.set(code, (failedSends.get(code) ?? 0) + 1)
      return
    }
    lastStored = performance.now()
    sendStarted.set(sent.id, started)
    sendLatencyMs.push(lastStored - started)
    expectedCards += sent.recipients
  }
  // Each member keeps `inFlight` sends going until it has sent its K messages (by default all K at once).
  const sends = sessions.flatMap((session) => {
    let left = messagesPerMember
    return Array.from({ length: Math.min(options.inFlightPerMember, messagesPerMember) }, async () => {
      while (left > 0) {
        left--
        await sendOne(session)
      }
    })
  })
  // send() retries internally for up to `sendAttempts`; the deadline covers those retries too.
  await within(timeoutMs, `sending ${sessions.length * messagesPerMember} messages`, Promise.all(sends))
  await within(timeoutMs + 1000, 'card delivery', waitFor(`${expectedCards} cards`, () => cardsSeen.length >= expectedCards, timeoutMs, 2))
  const lastCard = cardsSeen.reduce((last, card) => Math.max(last, card.at), t0)
  const busy = performance.eventLoopUtilization(elu)
  const used = process.cpuUsage(cpu)

  const cardLatencyMs = cardsSeen.flatMap(({ id, at }) => {
    const started = sendStarted.get(id)
    return started === undefined ? [] : [at - started]
  })
  const metrics = await Promise.all(gateways.map(async (gateway) => (await gateway.app.inject({ url: '/metrics' })).body))
  const sendFrames = new Map<string, number>()
  let storeSum = 0
  let storeCount = 0
  for (const exposition of metrics) {
    for (const [outcome, n] of seriesByLabel(exposition, 'gateway_operation_duration_seconds_count', { operation: 'frame.send' }, 'outcome')) sendFrames.set(outcome, (sendFrames.get(outcome) ?? 0) + n)
    storeSum += [...seriesByLabel(exposition, 'gateway_operation_duration_seconds_sum', { operation: 'vault.message.store' }, 'outcome').values()].reduce((a, b) => a + b, 0)
    storeCount += [...seriesByLabel(exposition, 'gateway_operation_duration_seconds_count', { operation: 'vault.message.store' }, 'outcome').values()].reduce((a, b) => a + b, 0)
  }

  const { stored } = await deployment.db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('stored')).executeTakeFirstOrThrow()
  for (const session of sessions) session.close()
  for (const gateway of gateways) await gateway.stop()

  return {
    messages: sessions.length * messagesPerMember,
    stored: Number(stored),
    failedSends,
    expectedCards,
    cards: cardsSeen.length,
    storeSeconds: (lastStored - t0) / 1000,
    deliverSeconds: (lastCard - t0) / 1000,
    cardLatencyMs: sortedCopy(cardLatencyMs),
    sendLatencyMs: sortedCopy(sendLatencyMs),
    sendFrames,
    vaultStoreMeanMs: storeCount === 0 ? Number.NaN : (storeSum / storeCount) * 1000,
    reconnects,
    eventLoopUtilisation: busy.utilization,
    cpuSeconds: (used.user + used.system) / 1e6
  }
}

export function describeDelivery (r: DeliveryResult): Array<[string, string]> {
  const failed = [...r.failedSends].map(([code, n]) => `${code}×${n}`).join(' ') || 'none'
  const frames = [...r.sendFrames].map(([outcome, n]) => `${outcome}×${n}`).join(' ')
  return [
    ['messages sent / stored (rows in db)', `${r.messages - [...r.failedSends.values()].reduce((a, b) => a + b, 0)} / ${r.stored}`],
    ['failed sends', failed],
    ['send frames at the gateways (retries incl.)', frames],
    ['cards received / expected', `${r.cards} / ${r.expectedCards}`],
    ['messages stored per second', (r.stored / r.storeSeconds).toFixed(0)],
    ['cards delivered per second', (r.cards / r.deliverSeconds).toFixed(0)],
    ['send() → card latency p50 / p99 / max', `${ms(percentile(r.cardLatencyMs, 0.5))} / ${ms(percentile(r.cardLatencyMs, 0.99))} / ${ms(r.cardLatencyMs.at(-1))}`],
    ['send() → sent latency p50 / p99', `${ms(percentile(r.sendLatencyMs, 0.5))} / ${ms(percentile(r.sendLatencyMs, 0.99))}`],
    ['mean gateway wait for vault store', ms(r.vaultStoreMeanMs)],
    ['bench process: event loop busy, CPU', `${(r.eventLoopUtilisation * 100).toFixed(0)} %, ${r.cpuSeconds.toFixed(1)} s in ${r.deliverSeconds.toFixed(2)} s`],
    ['reconnects during the run', String(r.reconnects)]
  ]
}

function ms (value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '–' : `${value.toFixed(1)} ms`
}
