import { createHash } from 'node:crypto'
import t from 'tap'
import { memberIdFromSecret, newMemberSecret, newMessageId } from '../src/index.js'

void t.test('a member secret is 32 random bytes in base64url', (t) => {
  const secrets = new Set(Array.from({ length: 100 }, newMemberSecret))
  t.equal(secrets.size, 100)
  for (const secret of secrets) {
    t.match(secret, /^[A-Za-z0-9_-]{43}$/)
    t.equal(Buffer.from(secret, 'base64url').length, 32)
  }
  t.end()
})

void t.test('the member id is the first 16 bytes of SHA-256 over the decoded secret', async (t) => {
  for (let i = 0; i < 20; i++) {
    const secret = newMemberSecret()
    const expected = createHash('sha256').update(Buffer.from(secret, 'base64url')).digest().subarray(0, 16)
    const id = await memberIdFromSecret(secret)
    t.equal(id, expected.toString('base64url'))
    t.match(id, /^[A-Za-z0-9_-]{22}$/)
  }
})

void t.test('fixed member id vector: 32 zero bytes', async (t) => {
  // SHA-256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
  t.equal(await memberIdFromSecret('A'.repeat(43)), Buffer.from('66687aadf862bd776c8fc18b8e9f8e20', 'hex').toString('base64url'))
})

void t.test('the same secret always gives the same id; different secrets differ', async (t) => {
  const secret = newMemberSecret()
  t.equal(await memberIdFromSecret(secret), await memberIdFromSecret(secret))
  t.not(await memberIdFromSecret(secret), await memberIdFromSecret(newMemberSecret()))
})

void t.test('a secret that is not strict base64url of 32 bytes is refused', async (t) => {
  const secret = newMemberSecret()
  await t.rejects(memberIdFromSecret(secret.slice(0, 42)), TypeError)
  await t.rejects(memberIdFromSecret(secret + 'AA'), TypeError)
  await t.rejects(memberIdFromSecret(secret + '='), TypeError)
  await t.rejects(memberIdFromSecret(''), TypeError)
  await t.rejects(memberIdFromSecret(secret.slice(0, 42) + '+'), TypeError)
})

void t.test('a message id is 16 random bytes in base64url', (t) => {
  const ids = new Set(Array.from({ length: 1000 }, newMessageId))
  t.equal(ids.size, 1000)
  for (const id of ids) t.equal(Buffer.from(id, 'base64url').length, 16)
  t.match([...ids][0], /^[A-Za-z0-9_-]{22}$/)
  t.end()
})
