import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { REPO_DIR } from './helpers.js'

/**
 * What each image runs, built as the image build builds it (infra/docker/runtime-tree.sh, run by
 * app.Dockerfile) from a copy of this checkout's sources and build output: the service's
 * production dependencies only, the workspaces it depends on (compiled), nothing else. Each
 * entry point is then started from the tree alone with a bad setting: it must get as far as
 * reading its configuration, which proves every module it imports resolves inside the tree
 * (an import of a package the service does not declare fails here, as it would in the image).
 */
const built = ['services/gateway/dist/src/server.js', 'services/vault/dist/src/server.js', 'web/dist/index.html'].every((path) => existsSync(join(REPO_DIR, path)))
const skip = built ? false : 'build first (npm run build)'
// Two production installs (a few seconds each alone) beside the rest of the suite.
t.setTimeout(300_000)

/** What the image build has when it makes the trees: the manifests, the lockfile, the build output and the script. */
function copyOfCheckout (): string {
  const dir = mkdtempSync(join(tmpdir(), 'ec-tree-'))
  const root = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { workspaces: string[] }
  const paths = ['package.json', 'package-lock.json', 'infra/docker/runtime-tree.sh', 'web/dist']
  for (const workspace of root.workspaces) paths.push(`${workspace}/package.json`, `${workspace}/dist/src`)
  for (const path of paths) if (existsSync(join(REPO_DIR, path))) cpSync(join(REPO_DIR, path), join(dir, path), { recursive: true })
  return dir
}

/** Every path under `dir`, relative to it, not following links. */
function listing (dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).map((entry) => relative(dir, join(entry.parentPath, entry.name)))
}

function startFromTree (tree: string, entry: string, env: NodeJS.ProcessEnv): { status: number | null, output: string } {
  const child = spawnSync(process.execPath, [join(tree, entry)], { cwd: tree, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 })
  return { status: child.status, output: `${child.stdout}${child.stderr}` }
}

const trees: Array<{ service: string, extras: string[], present: string[], absent: string[], entries: Array<{ entry: string, env: NodeJS.ProcessEnv, expected: RegExp }> }> = [
  {
    service: 'services/gateway',
    extras: ['web/dist'],
    present: ['services/gateway/dist/src/server.js', 'packages/protocol/dist/src/index.js', 'packages/bus/dist/src/index.js', 'packages/service-kit/dist/src/index.js', 'node_modules/fastify/package.json', 'node_modules/@fastify/websocket/package.json', 'web/dist/index.html'],
    absent: ['services/vault', 'node_modules/@ephemeral-chat/vault', 'node_modules/pg', 'node_modules/kysely'],
    entries: [{ entry: 'services/gateway/dist/src/server.js', env: { PORT: 'not-a-port' }, expected: /gateway: configuration error: PORT/ }]
  },
  {
    service: 'services/vault',
    extras: [],
    present: ['services/vault/dist/src/server.js', 'services/vault/dist/src/migrate.js', 'packages/protocol/dist/src/index.js', 'node_modules/pg/package.json', 'node_modules/kysely/package.json'],
    absent: ['services/gateway', 'web', 'node_modules/@ephemeral-chat/gateway', 'node_modules/@fastify/websocket', 'node_modules/ws'],
    entries: [
      { entry: 'services/vault/dist/src/server.js', env: {}, expected: /vault: configuration error: ENCRYPTION_KEY is required/ },
      { entry: 'services/vault/dist/src/migrate.js', env: { PGPORT: 'not-a-port' }, expected: /migrate: configuration error: PGPORT/ }
    ]
  }
]

for (const { service, extras, present, absent, entries } of trees) {
  t.test(`${service}: the image's runtime tree holds its production closure only, and its entry points start from it`, { skip, timeout: 180_000 }, async (t) => {
    const checkout = copyOfCheckout()
    t.teardown(() => { rmSync(checkout, { recursive: true, force: true }) })
    const tree = join(checkout, 'tree')
    // prefer-offline: the packages are in npm's cache after this checkout's own install.
    execFileSync('sh', ['infra/docker/runtime-tree.sh', service, tree, ...extras], { cwd: checkout, stdio: 'pipe', env: { ...process.env, npm_config_prefer_offline: 'true' } })
    for (const path of present) t.ok(existsSync(join(tree, path)), `${path} is in the tree`)
    for (const path of absent) t.notOk(existsSync(join(tree, path)), `${path} is not`)
    const files = listing(tree)
    for (const [what, pattern] of [
      ['dev tools', /^node_modules\/(tap|typescript|eslint|tsx|esbuild|playwright-core)(\/|$)/],
      ['test-only workspaces', /^(packages\/(testkit|e2e|client|embedded-db)|infra)(\/|$)/],
      ['TypeScript sources', /^(services|packages)\/[^/]+\/(src|test)\//],
      ['compiled tests', /^(services|packages)\/[^/]+\/dist\/test(\/|$)/]
    ] as const) {
      t.same(files.filter((file) => pattern.test(file)).slice(0, 5), [], `no ${what}`)
    }
    for (const { entry, env, expected } of entries) {
      const { status, output } = startFromTree(tree, entry, env)
      t.notMatch(output, /ERR_MODULE_NOT_FOUND|Cannot find (module|package)/, `${entry}: every import resolves in the tree`)
      t.match(output, expected, `${entry}: started and read its configuration`)
      t.not(status, 0, `${entry}: the bad setting stops it`)
    }
  })
}
