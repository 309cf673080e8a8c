import { join } from 'node:path'
import { createTestDatabase, packageRoot, type ServerParams } from '@ephemeral-chat/testkit'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import pg from 'pg'
import t, { type Test } from 'tap'

const MIGRATE = join(packageRoot(import.meta.url), 'dist/src/migrate.js')
const skip = existsSync(MIGRATE) ? false : 'build first: npx tsc -b services/vault'
const TABLES = ['gateways', 'handshakes', 'members', 'message_tombstones', 'messages', 'presence', 'rooms', 'vault_migrations', 'vault_migrations_lock']

async function admin<T> (server: ServerParams, database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...server, database })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * The test's PostgreSQL server (the one testkit chose, kept up by a throwaway test
 * database) and a database name nobody uses on it yet; both are dropped when the test ends.
 */
async function freshDatabase (t: Test, suffix = ''): Promise<{ server: ServerParams, name: string }> {
  const holder = await createTestDatabase()
  const server: ServerParams = { host: holder.host, port: holder.port, user: holder.user, password: holder.password }
  const name = `ec_migrate_${randomBytes(6).toString('hex')}${suffix}`
  t.teardown(async () => {
    await admin(server, 'postgres', async (c) => { await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`) })
    await holder.drop()
  })
  const exists = await admin(server, 'postgres', async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount)
  if (exists !== 0) throw new Error('setup: the database exists already')
  return { server, name }
}

async function migrate (server: ServerParams, env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '',
    PGHOST: server.host, PGPORT: String(server.port), PGUSER: server.user,
    ...(server.password === undefined ? {} : { PGPASSWORD: server.password })
  }
  return new Promise((resolve) => {
    execFile(process.execPath, [MIGRATE], { env: { ...base, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr })
    })
  })
}

const tablesOf = async (server: ServerParams, database: string): Promise<string[]> => admin(server, database, async (c) =>
  (await c.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public' order by table_name")).rows.map((r) => r.table_name))

t.test('migrate creates a database that does not exist yet and brings it to the latest schema', { skip }, async (t) => {
  const { server, name } = await freshDatabase(t)
  const first = await migrate(server, { PGDATABASE: name })
  t.equal(first.code, 0, 'exit 0')
  t.match(first.stdout, /^migration 2026-11-25T00-00-initial: Success$/m, 'it reports the migration it ran')
  t.equal(first.stderr, '', 'nothing on stderr')
  t.same(await tablesOf(server, name), TABLES, 'every table exists')
})

t.test('migrate run a second time says the schema is up to date and changes nothing', { skip }, async (t) => {
  const { server, name } = await freshDatabase(t)
  t.equal((await migrate(server, { PGDATABASE: name })).code, 0, 'first run')
  const applied = async (): Promise<unknown[]> => admin(server, name, async (c) => (await c.query<{ name: string }>('select name from vault_migrations order by name')).rows)
  const before = await applied()
  const again = await migrate(server, { PGDATABASE: name })
  t.equal(again.code, 0, 'exit 0')
  t.equal(again.stdout, 'migrate: already up to date\n', 'it says the schema is up to date')
  t.same(await applied(), before, 'no migration was applied again')
  t.same(await tablesOf(server, name), TABLES, 'the tables are as they were')
})

t.test('migrate quotes a database name that needs it', { skip }, async (t) => {
  const { server, name } = await freshDatabase(t, '-Mixed Case')
  const result = await migrate(server, { PGDATABASE: name })
  t.equal(result.code, 0, 'exit 0')
  t.same(await tablesOf(server, name), TABLES, 'the database of exactly that name holds the schema')
})

t.test('migrate fails with exit 1 and a one-line message on bad configuration', { skip }, async (t) => {
  const result = await migrate({ host: '127.0.0.1', port: 5432, user: 'postgres' }, { PGPORT: 'five' })
  t.equal(result.code, 1, 'exit 1')
  t.match(result.stderr, /^migrate: configuration error: PGPORT /, 'names the variable')
  t.notMatch(result.stderr, /^\s+at /m, 'no stack trace')
})
