import t from 'tap'
import { limitedWarner } from '../src/log-limit.js'

t.test('a repeated warning is written a few times a minute, then counted; other kinds are not held back', async (t) => {
  const lines: Array<{ obj: object, msg: string }> = []
  const clock = { now: 0 }
  const warn = limitedWarner({ warn: (obj, msg) => { lines.push({ obj, msg }) } }, 3, () => clock.now)
  for (let i = 0; i < 1000; i++) warn.warn({ operation: 'message.store', error: 'Error' }, 'vault operation failed')
  t.equal(lines.length, 3, 'a thousand failures, three lines')
  warn.warn({ error: 'Error' }, 'sweep failed')
  t.equal(lines.length, 4, 'another kind of line is written')
  clock.now = 60_000
  warn.warn({ operation: 'message.store', error: 'Error' }, 'vault operation failed')
  t.same(lines.at(-1), { obj: { operation: 'message.store', error: 'Error', suppressed: 997 }, msg: 'vault operation failed' }, 'a minute later it says how many were held back')
})
