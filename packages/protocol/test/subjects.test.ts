import t from 'tap'
import { roomEventsSubject, roomHashOfSubject, SubjectTokenError, VAULT_OPERATIONS, VAULT_SUBJECTS } from '../src/index.js'

const hash = '0123456789abcdef'.repeat(4)

t.test('room events subject is built from a valid hash', async (t) => {
  t.equal(roomEventsSubject(hash), `room.${hash}.events`)
  t.equal(roomHashOfSubject(`room.${hash}.events`), hash)
})

t.test('tokens that could widen or break a subject are refused', async (t) => {
  const bad = ['*', '>', `${hash.slice(0, 63)}.`, `${hash.slice(0, 63)}*`, `${hash.slice(0, 63)}>`, `${hash.slice(0, 63)} `, hash.toUpperCase(), hash + '0', '', `a.${hash}`, '\n' + hash.slice(1)]
  for (const token of bad) {
    t.throws(() => roomEventsSubject(token), SubjectTokenError, JSON.stringify(token))
  }
  const secretish = 'zzzz-not-a-hash'
  try {
    roomEventsSubject(secretish)
    t.fail('should have thrown')
  } catch (error) {
    t.notMatch((error as Error).message, secretish, 'the message does not echo the token')
  }
})

t.test('only well-formed event subjects parse', async (t) => {
  t.equal(roomHashOfSubject('room.*.events'), undefined)
  t.equal(roomHashOfSubject(`room.${hash}.events.x`), undefined)
  t.equal(roomHashOfSubject(`vault.v1.room.join`), undefined)
})

t.test('vault subjects follow <domain>.v1.<entity>.<verb>', async (t) => {
  for (const subject of Object.values(VAULT_SUBJECTS)) t.match(subject, /^vault\.v1\.[a-z]+\.[a-z]+$/)
})

t.test('the operations table covers every vault subject once, with unique verbs', async (t) => {
  const operations = Object.entries(VAULT_OPERATIONS)
  t.same(operations.map(([, op]) => op.subject).sort(), Object.values(VAULT_SUBJECTS).sort(), 'each subject, once')
  for (const [name, op] of operations) t.ok(op.subject.endsWith(`.${name}`), `${name} is served on ${op.subject}`)
  const verbs = operations.map(([name]) => name.slice(name.indexOf('.') + 1))
  t.equal(new Set(verbs).size, verbs.length, `verbs (the clients' method names) are unique: ${verbs.join(', ')}`)
})
