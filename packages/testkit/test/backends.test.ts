import t from 'tap'
import { connectTestBus, createTestDatabase, natsAvailable, natsUrl, strict, testServer } from '../src/index.js'
import pg from 'pg'

t.test('the tests say which backends they run against', async (t) => {
  const { server, embedded } = await testServer()
  const nats = await natsAvailable()
  t.comment(`backends: ${embedded ? 'embedded PostgreSQL (no server answered)' : `PostgreSQL at ${server.host}:${server.port}`}, ${nats ? `NATS at ${natsUrl()}` : 'in-process bus (no NATS answered)'}${strict() ? ', CI=true: no fallback allowed' : ''}`)
  if (strict()) {
    t.notOk(embedded, 'with CI=true the real PostgreSQL is used')
    t.ok(nats, 'with CI=true the real NATS is used')
  }
  const database = await createTestDatabase()
  const client = new pg.Client({ ...database })
  await client.connect()
  const { rows } = await client.query<{ one: number }>('select 1 as one')
  await client.end()
  await database.drop()
  t.same(rows, [{ one: 1 }], 'a private database answers queries')
  const bus = await connectTestBus()
  const served = bus.serve('testkit.echo', 'q', (data) => data)
  await bus.ping()
  t.same([...await bus.request('testkit.echo', new Uint8Array([1, 2]))], [1, 2], 'the bus answers requests')
  served.unsubscribe()
  await bus.close()
})
