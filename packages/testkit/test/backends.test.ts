import t from 'tap'
import { connectTestBus, createTestDatabase, fileTestDatabase, natsAvailable, natsUrl, strict, testServer } from '../src/index.js'
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

t.test('one database per test file: prepared once, emptied for each later test', async (t) => {
  let prepared = 0
  const prepare = async (database: { host: string, port: number, user: string, password?: string, database: string }): Promise<void> => {
    prepared++
    const client = new pg.Client(database)
    await client.connect()
    await client.query('create table notes (id serial primary key, text text not null); create table vault_migrations (name text)')
    await client.query("insert into vault_migrations values ('kept')")
    await client.end()
  }
  const query = async (database: Parameters<typeof prepare>[0], text: string): Promise<unknown[]> => {
    const client = new pg.Client(database)
    await client.connect()
    try {
      return (await client.query<Record<string, unknown>>(text)).rows
    } finally {
      await client.end()
    }
  }
  const first = await fileTestDatabase(prepare)
  await query(first, "insert into notes (text) values ('a'), ('b')")
  const second = await fileTestDatabase(prepare)
  t.equal(second.database, first.database, 'the same database')
  t.equal(prepared, 1, 'prepared once')
  t.same(await query(second, 'select count(*)::int as n from notes'), [{ n: 0 }], 'its tables emptied')
  t.same(await query(second, "insert into notes (text) values ('c') returning id"), [{ id: 1 }], 'identities restarted')
  t.same(await query(second, 'select name from vault_migrations'), [{ name: 'kept' }], 'the migration bookkeeping kept')
})
