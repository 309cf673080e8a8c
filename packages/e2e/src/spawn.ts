/** Built entry points (paths from the repository root) run as child processes, in a newcomer's environment. */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root: the nearest folder above this file whose package.json lists workspaces (from src/ and from dist/src/ alike). */
export const repoRoot = ((): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown }).workspaces !== undefined) return dir
  }
  throw new Error('no repository root above the e2e package')
})()

export const entry = (path: string): string => join(repoRoot, path)

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

export { freePort, lastLines, start, waitWhileRunning, type Child } from '@ephemeral-chat/testkit'
