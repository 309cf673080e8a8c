/**
 * A private PostgreSQL database for one test file: created empty on the server
 * the environment points at (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 as
 * `postgres`), dropped at the end.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

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

export async function createTestDatabase (server: ServerParams = serverParams()): Promise<TestDatabase> {
  const database = `ec_test_${randomBytes(6).toString('hex')}`
  await admin(server, async (client) => { await client.query(`create database ${database}`) })
  return {
    ...server,
    database,
    async drop () {
      await admin(server, async (client) => { await client.query(`drop database if exists ${database} with (force)`) })
    }
  }
}
