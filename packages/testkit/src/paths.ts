import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The folder of the package a module belongs to (the nearest one up with a package.json),
 * whether the module runs as its TypeScript source (test/x.ts) or compiled (dist/test/x.js,
 * as `npm test` runs it): test data and build outputs are found from there.
 */
export function packageRoot (moduleUrl: string): string {
  for (let dir = dirname(fileURLToPath(moduleUrl)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
    if (dirname(dir) === dir) throw new Error(`no package.json above ${fileURLToPath(moduleUrl)}`)
  }
}
