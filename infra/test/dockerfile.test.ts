import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execForm, externalBase, imageRuleProblems, lineage, NODE_24_EXACT, parseCopy, parseDockerfile, type Stage } from '../src/dockerfile.js'
import balenaDockerignore from '@balena/dockerignore'
import { DOCKERFILE, KUBECTL_SKIP, podSpec, REPO_DIR, render } from './helpers.js'

// A CommonJS module whose types declare a default export: under NodeNext that is `.default` (which it also sets).
const dockerignore = balenaDockerignore.default
const text = readFileSync(DOCKERFILE, 'utf8')
const ignoreText = readFileSync(`${DOCKERFILE}.dockerignore`, 'utf8')
const rules = { targets: ['gateway', 'vault'], base: NODE_24_EXACT }
const stages = parseDockerfile(text)
const stage = (name: string): Stage => {
  const found = stages.find((candidate) => candidate.name === name)
  if (found === undefined) throw new Error(`no stage ${name}`)
  return found
}
const cmdOf = (name: string): string[] | undefined => execForm(lineage(stage(name)).filter((instruction) => instruction.keyword === 'CMD').at(-1)?.args ?? '')

t.test('the Dockerfile meets the image rules', async (t) => {
  t.same(imageRuleProblems(text, rules), [])
  t.match(externalBase(stage('gateway')), /^node:24\.\d+\.\d+-bookworm-slim/, 'gateway runs on Node 24 slim')
  t.equal(externalBase(stage('gateway')), externalBase(stage('vault')), 'one base for both images')
  const ci = /^NODE_VERSION=(\S+)$/m.exec(readFileSync(join(REPO_DIR, '.ci/run'), 'utf8'))?.[1]
  t.equal(/^node:([\d.]+)-/.exec(externalBase(stage('gateway')) ?? '')?.[1], ci, 'the images run the Node release CI tests on (.ci/run NODE_VERSION)')
})

t.test('each image rule is shown to fail', async (t) => {
  const broken: [string, string, RegExp][] = [
    ['an unpinned base', text.replace(/^FROM node:\S+ AS node$/m, 'FROM node:24-bookworm-slim AS node'), /not pinned/],
    ['a latest base', text.replace(/^FROM node:\S+ AS node$/m, 'FROM node:latest AS node'), /not pinned/],
    ['a Node 22 base', text.replace(/^FROM node:\S+ AS node$/m, 'FROM node:22.12.0-bookworm-slim AS node'), /not pinned to an exact Node 24/],
    ['a Node 20 base (end of life)', text.replace(/^FROM node:\S+ AS node$/m, 'FROM node:20.20.2-bookworm-slim AS node'), /not pinned to an exact Node 24/],
    ['no USER in the gateway', withoutGatewayUser(text), /gateway: no USER/],
    ['USER root', text.replaceAll('USER 10001:10001', 'USER 0'), /USER is root/],
    ['a user name instead of a uid', text.replaceAll('USER 10001:10001', 'USER app'), /not a numeric uid/],
    ['npm start', text.replace('CMD ["node", "services/vault/dist/src/server.js"]', 'CMD ["npm", "start"]'), /vault: CMD starts npm/],
    ['shell-form CMD', text.replace('CMD ["node", "services/gateway/dist/src/server.js"]', 'CMD node services/gateway/dist/src/server.js'), /gateway: CMD is not in exec form/],
    ['a single stage', 'FROM node:24.21.0-bookworm-slim\nRUN npm ci && npx tsc -b\nUSER 10001\nCMD ["node", "x.js"]\n', /not a multi-stage build/],
    ['dev dependencies at run time', text.replace('sh infra/docker/runtime-tree.sh services/gateway /tree web/dist', 'mkdir /tree && cp -a node_modules services web /tree/'), /gateway: copies from gateway-tree, whose node_modules include dev dependencies/],
    ['no TypeScript build', text.replace('npx tsc -b && ', ''), /npx tsc -b/],
    ['a missing target', text.replace(/AS vault$/m, 'AS worker'), /no stage named vault/]
  ]
  for (const [what, variant, expected] of broken) {
    const problems = imageRuleProblems(variant, rules)
    t.ok(problems.some((problem) => expected.test(problem)), `${what}: ${problems.join('; ') || 'no problem reported'}`)
  }
})

/** The Dockerfile with the USER line of the gateway stage removed. */
function withoutGatewayUser (dockerfile: string): string {
  const start = dockerfile.indexOf('AS gateway')
  const user = dockerfile.indexOf('USER 10001:10001\n', start)
  return dockerfile.slice(0, user) + dockerfile.slice(user + 'USER 10001:10001\n'.length)
}

const runsOf = (name: string): string[] => stage(name).instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args)
const copiesOf = (name: string) => lineage(stage(name)).filter((instruction) => instruction.keyword === 'COPY').map((instruction) => parseCopy(instruction.args))

