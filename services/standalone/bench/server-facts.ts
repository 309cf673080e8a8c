/** What the reader needs to compare runs: the code measured, the PostgreSQL build and its durability settings, whether NATS answers. */
import { createPool } from '@ephemeral-chat/vault'
import { execFileSync } from 'node:child_process'
import { createConnection } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { PgServer } from './database.js'
import { errorText } from './util.js'

async function reachable (host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port })
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(1000, () => { done(false) })
    socket.once('connect', () => { done(true) })
    socket.once('error', () => { done(false) })
  })
}

export async function serverFacts (server: PgServer, natsUrl: string): Promise<string> {
  let postgres: string
  const pool = createPool({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'postgres', maxConnections: 1 })
  try {
    const { rows } = await pool.query<{ name: string, setting: string }>(
      "select name, setting from pg_settings where name in ('server_version', 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections') order by name")
    const setting = (name: string): string => rows.find((row) => row.name === name)?.setting ?? '?'
    postgres = `PostgreSQL ${setting('server_version')} at ${server.host}:${server.port} (fsync ${setting('fsync')}, synchronous_commit ${setting('synchronous_commit')}, shared_buffers ${setting('shared_buffers')} × 8 KiB, max_connections ${setting('max_connections')})`
  } catch (error) {
    throw new Error(`PostgreSQL at ${server.host}:${server.port} does not answer: ${errorText(error)}`)
  } finally {
    await pool.end()
  }
  const url = new URL(natsUrl)
  const nats = await reachable(url.hostname, Number(url.port === '' ? 4222 : url.port))
  return `${postgres}; NATS ${natsUrl} ${nats ? 'answers' : 'DOES NOT ANSWER (split will fail)'}`
}

/** The commit the measured build comes from, and whether tracked files differ from it. */
export function codeVersion (): string {
  const root = fileURLToPath(new URL('../../../../', import.meta.url))
  try {
    const git = (...args: string[]): string => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const commit = git('log', '-1', '--format=%h %s')
    const modified = git('status', '--porcelain', '--untracked-files=no') !== ''
    return `${commit.length > 90 ? `${commit.slice(0, 89)}…` : commit}${modified ? ' (with uncommitted changes)' : ''}`
  } catch {
    return 'unknown (no git)'
  }
}
