import { errorMessage } from '@ephemeral-chat/protocol'
import { testServer } from '@ephemeral-chat/testkit'
import { execFile } from 'node:child_process'
import { createCipheriv, createHash, randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { capturingLogger, harness, KEY_1, newMemberId, newMessageId, newRoomHash, vaultApi, type Harness } from './helpers.js'

const run = promisify(execFile)

const INTERNAL = { v: 1, ok: false, code: 'internal', message: errorMessage('internal') }

/** A real client envelope (docs/architecture.md §3): padded JSON plaintext under AES-256-GCM with a key the vault never sees. */
function realEnvelope (text: string) {
  const plaintext = Buffer.from(JSON.stringify({ text, nick: 'x', sentAt: 1 }), 'utf8')
  const padded = Buffer.alloc(256)
  plaintext.copy(padded)
  padded[plaintext.length] = 0x80
  const key = randomBytes(32)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  // The AAD is the client's business: the vault cannot tell a real one from any other.
  cipher.setAAD(randomBytes(64))
  const ct = Buffer.concat([cipher.update(padded), cipher.final(), cipher.getAuthTag()])
  return { plaintext, iv, ct, wire: { iv: iv.toString('base64url'), ct: ct.toString('base64url') } }
}

/** Runs a PostgreSQL client tool against the test database and returns its raw stdout. */
async function dump (h: Harness, tool: 'psql' | 'pg_dump', args: string[]): Promise<Buffer> {
  const { host, port, user, password, database } = h.database
  const env = { ...process.env, ...(password === undefined ? {} : { PGPASSWORD: password }) }
  const { stdout } = await run(tool, ['-h', host, '-p', String(port), '-U', user, '-d', database, ...(tool === 'psql' ? ['-X'] : []), ...args],
    { encoding: 'buffer', env, maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

/** Every 16-byte window of `bytes` that occurs in `haystack`. */
function windowsFound (haystack: Buffer, bytes: Buffer, size = 16): number {
  let found = 0
  for (let i = 0; i + size <= bytes.length; i++) if (haystack.includes(bytes.subarray(i, i + size))) found++
  return found
}

async function roomOfTwo (h: Harness) {
  const api = vaultApi(h.bus)
  const room = newRoomHash()
  const [alice, bob] = [newMemberId(), newMemberId()]
  await api.join(room, alice)
  await api.join(room, bob)
  return { api, room, alice, bob }
}

t.test('a raw dump of the database holds neither the client envelope nor the plaintext', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, alice, bob } = await roomOfTwo(h)
  const envelopes = [realEnvelope('the quick brown fox jumps over the lazy dog'), realEnvelope('pack my box with five dozen liquor jugs')]
  for (const envelope of envelopes) t.match(await api.store(room, alice, newMessageId(), envelope.wire), { ok: true, recipients: [bob] })

  // With the machine's PostgreSQL the dumps come from its own client tools; an embedded server (a machine
  // without PostgreSQL) is newer than any psql here, so there the rows are dumped as text through SQL.
  const tools = !(await testServer()).embedded
  const asText = async (table: string): Promise<Buffer> => {
    const { rows } = await sql<{ row: string }>`select t::text as row from ${sql.table(table)} t`.execute(h.db)
    return Buffer.from(rows.map((r) => r.row).join('\n'), 'latin1')
  }
  const dumps: Record<string, Buffer> = tools
    ? {
      'COPY binary': await dump(h, 'psql', ['-c', 'COPY messages TO STDOUT (FORMAT binary)']),
      'COPY text': await dump(h, 'psql', ['-c', 'COPY messages TO STDOUT']),
      'pg_dump of every table': await dump(h, 'pg_dump', ['--data-only'])
    }
    : {
      'rows of every table as text': Buffer.concat(await Promise.all(['rooms', 'members', 'presence', 'gateways', 'messages'].map(asText)))
    }
  t.comment(`dumps: ${Object.keys(dumps).join(', ')}`)
  // The dumps are real: they hold the sealed column, so the searches below would find the envelope were it stored as is.
  const sealed = await h.db.selectFrom('messages').select('sealed').execute()
  t.equal(sealed.length, 2)
  for (const row of sealed) {
    for (const [name, bytes] of Object.entries(dumps)) {
      t.ok(bytes.includes(row.sealed) || bytes.toString('latin1').includes(row.sealed.toString('hex')), `${name} holds the sealed bytes`)
    }
  }

  for (const [name, bytes] of Object.entries(dumps)) {
    const text = bytes.toString('latin1')
    for (const [i, e] of envelopes.entries()) {
      const what = `${name}, message ${i + 1}:`
      t.notOk(bytes.includes(e.ct), `${what} no ciphertext bytes`)
      t.equal(windowsFound(bytes, e.ct), 0, `${what} not even a 16-byte window of them`)
      t.equal(windowsFound(bytes, e.iv, 12), 0, `${what} no client IV`)
      t.notOk(text.includes(e.wire.ct), `${what} no base64url ciphertext`)
      t.notOk(text.includes(e.ct.toString('hex').slice(0, 64)), `${what} no hex of the ciphertext`)
      t.notOk(bytes.includes(e.plaintext), `${what} no UTF-8 plaintext`)
      t.notOk(bytes.includes(Buffer.from('quick brown fox')) || bytes.includes(Buffer.from('liquor jugs')), `${what} not a word of it`)
      t.notOk(text.includes(e.plaintext.toString('hex').slice(0, 32)), `${what} no hex of the plaintext`)
    }
  }
})

t.test('every row records the active key id: the first 8 hex digits of SHA-256 of the key', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, alice, bob } = await roomOfTwo(h)
  await api.store(room, alice, newMessageId())
  await api.store(room, bob, newMessageId())
  const rows = await h.db.selectFrom('messages').select('key_id').execute()
  const expected = createHash('sha256').update(KEY_1).digest('hex').slice(0, 8)
  t.same(rows.map((row) => row.key_id), [expected, expected])
})

