/**
 * Faults under load: 20 rooms × 2 members each sending 2 messages a second (every
 * card revealed and confirmed) while, in turn, a vault is killed, a gateway is
 * killed, NATS restarts, PostgreSQL restarts, and a vault is frozen for 10 s. For
 * each: no stored message lost or delivered twice, no row left once all are
 * confirmed, every member exchanging again within 5 s of the fault's end, presence
 * right within three heartbeats (3 s). At the end, nothing identifying in any log
 * line the services printed at LOG_LEVEL=trace.
 *
 * One private stack (its own PostgreSQL, NATS, 2 vaults, 2 gateways) serves the
 * five faults in turn, with fresh rooms and members for each and a recovery check
 * (every part answering again, no process exited by itself) after each.
 */
import { strict } from '@ephemeral-chat/testkit'
import t, { type Test } from 'tap'
import { countsText, delay, fmt, Load, natsServerInstalled, NATS_SERVER, newBaits, Stack, type Baits, type LoadClient, type ServiceName, type UnexpectedExit } from '../../src/processes.js'

const ROOMS = 20
const MEMBERS = 2
const RATE = 2
const BEFORE_MS = 3000
const AFTER_MS = 6000
const DRAIN_MS = 20_000
const EXCHANGE_WITHIN_MS = 5000
/** Three heartbeats of HEARTBEAT_INTERVAL=1s. */
const PRESENCE_WITHIN_MS = 3000

t.setTimeout(420_000)

interface Fault {
  name: string
  /** Starts the fault; resolves when it has begun. */
  inject (stack: Stack): Promise<void>
  /** Ends it; resolves with the moment it ended (the restart or SIGCONT was issued), and a promise of full recovery. */
  end (stack: Stack): Promise<{ endedAt: number, recovered: Promise<void> }>
}

const restart = (name: ServiceName, signal: NodeJS.Signals, downMs: number): Fault => ({
  name: `${signal === 'SIGKILL' ? 'SIGKILL' : 'restart'} ${name} (down ${downMs / 1000} s)`,
  async inject (stack) {
    await stack.kill(name, signal)
    await delay(downMs)
  },
  async end (stack) {
    const endedAt = Date.now()
    const recovered = stack.start(name)
    // PostgreSQL's start resolves once it accepts connections; the others are spawned at once and waited for in the background.
    if (name === 'postgres') await recovered
    return { endedAt, recovered }
  }
})

const FAULTS: Fault[] = [
  restart('vault-1', 'SIGKILL', 2000),
  restart('gateway-1', 'SIGKILL', 2000),
  restart('nats', 'SIGTERM', 2000),
  restart('postgres', 'SIGINT', 2000),
  {
    name: 'SIGSTOP vault-2 for 10 s, then SIGCONT',
    async inject (stack) {
      await stack.kill('vault-2', 'SIGSTOP')
      await delay(10_000)
    },
    async end (stack) {
      await stack.kill('vault-2', 'SIGCONT')
      return { endedAt: Date.now(), recovered: Promise.resolve() }
    }
  }
]

if (!natsServerInstalled()) {
  if (strict()) t.fail(`${NATS_SERVER} is not installed: the fault tests need their own NATS server (CI=true makes this a failure)`)
  else t.plan(0, `skipped: ${NATS_SERVER} is not installed and the fault tests need a private NATS server to restart (with CI=true this is a failure)`)
} else {
  await main()
}

