import { encodeBytes, VAULT_SUBJECTS } from '@ephemeral-chat/protocol'
import { waitFor } from '@ephemeral-chat/testkit'
import pg from 'pg'
import t from 'tap'
import { fakeEnvelope, harness, newMemberId, newMessageId, newRoomHash, vaultApi } from './helpers.js'

t.test('/healthz answers 200', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const response = await vault.app.inject({ method: 'GET', url: '/healthz' })
  t.equal(response.statusCode, 200, 'status 200')
  t.same(response.json(), { status: 'ok' }, 'body')
})

t.test('/readyz answers 200 while PostgreSQL and NATS are reachable', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const response = await vault.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 200, 'status 200')
  t.same(response.json(), { status: 'ready' }, 'body')
})

t.test('/readyz answers 503 once the vault has lost its database pool', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  t.equal((await vault.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready while its pool is open')
  await vault.db.destroy()
  const response = await vault.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 503, 'status 503')
  t.same(response.json(), { status: 'unavailable' }, 'a generic status, nothing internal')
})

t.test('/readyz answers 503 once the vault has lost NATS', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  t.equal((await vault.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, 'ready while connected')
  await vault.bus.close()
  const response = await vault.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(response.statusCode, 503, 'status 503')
  t.same(response.json(), { status: 'unavailable' }, 'a generic status')
})

t.test('/readyz answers 503 while the vault shuts down', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const address = await vault.app.listen({ host: '127.0.0.1', port: 0 })
  t.equal((await fetch(`${address}/readyz`)).status, 200, 'ready before')

  // Hold a sweep inside the database so the shutdown stays in progress while we ask.
  const blocker = new pg.Client({ ...h.database })
  await blocker.connect()
  let closing: Promise<void> | undefined
  try {
    await blocker.query('begin; lock table messages in access exclusive mode')
    void vault.app.sweeper.sweep()
    closing = vault.app.close()
    const during = await waitFor('readiness to drop', async () => {
      const response = await fetch(`${address}/readyz`)
      return response.status === 503 ? response : undefined
    })
    t.equal(during.status, 503, 'not ready while shutting down')
    t.equal(await Promise.race([closing.then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 100, 'closing'))]), 'closing',
      'asked while the shutdown was still in progress')
  } finally {
    // Releasing the lock lets the sweep, then the shutdown, finish (also when an assertion above threw).
    await blocker.end()
  }
  await closing
  t.pass('the shutdown finished once the sweep could')
})

t.test('/metrics is Prometheus text that names no room, member, gateway or message', async (t) => {
  const h = await harness(t)
  const vault = await h.startVault()
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  const [id, unknown] = [newMessageId(), newMessageId()]
  const envelope = fakeEnvelope()
  await api.join(room, alice)
  await api.join(room, bob)
  await api.heartbeat()
  await api.store(room, alice, id, envelope)
  t.match(await api.fetch(room, alice, id), { ok: false, code: 'not-recipient' }, 'a refusal, to have a failed outcome counted')
  t.match(await api.fetch(room, bob, unknown), { ok: false, code: 'not-found' }, 'and another')
  await api.fetch(room, bob, id)
  await api.ack(room, bob, id)
  await api.leave(room, alice, 'disconnect')
  await h.bus.request(VAULT_SUBJECTS.messageFetch, encodeBytes({ v: 1, roomHash: room, memberId: alice, id, extra: true }))

  const response = await vault.app.metricsApp.inject({ method: 'GET', url: '/metrics' })
  t.equal(response.statusCode, 200, 'status 200')
  t.match(response.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'Prometheus text format')
  const text = response.body
  t.match(text, /^# TYPE vault_operation_duration_seconds histogram$/m, 'the operation histogram is there')
  const counted: Array<[string, string]> = [['room.join', 'ok'], ['message.store', 'ok'], ['message.fetch', 'not-recipient'], ['message.fetch', 'bad-frame'], ['message.ack', 'ok'], ['gateway.heartbeat', 'ok']]
  for (const [operation, outcome] of counted) {
    t.match(text, new RegExp(`^vault_operation_duration_seconds_count\\{operation="${operation.replace('.', '\\.')}",outcome="${outcome}"\\} [1-9]`, 'm'), `${operation} ${outcome} is counted`)
  }
  const identifiers = { room, alice, bob, id, unknown, gateway: api.gatewayId, iv: envelope.iv, ct: envelope.ct.slice(0, 32) }
  for (const [what, value] of Object.entries(identifiers)) t.notOk(text.includes(value), `no ${what}`)
  const labels = new Set([...text.matchAll(/(\w+)="/g)].map((match) => match[1]))
  t.same([...labels].filter((label) => !['operation', 'outcome', 'le', 'version', 'major', 'minor', 'patch', 'space', 'kind', 'type'].includes(label ?? '')), [],
    'labels are only operation, outcome and the runtime\'s own')
})
