/**
 * A private database per target on the machine's PostgreSQL (ec_bench_<random>),
 * so the bench can count the rows a run leaves behind and drop everything after.
 */
import { createDatabase, createPool, migrateToLatest } from '@ephemeral-chat/vault'
import { randomBytes } from 'node:crypto'

export interface PgServer {
  host: string
  port: number
  user: string
  password: string | undefined
}

export function pgServer (env: NodeJS.ProcessEnv = process.env): PgServer {
  return {
    host: env.PGHOST ?? '127.0.0.1',
    port: Number(env.PGPORT ?? 5432),
    user: env.PGUSER ?? 'postgres',
    password: env.PGPASSWORD
  }
}

/** libpq-style variables for a child process (the product, migrate, psql, pgbench). */
export function pgEnv (server: PgServer, database: string): NodeJS.ProcessEnv {
  return {
    PGHOST: server.host,
    PGPORT: String(server.port),
    PGUSER: server.user,
    PGDATABASE: database,
    ...(server.password === undefined ? {} : { PGPASSWORD: server.password })
  }
}

type Pool = ReturnType<typeof createPool>

function pool (server: PgServer, database: string): Pool {
  return createPool({ host: server.host, port: server.port, user: server.user, password: server.password, database, maxConnections: 1 })
}

async function admin (server: PgServer, statement: string): Promise<void> {
  const connection = pool(server, 'postgres')
  try {
    await connection.query(statement)
  } finally {
    await connection.end()
  }
}

export class PrivateDatabase {
  readonly server: PgServer
  readonly name = `ec_bench_${randomBytes(6).toString('hex')}`
  #pool: Pool | undefined

  constructor (server: PgServer) {
    this.server = server
  }

  /** Creates it empty; with `migrate`, also brings it to the vault's schema (as the vault's own migrate does). */
  async create (migrate: boolean): Promise<void> {
    await admin(this.server, `create database ${this.name}`)
    if (!migrate) return
    const db = createDatabase(pool(this.server, this.name))
    try {
      const result = await migrateToLatest(db)
      if (result.error !== undefined) throw new Error(`migrating ${this.name} failed: ${result.error instanceof Error ? result.error.message : 'unknown error'}`)
    } finally {
      await db.destroy()
    }
  }

  /** Rows of a table of the vault schema. */
  async count (table: 'messages' | 'message_recipients' | 'members'): Promise<number> {
    this.#pool ??= pool(this.server, this.name)
    const result = await this.#pool.query<{ n: string }>(`select count(*) as n from ${table}`)
    return Number(result.rows[0]?.n ?? Number.NaN)
  }

  /** Drops it, closing whatever still holds a connection to it (a product that was killed). */
  async drop (): Promise<void> {
    await this.#pool?.end()
    this.#pool = undefined
    await admin(this.server, `drop database if exists ${this.name} with (force)`)
  }
}