async function main (): Promise<void> {
  const started = Date.now()
  const stack = await Stack.start()
  t.teardown(async () => { await stack.stop() })
  t.comment(`private stack up in ${Date.now() - started} ms: NATS :${stack.natsPort}, PostgreSQL :${stack.pgParams.port}, vaults :${stack.vaultPorts.join(', :')}, gateways :${stack.gatewayPorts.join(', :')}`)

  const baits = newBaits()
  const loads: Load[] = []
  // FAULTS=nats (a part of a fault's name) runs only the matching faults, when chasing one.
  const only = process.env.FAULTS
  for (const fault of FAULTS.filter((f) => only === undefined || only === '' || f.name.includes(only))) {
    await t.test(fault.name, async (t) => { loads.push(await underLoad(t, stack, fault, baits)) })
  }
  await t.test('no identifier, address, header or URL query in any log line (LOG_LEVEL=trace)', async (t) => { logScan(t, stack, loads, baits) })
  t.comment(`whole file: ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

async function underLoad (t: Test, stack: Stack, fault: Fault, baits: Baits): Promise<Load> {
  const exitsBefore = stack.unexpectedExits.length
  const deadlocksBefore = deadlocks(stack)
  const load = await Load.connect({ rooms: ROOMS, membersPerRoom: MEMBERS, gatewayUrls: stack.gatewayUrls, baits })
  t.teardown(() => { load.close() })
  load.startSending(RATE)
  await delay(BEFORE_MS)
  const faultAt = Date.now()
  await fault.inject(stack)
  const { endedAt, recovered } = await fault.end(stack)
  let recovery: string | undefined
  const recoveredAt = recovered.then(() => Date.now(), (error: unknown) => { recovery = error instanceof Error ? error.message : String(error); return Number.NaN })
  await delay(endedAt + AFTER_MS - Date.now())
  load.stopSending()
  const sendingStoppedAt = Date.now()
  const drain = await load.drain(DRAIN_MS)
  const evaluatedAt = Date.now()

  // Figures, all taken before the members leave.
  const expected = MEMBERS
  const answerLost = [...load.confirmedAnswerLost].filter((id) => load.acked.has(id))
  const tombstones = await stack.query<{ id: string, reason: string }>('select id, reason from message_tombstones where room_hash = any($1) and id = any($2)', [load.roomHashes, answerLost]).catch(() => [])
  const viewedTombstones = new Set(tombstones.filter((row) => row.reason === 'viewed').map((row) => row.id))
  const lost = [...load.unsettled(), ...answerLost.filter((id) => !viewedTombstones.has(id))]
  const rows = await stack.query<{ n: string }>('select count(*) as n from messages where room_hash = any($1)', [load.roomHashes]).then((r) => Number(r[0]?.n), () => Number.NaN)
  const allRows = await stack.query<{ n: string }>('select count(*) as n from messages').then((r) => Number(r[0]?.n), () => Number.NaN)
  const leftRows = rows > 0 ? await stack.query<{ id: string, waiting: boolean, recipients: number, unviewed: number }>('select id, waiting, cardinality(recipients) as recipients, cardinality(unviewed) as unviewed from messages where room_hash = any($1) limit 5', [load.roomHashes]).catch(() => []) : []
  const lostRows = await stack.query<{ id: string, waiting: boolean, unviewed: number }>('select id, waiting, cardinality(unviewed) as unviewed from messages where room_hash = any($1) and id = any($2)', [load.roomHashes, lost]).catch(() => [])
  const exchange = load.clients.map((client) => client.firstAckAfter(endedAt))
  const cardsAgain = load.clients.map((client) => client.firstCardAfter(endedAt))
  const presenceSettled = load.clients.map((client) => client.presenceSettledAfter(endedAt, expected))
  const rightBefore = load.clients.filter((client) => client.presenceAt(faultAt) === expected).length
  const lastPresence = new Map<string, number>()
  for (const client of load.clients) {
    const key = String(client.presence.at(-1)?.members ?? 'none')
    lastPresence.set(key, (lastPresence.get(key) ?? 0) + 1)
  }
  const notJoined = load.clients.filter((client) => client.session.state !== 'joined').length
  // What the vault holds, for the presence figures: presence rows of these rooms, and how old each gateway's last heartbeat is.
  const presenceRows = await stack.query<{ n: string }>('select count(*) as n from presence where room_hash = any($1)', [load.roomHashes]).then((r) => r[0]?.n ?? '?', (error: unknown) => `? (${error instanceof Error ? error.message : 'failed'})`)
  const heartbeats = await stack.query<{ age: number }>('select extract(epoch from now() - last_heartbeat_at)::float8 as age from gateways order by age').then((r) => r.map((row) => `${row.age.toFixed(1)} s`).join(', '), (error: unknown) => `? (${error instanceof Error ? error.message : 'failed'})`)
  const worst = (values: number[]): number => Math.max(...values)
  const over = (values: number[], limit: number): number => values.filter((v) => v > limit).length
  const rel = (at: number): string => `${at >= endedAt ? '+' : ''}${((at - endedAt) / 1000).toFixed(1)}s`
  const story = (client: LoadClient, id: string): string => (client.events.get(id) ?? []).map((e) => `${rel(e.at)} ${e.what}`).join(', ')
  const presenceSamples = load.clients.filter((_, i) => (presenceSettled[i] ?? 0) > PRESENCE_WITHIN_MS).slice(0, 3).map((client) =>
    `member ${client.index} (room ${client.room}): presence ${client.presence.map((e) => `${rel(e.at)}=${e.members}`).join(' ')}; connection ${client.states.map((e) => `${rel(e.at)} ${e.state}${e.code === undefined ? '' : ` ${e.code}`}`).join(', ')}`)
  const lostSamples = lost.slice(0, 5).map((id) => {
    const pending = load.acked.get(id)
    const recipient = load.clients.find((c) => c.room === pending?.sender.room && c !== pending.sender)
    const row = lostRows.find((r) => r.id === id)
    return `answered sent at ${pending === undefined ? '?' : rel(pending.sentAt)}, at the recipient: ${recipient === undefined ? '?' : story(recipient, id) || 'nothing'}; row ${row === undefined ? 'absent' : `present (waiting ${String(row.waiting)}, unviewed ${row.unviewed})`}`
  })
  load.close()

  await recoveredAt
  // Recovery check for the next fault: every part answers again.
  let stillDown: ServiceName[] = []
  const deadline = Date.now() + 30_000
  do {
    stillDown = await stack.notReady()
    if (stillDown.length > 0) await delay(200)
  } while (stillDown.length > 0 && Date.now() < deadline)
  const exits: UnexpectedExit[] = stack.unexpectedExits.slice(exitsBefore)
  // A process that died by itself is started again so that the next fault finds a whole stack.
  for (const name of new Set(exits.map((exit) => exit.name))) {
    if (!await stack.isReady(name)) await stack.start(name).catch(() => undefined)
  }

  t.comment(`${fault.name}: fault from +${BEFORE_MS} ms for ${endedAt - faultAt} ms; load stopped ${sendingStoppedAt - endedAt} ms after its end; drain ${drain.complete ? 'complete' : 'INCOMPLETE'} after ${drain.ms} ms`)
  t.comment(`  messages: ${load.sendStarts.size} send() calls, ${load.acked.size} answered sent, ${load.answeredGone} of them answered with gone (a retry after delivery), ${load.confirmed.size} confirmed + ${viewedTombstones.size} confirmed with the answer lost (a retry told already-gone, the tombstone says viewed), ${lost.length} lost (sent, never confirmed), ${load.abandoned + load.inFlight} never answered sent`)
  t.comment(`  duplicates: ${load.duplicateCards()} card ids announced twice, ${load.duplicateReveals()} ids revealed twice, ${load.duplicateTexts()} texts revealed twice`)
  t.comment(`  rows left in messages: ${rows} in this fault's rooms (${allRows} in all)`)
  t.comment(`  exchanging again after the fault's end: max ${fmt(worst(exchange))} to a 'sent' (${over(exchange, EXCHANGE_WITHIN_MS)} of ${exchange.length} members over ${EXCHANGE_WITHIN_MS} ms), max ${fmt(worst(cardsAgain))} to a card`)
  t.comment(`  presence: right before the fault for ${rightBefore} of ${load.clients.length}; right (= ${expected}) and stable from max ${fmt(worst(presenceSettled))} after the fault's end (${over(presenceSettled, PRESENCE_WITHIN_MS)} members over ${PRESENCE_WITHIN_MS} ms); last presence per member: ${countsText(lastPresence)}; ${notJoined} not joined at the end`)
  t.comment(`  vault state at the end: ${presenceRows} presence rows for these ${ROOMS} rooms; gateways' last heartbeats ${heartbeats} ago`)
  for (const sample of presenceSamples) t.comment(`  presence, a sample (times from the fault's end): ${sample}`)
  t.comment(`  client failures (each retried): ${countsText(load.failures)}`)
  t.comment(`  recovery: ${Number.isNaN(await recoveredAt) ? `restart failed (${recovery ?? '?'})` : `restarted part ready ${(await recoveredAt) - endedAt} ms after the restart`}; not answering after: ${stillDown.join(', ') || 'none'}; evaluated ${evaluatedAt - endedAt} ms after the end`)
  for (const row of leftRows) {
    const pending = load.acked.get(row.id)
    const recipient = load.clients.find((c) => c.room === pending?.sender.room && c !== pending.sender)
    t.comment(`  row left, a sample: waiting ${String(row.waiting)}, ${row.recipients} recipients, ${row.unviewed} unviewed; ${pending === undefined ? 'never answered sent' : `answered sent at ${rel(pending.sentAt)}`}, ${load.confirmed.has(row.id) ? 'confirmed' : 'not confirmed'}; at the recipient: ${recipient === undefined ? '?' : story(recipient, row.id) || 'nothing'}`)
  }
  for (const sample of lostSamples) t.comment(`  lost, a sample (times from the fault's end): ${sample}`)
  for (const client of load.clients) {
    for (const [id, n] of client.cards) {
      if (n > 1) t.comment(`  card announced ${n} times, a sample: member ${client.index}: ${story(client, id)}; connection ${client.states.map((e) => `${rel(e.at)} ${e.state}${e.code === undefined ? '' : ` ${e.code}`}`).join(', ')}`)
    }
  }
  for (const { client, id, at } of load.noRecipient.slice(0, 3)) {
    const other = load.clients.find((c) => c.room === client.room && c !== client)
    t.comment(`  answered sent with 0 recipients at ${rel(at)}, a sample: member ${client.index}, the other member ${other?.session.state ?? '?'} (connection ${other?.states.map((e) => `${rel(e.at)} ${e.state}${e.code === undefined ? '' : ` ${e.code}`}`).join(', ') ?? '?'}); at the other member: ${other === undefined ? '?' : story(other, id) || 'nothing'}`)
  }
  for (const [what, sends] of [['still not answered sent', load.sending], ['given up', load.gaveUp]] as const) {
    for (const progress of [...sends.values()].slice(0, 3)) {
      t.comment(`  ${what}, a sample: member ${progress.client.index}, send() at ${rel(progress.startedAt)}, ${progress.failures.length} failed send/retrySend calls (${progress.failures.join(', ') || 'the first still running'}), connection ${progress.client.session.state}`)
    }
  }

  t.equal(rightBefore, load.clients.length, `presence right (${expected} per room) for every member before the fault, once both had joined`)
  t.equal(lost.length, 0, '0 messages lost: every message answered `sent` was revealed and confirmed')
  t.ok(drain.complete, 'the drain completed within 20 s: no send still waiting, every stored message confirmed')
  t.equal(load.duplicateCards(), 0, '0 delivered twice: no member got the same card twice (after the SDK\'s own de-duplication)')
  t.equal(load.duplicateReveals(), 0, '0 delivered twice: no member revealed the same message id twice')
  t.equal(load.duplicateTexts(), 0, '0 delivered twice: no member revealed the same text twice')
  t.equal(rows, 0, '0 rows left in messages once all are confirmed')
  t.ok(worst(exchange) <= EXCHANGE_WITHIN_MS, `every member exchanges again within ${EXCHANGE_WITHIN_MS} ms of the fault's end (max ${fmt(worst(exchange))})`)
  t.ok(worst(presenceSettled) <= PRESENCE_WITHIN_MS, `presence right (${expected} per room) within ${PRESENCE_WITHIN_MS} ms of the fault's end and stable (max ${fmt(worst(presenceSettled))})`)
  t.equal(notJoined, 0, 'every member is connected at the end')
  t.equal(deadlocks(stack) - deadlocksBefore, 0, 'PostgreSQL detected no deadlock (each stalls its rooms for deadlock_timeout, 1 s)')
  // The fault's own kills are expected exits (Stack.kill says so); any other exit is a crash.
  t.same(exits.map((exit) => `${exit.name} (${exit.signal ?? `code ${exit.code ?? '?'}`}) at ${rel(exit.at)}`), [], 'no process exited by itself')
  t.same(stillDown, [], 'every part answers again after the fault')
  return load
}

/** Deadlocks PostgreSQL has reported in its log so far. */
function deadlocks (stack: Stack): number {
  return (stack.serviceOutputs().get('postgres') ?? '').split('deadlock detected').length - 1
}

function logScan (t: Test, stack: Stack, loads: Load[], baits: Baits): void {
  const memberIds = new Set<string>()
  const roomIds = new Set<string>()
  const roomHashes = new Set<string>()
  const messageIds = new Set<string>()
  const clientPorts = new Set<number>()
  for (const load of loads) {
    const ids = load.identifiers()
    for (const id of ids.memberIds) memberIds.add(id)
    for (const id of ids.roomIds) roomIds.add(id)
    for (const hash of ids.roomHashes) roomHashes.add(hash)
    for (const id of ids.messageIds) messageIds.add(id)
    for (const port of load.clientPorts) clientPorts.add(port)
  }
  const serverPorts = new Set(stack.serverPorts)
  t.comment(`scanning for ${memberIds.size} member ids, ${roomIds.size} room ids, ${roomHashes.size} room hashes, ${messageIds.size} message ids, ${clientPorts.size} client ports`)
  t.ok(memberIds.size > 0 && roomIds.size > 0 && messageIds.size > 0 && clientPorts.size > 0, 'identifiers were collected')

  for (const [name, output] of stack.serviceOutputs()) {
    const lines = output.split('\n').filter((line) => line !== '')
    // Tokens rather than substring searches: thousands of ids against megabytes of output.
    const tokens = new Set(output.match(/[A-Za-z0-9_-]{16,}/g) ?? [])
    const found = (ids: Set<string>): string[] => [...ids].filter((id) => tokens.has(id))
    const hits: string[] = []
    const add = (what: string, values: string[]): void => { if (values.length > 0) hits.push(`${what}: ${values.length} (e.g. ${values[0] ?? ''})`) }
    add('member ids', found(memberIds))
    add('room ids', found(roomIds))
    add('room hashes', found(roomHashes))
    add('message ids', found(messageIds))
    const addresses = [...output.matchAll(/127\.0\.0\.1\D{0,3}(\d{1,5})/g)]
      .filter((match) => clientPorts.has(Number(match[1])) || !serverPorts.has(Number(match[1])))
      .map((match) => match[0])
    add('client addresses (127.0.0.1 with a client port)', addresses)
    add('client ports as fields', [...output.matchAll(/"remote(?:Port|Address)"\s*:\s*"?[0-9a-f.:]+/gi)].map((match) => match[0]))
    add('header names', [...output.matchAll(/user-agent|sec-websocket-key|x-forwarded-for/gi)].map((match) => match[0]))
    add('header values', [baits.userAgent, baits.forwardedFor].filter((value) => output.includes(value)))
    add('URL paths with a query', [...output.matchAll(/\/[\w\-./]*\?[^\s"'\\]*=/g)].map((match) => match[0]))
    add('the query bait', output.includes(baits.query) ? [baits.query] : [])
    const messages = new Map<string, number>()
    for (const line of lines) {
      // Not JSON (PostgreSQL's log): the line without its time and process number.
      let msg = `${line.replace(/^[\d-]+ [\d:.]+ \w+ \[\d+\] /, '').slice(0, 60)} (not JSON)`
      try {
        // The message and its fields (not the time): what kinds of line there were.
        const { msg: text, time: _time, level, service: _service, name: _name, ...fields } = JSON.parse(line) as Record<string, unknown>
        msg = `${typeof text === 'string' ? text : 'no msg'} (level ${String(level)}${Object.keys(fields).length === 0 ? '' : ` ${JSON.stringify(fields)}`})`
      } catch { /* counted as not JSON */ }
      messages.set(msg, (messages.get(msg) ?? 0) + 1)
    }
    t.comment(`${name}: ${lines.length} lines, ${output.length} characters (${countsText(messages)})${hits.length === 0 ? '' : `; FOUND ${hits.join('; ')}`}`)
    t.same(hits, [], `${name}: nothing identifying in its output`)
  }
}
