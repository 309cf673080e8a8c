/**
 * `npm test` runs the compiled tests (dist/test/**.js, built by `tsc -b` from test/**.ts:
 * no TypeScript loader in every test process). `tsc -b` never deletes what it compiled from a
 * file that was removed or renamed since, so before tap runs, this removes every compiled test
 * module whose source is gone (with its map and declaration) and names it: a deleted test must
 * not go on running from an old build.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'

const ROOTS = ['packages', 'services']

function packages (repo: string): string[] {
  const found = [join(repo, 'infra')]
  for (const root of ROOTS) {
    for (const entry of readdirSync(join(repo, root), { withFileTypes: true })) if (entry.isDirectory()) found.push(join(repo, root, entry.name))
  }
  return found
}

/** Removes compiled test modules without a source; returns their paths relative to `repo`. */
export function removeStaleTests (repo: string): string[] {
  const removed: string[] = []
  for (const dir of packages(repo)) {
    const compiled = join(dir, 'dist', 'test')
    if (!existsSync(compiled)) continue
    for (const name of readdirSync(compiled, { recursive: true, encoding: 'utf8' })) {
      if (!name.endsWith('.js')) continue
      const source = join(dir, 'test', name.replace(/\.js$/, '.ts'))
      if (existsSync(source)) continue
      const module = join(compiled, name)
      for (const path of [module, `${module}.map`, module.replace(/\.js$/, '.d.ts'), module.replace(/\.js$/, '.d.ts.map')]) rmSync(path, { force: true })
      removed.push(relative(repo, module))
    }
  }
  return removed
}
