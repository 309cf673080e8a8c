import { waitFor } from '@ephemeral-chat/testkit'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import WebSocket from 'ws'
import { connectClient, deployment, newRoom, type RunningGateway } from '../../src/stack.js'

const b64 = (bytes: number): string => randomBytes(bytes).toString('base64url')

/** A raw socket joined as `memberSecret`, collecting frames. */
async function joined (gateway: RunningGateway, roomId: string, memberSecret: string) {
  const socket = new WebSocket(gateway.wsUrl)
  const frames: Array<Record<string, unknown>> = []
  socket.on('message', (data: Buffer) => { frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>) })
  await new Promise<void>((resolve, reject) => { socket.once('open', () => { resolve() }); socket.once('error', reject) })
  socket.send(JSON.stringify({ v: 1, type: 'join', ref: 'j', roomId, memberSecret }))
  await waitFor('joined', () => frames.find((f) => f.type === 'joined'))
  return {
    socket,
    frames,
    send: (ref: string) => { socket.send(JSON.stringify({ v: 1, type: 'send', ref, id: b64(16), iv: b64(12), ct: b64(272) })) },
    answer: async (ref: string) => waitFor(`the answer to ${ref}`, () => frames.find((f) => f.ref === ref), 5000)
  }
}

t.test('beyond MAX_NEW_WORK_IN_FLIGHT a send is refused at once with a retry hint; admitted work finishes', async (t) => {
  const d = await deployment(t)
  await d.startVault()
  const gateway = await d.startGateway({ maxNewWorkInFlight: 2 })
  const { keys } = await newRoom()
  const bob = await connectClient(t, gateway.wsUrl, keys)
  const alice = await joined(gateway, keys.roomId, b64(32))
  t.teardown(() => { alice.socket.close() })

  // Hold the database so admitted sends stay in flight.
  const blocker = new pg.Client({ ...d.database })
  await blocker.connect()
  await blocker.query('begin; lock table messages in exclusive mode')
  let released = false
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    await blocker.query('rollback')
    await blocker.end()
  }
  t.teardown(release)

  alice.send('a1')
  alice.send('a2')
  await waitFor('both to wait on the database', async () => {
    // On a loaded machine the vault may turn a send away before it reaches the table
    // (`unavailable`: its queue looked too slow); sent again, it is the held-up work this test needs.
    for (const ref of ['a1', 'a2']) {
      const early = alice.frames.findIndex((f) => f.ref === ref && f.code === 'unavailable')
      if (early >= 0) { alice.frames.splice(early, 1); alice.send(ref) }
    }
    const { rows } = await blocker.query<{ n: string }>("select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")
    return Number(rows[0]?.n) >= 1
  }, 20_000, 50).catch((error: unknown) => { throw new Error(`${error instanceof Error ? error.message : String(error)}; frames: ${JSON.stringify(alice.frames.filter((f) => f.type !== 'presence'))}`) })
  const started = performance.now()
  alice.send('a3')
  const refused = await alice.answer('a3')
  t.ok(performance.now() - started < 1000, 'refused at once, not after the held-up work')
  t.match(refused, { type: 'error', code: 'unavailable' })
  t.ok(typeof refused.retryAfterMs === 'number' && refused.retryAfterMs >= 100, `with a retry hint (${String(refused.retryAfterMs)} ms)`)

  await release()
  t.match(await alice.answer('a1'), { type: 'sent' }, 'the admitted sends are stored')
  t.match(await alice.answer('a2'), { type: 'sent' })
  await waitFor('bob gets both cards', () => bob.events.card.length === 2)
  alice.send('a4')
  t.match(await alice.answer('a4'), { type: 'sent' }, 'with places free again, sends are admitted')
})
