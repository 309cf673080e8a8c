/**
 * The standalone data folder (git-ignored `.data/` at the repository root, or
 * DATA_DIR): the embedded database, the generated at-rest key and a lock file
 * so two processes never share it.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../../.data', import.meta.url))

export class StartError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'StartError'
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the data folder for this process; a second process gets a clear "in use" error. Returns the release function. */
export function lockDataDir (dir: string): () => void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const lockFile = join(dir, 'standalone.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => { try { unlinkSync(lockFile) } catch { /* already gone */ } }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = Number(readFileSync(lockFile, 'utf8'))
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new StartError(`the data folder ${dir} is in use by another running instance (pid ${holder}); stop it first, or set DATA_DIR to another folder`)
      }
      // A stale lock from a process that died without cleaning up.
      unlinkSync(lockFile)
    }
  }
  throw new StartError(`could not lock the data folder ${dir}`)
}

/** Reads a secret kept in the data folder, creating it (owner-only) on first use. Returns whether it was created. */
export function persistentSecret (dir: string, name: string, make: () => string): { value: string, created: boolean } {
  const file = join(dir, name)
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), created: false }
  const value = make()
  writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' })
  return { value, created: true }
}

export const randomHex = (bytes: number) => (): string => randomBytes(bytes).toString('hex')
