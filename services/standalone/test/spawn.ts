/** Runs a built entry point (a path from the repository root) as a child process, collecting its output. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const entry = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url))

export interface Child {
  process: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

/**
 * The environment of a newcomer's machine: no PG*, DATABASE_URL, NATS_URL or ENCRYPTION_KEY,
 * and plain node as deployed (none of the test runner's loaders, NODE_OPTIONS or coverage
 * collection, which slow a child down and would skew what the load tests measure).
 */
export function cleanEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PG|DATABASE_URL|NATS_|ENCRYPTION_KEY|NODE_OPTIONS$|NODE_V8_COVERAGE$|TAP|_TAPJS)/.test(key)) env[key] = value
  }
  return { ...env, ...extra }
}

export function start (script: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code) }))
  return { process: child, output: () => output, exited }
}

export { freePort } from '@ephemeral-chat/testkit'
