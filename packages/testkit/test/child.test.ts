import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { start, waitWhileRunning } from '../src/child.js'

t.test('waiting on a child fails as soon as it exits, with its exit code and last lines', async (t) => {
  const script = join(t.testdir(), 'dies.mjs')
  writeFileSync(script, "console.log('starting'); console.error('config error: PORT is not a port'); process.exit(3)\n")
  const child = start(script, { PATH: process.env.PATH })
  // The exit, not the 10-minute limit, ends the wait: the error names it (a timeout says "timed out").
  await t.rejects(waitWhileRunning(child, 'the page is served', () => false, 600_000, 20), /the page is served: the process exited \(3\) first; it printed: .*config error: PORT is not a port/)
})

t.test('it resolves with the condition while the child runs', async (t) => {
  const script = join(t.testdir(), 'lives.mjs')
  writeFileSync(script, "console.log('ready'); setTimeout(() => {}, 10_000)\n")
  const child = start(script, { PATH: process.env.PATH })
  t.teardown(() => { child.process.kill('SIGKILL') })
  t.equal(await waitWhileRunning(child, 'ready', () => child.output().includes('ready') && 'yes', 10_000, 20), 'yes')
})
