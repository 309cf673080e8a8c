import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Builds the runtime tree of one service inside the image build, after
 * `npm ci --omit=dev --workspace services/<name>`:
 *
 *   node infra/dist/src/bundle.js OUT services/<name> [EXTRA_PATH...]
 *
 * npm's --workspace filter also installs what the service's devDependencies
 * pull in when those are other workspaces (the gateway's tests use the vault),
 * so the tree is taken from package.json instead: the service, then every
 * package reachable through "dependencies" (and optional or peer dependencies
 * that are installed), resolved the way Node resolves them. Packages are
 * copied whole (without their nested node_modules, whose members are copied
 * when reachable); workspace packages contribute package.json and dist/src
 * only, and are linked under node_modules as npm links them.
 */
interface PackageJson {
  name?: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}

export interface Bundle {
  /** Installed packages (directories relative to the root, under node_modules). */
  packages: string[]
  /** Workspace directories relative to the root, the service itself first. */
  workspaces: string[]
  /** node_modules paths that are links to workspaces, with the workspace they point to. */
  links: { path: string; workspace: string }[]
}

function readPackage(directory: string): PackageJson {
  return JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as PackageJson
}

/** Node's lookup: node_modules/<name> in the directory and each parent, up to the root. */
function locate(root: string, from: string, name: string): string | undefined {
  for (let directory = from; ; directory = dirname(directory)) {
    const candidate = join(directory, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    if (directory === root || dirname(directory) === directory) return undefined
  }
}

export function productionClosure(rootDirectory: string, workspace: string): Bundle {
  const root = realpathSync(rootDirectory)
  const start = realpathSync(join(root, workspace))
  const packages = new Set<string>()
  const workspaces = [relative(root, start)]
  const links = new Map<string, string>()
  const queue: string[] = [start]
  const seen = new Set<string>([start])
  while (queue.length > 0) {
    const directory = queue.shift() as string
    const pkg = readPackage(directory)
    const wanted: [string, boolean][] = [
      ...Object.keys(pkg.dependencies ?? {}).map((name): [string, boolean] => [name, true]),
      ...Object.keys(pkg.optionalDependencies ?? {}).map((name): [string, boolean] => [name, false]),
      ...Object.keys(pkg.peerDependencies ?? {}).map((name): [string, boolean] => [name, false])
    ]
    for (const [name, required] of wanted) {
      const found = locate(root, directory, name)
      if (found === undefined) {
        if (required) throw new Error(`${relative(root, directory) || '.'}: dependency ${name} is not installed`)
        continue
      }
      const real = realpathSync(found)
      const isWorkspace = !relative(root, real).split(sep).includes('node_modules')
      if (isWorkspace) links.set(relative(root, found), relative(root, real))
      if (seen.has(real)) continue
      seen.add(real)
      if (isWorkspace) workspaces.push(relative(root, real))
      else packages.add(relative(root, real))
      queue.push(real)
    }
  }
  return {
    packages: [...packages].sort(),
    workspaces,
    links: [...links].map(([path, target]) => ({ path, workspace: target })).sort((a, b) => a.path.localeCompare(b.path))
  }
}

export function writeBundle(rootDirectory: string, workspace: string, out: string, extras: string[] = []): Bundle {
  const root = realpathSync(rootDirectory)
  const bundle = productionClosure(root, workspace)
  mkdirSync(out, { recursive: true })
  cpSync(join(root, 'package.json'), join(out, 'package.json'))
  for (const directory of bundle.packages) {
    cpSync(join(root, directory), join(out, directory), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (source) => !relative(join(root, directory), source).split(sep).includes('node_modules')
    })
  }
  for (const directory of bundle.workspaces) {
    const compiled = join(root, directory, 'dist', 'src')
    if (!existsSync(compiled)) throw new Error(`${directory}: no dist/src (run tsc -b first)`)
    mkdirSync(join(out, directory), { recursive: true })
    cpSync(join(root, directory, 'package.json'), join(out, directory, 'package.json'))
    cpSync(compiled, join(out, directory, 'dist', 'src'), { recursive: true })
  }
  for (const link of bundle.links) {
    const path = join(out, link.path)
    mkdirSync(dirname(path), { recursive: true })
    symlinkSync(relative(dirname(path), join(out, link.workspace)), path)
  }
  for (const extra of extras) {
    if (!existsSync(join(root, extra))) throw new Error(`${extra} does not exist`)
    cpSync(join(root, extra), join(out, extra), { recursive: true })
  }
  return bundle
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [out, workspace, ...extras] = process.argv.slice(2)
  if (out === undefined || workspace === undefined) {
    console.error('usage: node infra/dist/src/bundle.js OUT WORKSPACE_DIR [EXTRA_PATH...]')
    process.exit(2)
  }
  const bundle = writeBundle(process.cwd(), workspace, resolve(out), extras)
  console.log(`bundled ${workspace}: ${bundle.workspaces.length} workspaces, ${bundle.packages.length} packages`)
}