/** Stores one envelope for bob, lets `tamper` change the database behind the vault's back, and returns bob's fetch reply and the log. */
async function fetchAfter (t: Test, tamper: (h: Harness, ids: { id: string, other: string, room: string }) => Promise<void>) {
  const h = await harness(t)
  const log = capturingLogger('info')
  await h.startVault({ logger: log.logger })
  const { api, room, alice, bob } = await roomOfTwo(h)
  const [id, other] = [newMessageId(), newMessageId()]
  const envelope = realEnvelope('a secret')
  t.match(await api.store(room, alice, id, envelope.wire), { ok: true })
  t.match(await api.store(room, alice, other), { ok: true })
  await tamper(h, { id, other, room })
  const reply = await api.fetch(room, bob, id)
  const everything = [id, other, room, alice, bob, envelope.wire.iv, envelope.wire.ct]
  const leaks = log.lines.filter((line) => everything.some((value) => line.includes(value)) || line.includes('stack'))
  return { reply, logLines: log.lines, leaks }
}

t.test('a sealed row with one byte changed answers internal and discloses nothing', async (t) => {
  const { reply, logLines, leaks } = await fetchAfter(t, async (h, { id }) => {
    await sql`update messages set sealed = set_byte(sealed, 20, get_byte(sealed, 20) # 1) where id = ${id}`.execute(h.db)
  })
  t.same(reply, INTERNAL, 'the reply is the generic internal error')
  t.ok(logLines.length > 0, 'the failure is logged')
  t.same(leaks, [], 'the log holds no identifier, envelope or stack')
})

t.test('a sealed row moved to another message id answers internal', async (t) => {
  const { reply, leaks } = await fetchAfter(t, async (h, { id, other }) => {
    await sql`update messages set sealed = (select sealed from messages where id = ${other}) where id = ${id}`.execute(h.db)
  })
  t.same(reply, INTERNAL)
  t.same(leaks, [], 'the log holds no identifier, envelope or stack')
})

t.test('a message row moved to another room answers internal there', async (t) => {
  const h = await harness(t)
  await h.startVault()
  const { api, room, alice, bob } = await roomOfTwo(h)
  const otherRoom = newRoomHash()
  await api.join(otherRoom, bob)
  const id = newMessageId()
  await api.store(room, alice, id)
  await h.db.updateTable('messages').set({ room_hash: otherRoom }).where('id', '=', id).execute()
  t.same(await api.fetch(otherRoom, bob, id), INTERNAL, 'the room hash is bound into the seal')
})

t.test('a row claiming a key id the vault does not hold answers internal', async (t) => {
  const { reply } = await fetchAfter(t, async (h, { id }) => {
    await h.db.updateTable('messages').set({ key_id: '00000000' }).where('id', '=', id).execute()
  })
  t.same(reply, INTERNAL)
})

t.test('a truncated sealed row answers internal', async (t) => {
  const { reply } = await fetchAfter(t, async (h, { id }) => {
    await sql`update messages set sealed = substring(sealed from 1 for 20) where id = ${id}`.execute(h.db)
  })
  t.same(reply, INTERNAL)
})