t.test('the build stage compiles; each image gets one production-only runtime tree', async (t) => {
  t.ok(runsOf('build').some((run) => /\bnpm ci\b/.test(run) && !run.includes('--omit=dev')), 'npm ci with dev dependencies')
  t.ok(runsOf('build').some((run) => /npx tsc -b/.test(run) && /npm run build -w web/.test(run)), 'tsc -b and the web bundle')
  t.ok(runsOf('gateway-tree').some((run) => /sh infra\/docker\/runtime-tree\.sh services\/gateway \/tree web\/dist$/.test(run)), 'gateway tree with web/dist')
  t.ok(runsOf('vault-tree').some((run) => /sh infra\/docker\/runtime-tree\.sh services\/vault \/tree$/.test(run)), 'vault tree without the web client')
  t.match(readFileSync(join(REPO_DIR, 'infra/docker/runtime-tree.sh'), 'utf8'), /npm ci --omit=dev --ignore-scripts .*--workspace "\$service"/, 'the tree script installs production dependencies only')
  t.same(copiesOf('gateway'), [{ from: 'gateway-tree', sources: ['/tree/'], destination: './' }])
  t.same(copiesOf('vault'), [{ from: 'vault-tree', sources: ['/tree/'], destination: './' }])
})

t.test('the commands match the entry points and the manifests', { skip: KUBECTL_SKIP }, async (t) => {
  const prod = render('overlays/prod')
  t.same(cmdOf('gateway'), ['node', 'services/gateway/dist/src/server.js'])
  t.same(cmdOf('vault'), ['node', 'services/vault/dist/src/server.js'])
  const migrate = podSpec(prod, 'Job', 'vault-migrate').containers[0].command as string[]
  t.same(migrate, ['node', 'services/vault/dist/src/migrate.js'], 'the migrate Job runs a script the vault tree ships (dist/src of the vault workspace)')
  const port = (name: string): string | undefined => lineage(stage(name)).filter((instruction) => instruction.keyword === 'EXPOSE').at(-1)?.args
  t.equal(port('gateway'), String(podSpec(prod, 'Deployment', 'gateway').containers[0].ports[0].containerPort))
  t.equal(port('vault'), String(podSpec(prod, 'Deployment', 'vault').containers[0].ports[0].containerPort))
  const user = lineage(stage('gateway')).filter((instruction) => instruction.keyword === 'USER').at(-1)?.args.split(':')[0]
  t.equal(user, String(podSpec(prod, 'Deployment', 'gateway').securityContext.runAsUser), 'the pod runs as the image user')
})

t.test('the per-Dockerfile ignore file lets in what the build reads and keeps the rest out', async (t) => {
  const patterns = dockerignore().add(ignoreText)
  const root = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { workspaces: string[] }
  const needed = [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.base.json',
    'infra/docker/runtime-tree.sh',
    'infra/src/index.ts',
    'infra/test/helpers.ts',
    'infra/tsconfig.json',
    ...root.workspaces.flatMap((workspace) => [`${workspace}/package.json`, `${workspace}/tsconfig.json`, `${workspace}/src/index.ts`])
  ]
  for (const path of needed) t.notOk(patterns.ignores(path), `${path} is in the build context`)
  for (const left of [
    'node_modules/yaml/index.js',
    'packages/protocol/node_modules/x/index.js',
    'packages/protocol/dist/src/index.js',
    'web/dist/index.html',
    '.git/HEAD',
    '.ci/run',
    '.env',
    'services/vault/.env.local',
    'infra/k8s/overlays/dev/secrets/vault-secrets.env',
    'infra/docker/app.Dockerfile',
    'infra/README.md',
    'infra/dist/src/index.js',
    'packages/protocol/dist/tsconfig.tsbuildinfo',
    '.tap/test-results/x.tap',
    '.data/pg/PG_VERSION'
  ]) {
    t.ok(patterns.ignores(left), `${left} stays out of the context`)
  }
})

t.test('the ignore-file matcher (@balena/dockerignore, a port of Docker\'s) reads the rules the allow-list relies on as BuildKit does', async (t) => {
  const patterns = dockerignore().add('*\n!keep/\nkeep/**/*.log\n!keep/important.log\n**/dist\n')
  t.ok(patterns.ignores('other/file'), '* leaves out what is not re-included')
  t.notOk(patterns.ignores('keep/a/b.txt'), '!dir/ re-includes everything under it')
  t.ok(patterns.ignores('keep/a/b.log'))
  t.ok(patterns.ignores('keep/c.log'), '**/ also matches no directory at all')
  t.notOk(patterns.ignores('keep/important.log'), 'the last matching rule decides')
  t.ok(patterns.ignores('keep/x/dist/y.js'), '**/dir leaves out that directory at any depth, with what is under it')
})
