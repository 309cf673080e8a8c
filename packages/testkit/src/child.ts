/** A built entry point run as a child process, with its output kept, for tests of whole processes. */
import { spawn, type ChildProcess } from 'node:child_process'
import { waitFor } from './wait.js'

export interface Child {
  process: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

/** Runs `node script` with exactly `env`, collecting stdout and stderr together. */
export function start (script: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code) }))
  return { process: child, output: () => output, exited }
}

/** The last `count` lines `child` printed, on one line. */
export function lastLines (child: Child, count = 5): string {
  return child.output().trim().split('\n').slice(-count).join(' / ')
}

/**
 * `waitFor` on a child: fails as soon as the child exits (at the next poll), with its exit
 * code and last lines, instead of waiting out `timeoutMs` for a process that is gone.
 */
export async function waitWhileRunning<T> (child: Child, what: string, condition: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  let exit: { code: number | null } | undefined
  void child.exited.then((code) => { exit = { code } })
  return waitFor(what, async () => {
    if (exit !== undefined) throw new Error(`${what}: the process exited (${exit.code ?? 'signal'}) first; it printed: ${lastLines(child)}`)
    return condition()
  }, timeoutMs, intervalMs)
}
