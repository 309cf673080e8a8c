import t, { type Test } from 'tap'
import { existsSync, readlinkSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { productionClosure, writeBundle } from '../src/bundle.js'

const pkg = (body: object): string => JSON.stringify(body)

/** A miniature monorepo after `npm ci`: two workspaces linked, hoisted and nested packages. */
function fixture(t: Test): string {
  const dir = t.testdir({
    'package.json': pkg({ name: 'root', workspaces: ['packages/lib', 'services/api', 'services/other'] }),
    node_modules: {
      '@scope': {},
      fastify: { 'package.json': pkg({ name: 'fastify', dependencies: { avvio: '1' } }), 'index.js': '' },
      avvio: {
        'package.json': pkg({ name: 'avvio', dependencies: { fastq: '2' } }),
        node_modules: { fastq: { 'package.json': pkg({ name: 'fastq' }) }, stray: { 'package.json': pkg({ name: 'stray' }) } }
      },
      fastq: { 'package.json': pkg({ name: 'fastq', version: 'hoisted-other-version' }) },
      pg: { 'package.json': pkg({ name: 'pg' }) },
      tap: { 'package.json': pkg({ name: 'tap' }) }
    },
    packages: {
      lib: {
        'package.json': pkg({ name: '@scope/lib', dependencies: { fastify: '5' }, optionalDependencies: { 'not-installed': '1' } }),
        src: { 'index.ts': '' },
        dist: { src: { 'index.js': '' }, test: { 'lib.test.js': '' } }
      }
    },
    services: {
      api: {
        'package.json': pkg({ name: '@scope/api', dependencies: { '@scope/lib': '0.1.0' }, devDependencies: { '@scope/other': '0.1.0', tap: '21' } }),
        dist: { src: { 'server.js': '' } }
      },
      other: { 'package.json': pkg({ name: '@scope/other', dependencies: { pg: '8' } }), dist: { src: { 'index.js': '' } } }
    },
    web: { dist: { 'index.html': '' } }
  })
  symlinkSync('../../packages/lib', join(dir, 'node_modules/@scope/lib'))
  symlinkSync('../../services/api', join(dir, 'node_modules/@scope/api'))
  symlinkSync('../../services/other', join(dir, 'node_modules/@scope/other'))
  return dir
}

t.test('the closure follows dependencies only, through workspaces, resolving as Node does', async (t) => {
  const bundle = productionClosure(fixture(t), 'services/api')
  t.same(bundle.workspaces, ['services/api', 'packages/lib'])
  t.same(bundle.packages, ['node_modules/avvio', 'node_modules/avvio/node_modules/fastq', 'node_modules/fastify'], 'the nested fastq is the one avvio resolves; no pg, no tap')
  t.same(bundle.links, [{ path: 'node_modules/@scope/lib', workspace: 'packages/lib' }])
})

t.test('the bundle holds the closure, compiled sources only, and the extras', async (t) => {
  const dir = fixture(t)
  const out = join(dir, 'out')
  writeBundle(dir, 'services/api', out, ['web/dist'])
  for (const kept of [
    'package.json',
    'services/api/package.json',
    'services/api/dist/src/server.js',
    'packages/lib/package.json',
    'packages/lib/dist/src/index.js',
    'node_modules/fastify/index.js',
    'node_modules/avvio/node_modules/fastq/package.json',
    'node_modules/@scope/lib/dist/src/index.js',
    'web/dist/index.html'
  ]) {
    t.ok(existsSync(join(out, kept)), `${kept} kept`)
  }
  for (const left of ['packages/lib/src', 'packages/lib/dist/test', 'services/other', 'node_modules/pg', 'node_modules/tap', 'node_modules/fastq', 'node_modules/avvio/node_modules/stray']) {
    t.notOk(existsSync(join(out, left)), `${left} left out`)
  }
  t.equal(readlinkSync(join(out, 'node_modules/@scope/lib')), '../../packages/lib', 'workspace linked relatively, as npm does')
})

t.test('a missing required dependency or build output stops the bundle', async (t) => {
  const dir = t.testdir({
    'package.json': pkg({ name: 'root' }),
    services: { api: { 'package.json': pkg({ name: 'api', dependencies: { absent: '1' } }), dist: { src: {} } } },
    lib: { 'package.json': pkg({ name: 'lib' }) }
  })
  t.throws(() => productionClosure(dir, 'services/api'), /dependency absent is not installed/)
  t.throws(() => writeBundle(dir, 'lib', join(dir, 'out')), /no dist\/src/)
})
