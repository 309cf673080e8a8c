import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { removeStaleTests } from '../src/stale-tests.js'

t.test('a compiled test whose source is gone is removed with its map and declaration; the rest stay', async (t) => {
  const repo = t.testdir({ packages: {}, services: {}, infra: {} })
  const files: Record<string, string> = {
    'packages/a/test/kept.test.ts': '', 'packages/a/dist/test/kept.test.js': '', 'packages/a/dist/test/kept.test.js.map': '',
    'packages/a/test/web/page.browser.ts': '', 'packages/a/dist/test/web/page.browser.js': '',
    'packages/a/dist/test/gone.test.js': '', 'packages/a/dist/test/gone.test.js.map': '', 'packages/a/dist/test/gone.test.d.ts': '', 'packages/a/dist/test/gone.test.d.ts.map': '',
    'services/b/dist/test/web/old.browser.js': '',
    'infra/dist/test/gone.test.js': '',
    'packages/a/dist/src/index.js': ''
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(repo, path, '..'), { recursive: true })
    writeFileSync(join(repo, path), text)
  }
  t.same(removeStaleTests(repo).sort(), ['infra/dist/test/gone.test.js', 'packages/a/dist/test/gone.test.js', 'services/b/dist/test/web/old.browser.js'])
  for (const path of ['gone.test.js', 'gone.test.js.map', 'gone.test.d.ts', 'gone.test.d.ts.map']) t.notOk(existsSync(join(repo, 'packages/a/dist/test', path)), `${path} is removed`)
  for (const path of ['packages/a/dist/test/kept.test.js', 'packages/a/dist/test/kept.test.js.map', 'packages/a/dist/test/web/page.browser.js', 'packages/a/dist/src/index.js']) t.ok(existsSync(join(repo, path)), `${path} stays`)
  t.same(removeStaleTests(repo), [], 'a second pass finds nothing')
})
