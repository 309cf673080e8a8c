/**
 * A private PostgreSQL database for one test file: created empty on the server
 * the environment points at (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 as
 * `postgres`), dropped at the end. Without that server (and CI unset) the
 * databases live in an embedded PostgreSQL started for this process.
 */
import { startEmbeddedPostgres } from '@ephemeral-chat/embedded-db'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
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
  const instance = await startEmbeddedPostgres({ databaseDir: join(dir, 'data'), password: 'test' })
  return {
    server: { host: instance.host, port: instance.port, user: instance.user, password: instance.password },
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
    if (strict()) {
      // CI has the real server: a probe lost on a loaded machine (a full accept queue) is asked again before failing.
      for (let attempt = 0; attempt < 4; attempt++) if (await reachable(server.host, server.port, 2000)) return { server, embedded: false }
      throw new MissingServerError('PostgreSQL', `${server.host}:${server.port}`)
    }
    embedded ??= startEmbedded()
    return { server: (await embedded).server, embedded: true }
  })()
  // A failure is not remembered: the next test of the process asks again.
  chosen.catch(() => { chosen = undefined })
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
