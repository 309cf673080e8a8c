import { packageRoot } from '@ephemeral-chat/testkit'
import { join } from 'node:path'
import { ConfigError } from '@ephemeral-chat/service-kit'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import t from 'tap'
import { DEFAULT_BATCH, DEFAULT_DATABASE, DEFAULT_ROOM_SHARE, loadVaultConfig } from '../src/config.js'

const KEY_HEX = 'a1'.repeat(32)
const OTHER_KEY_HEX = 'b2'.repeat(32)
const SERVER = join(packageRoot(import.meta.url), 'dist/src/server.js')

/** The ConfigError `load` throws (fails the test when it throws nothing or something else). */
function configError (load: () => unknown): ConfigError {
  try {
    load()
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError, got a config')
}

t.test('a missing ENCRYPTION_KEY is a ConfigError naming it', async (t) => {
  for (const env of [{}, { ENCRYPTION_KEY: '' }, { ENCRYPTION_KEY: '   ' }]) {
    const error = configError(() => loadVaultConfig(env))
    t.equal(error.variable, 'ENCRYPTION_KEY')
    t.match(error.message, /^ENCRYPTION_KEY /, 'the message starts with the variable name')
  }
})

t.test('a malformed ENCRYPTION_KEY is a ConfigError naming it that does not echo the value', async (t) => {
  const bad = {
    '63 hex characters': 'c'.repeat(63),
    '65 hex characters': 'c'.repeat(65),
    '64 characters, not all hex': `${'d'.repeat(60)}zzzz`,
    'base64 of 32 bytes': Buffer.alloc(32, 7).toString('base64')
  }
  for (const [what, value] of Object.entries(bad)) {
    const error = configError(() => loadVaultConfig({ ENCRYPTION_KEY: value }))
    t.equal(error.variable, 'ENCRYPTION_KEY', `${what}: names ENCRYPTION_KEY`)
    t.notOk(error.message.includes(value.slice(0, 16)), `${what}: does not echo the value`)
  }
})

t.test('a valid ENCRYPTION_KEY becomes its 32 bytes', async (t) => {
  const config = loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX })
  t.same(config.encryptionKey, Buffer.from(KEY_HEX, 'hex'))
  t.same(loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX.toUpperCase() }).encryptionKey, Buffer.from(KEY_HEX, 'hex'), 'upper-case hex is accepted')
})

t.test('ENCRYPTION_KEYS_RETIRED is a comma-separated list of keys', async (t) => {
  t.same(loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX }).retiredKeys, [], 'none by default')
  const config = loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, ENCRYPTION_KEYS_RETIRED: ` ${OTHER_KEY_HEX} ,${'c3'.repeat(32)},` })
  t.same(config.retiredKeys, [Buffer.from(OTHER_KEY_HEX, 'hex'), Buffer.from('c3'.repeat(32), 'hex')], 'spaces and empty items are ignored')
  const secret = 'e'.repeat(63)
  const error = configError(() => loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, ENCRYPTION_KEYS_RETIRED: `${OTHER_KEY_HEX},${secret}` }))
  t.equal(error.variable, 'ENCRYPTION_KEYS_RETIRED', 'a bad entry names the list')
  t.notOk(error.message.includes(secret.slice(0, 16)) || error.message.includes(OTHER_KEY_HEX.slice(0, 16)), 'without echoing any key')
})

t.test('MESSAGE_TTL takes a duration and defaults to 24 hours', async (t) => {
  const ttl = (value?: string): number => loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, MESSAGE_TTL: value }).messageTtlMs
  t.equal(ttl(), 86_400_000, 'default')
  t.equal(ttl('24h'), 86_400_000)
  t.equal(ttl('90m'), 5_400_000)
  t.equal(ttl('1d'), 86_400_000)
  t.equal(ttl('30s'), 30_000)
  t.equal(ttl('1500'), 1500, 'a bare number is milliseconds')
  for (const bad of ['bad', '24 hours', '-1h', '0s', '31d', '1h30m']) {
    const error = configError(() => ttl(bad))
    t.equal(error.variable, 'MESSAGE_TTL', `${JSON.stringify(bad)} is refused naming MESSAGE_TTL`)
  }
})

t.test('database settings default to the ephemeral_chat database and read PG* variables', async (t) => {
  const defaults = loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX })
  t.equal(DEFAULT_DATABASE, 'ephemeral_chat')
  t.match(defaults.database, { database: 'ephemeral_chat', port: 5432, maxConnections: 10 })
  const set = loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, PGDATABASE: 'chat', PGHOST: 'db.internal', PGPORT: '6432', PGUSER: 'vault', PG_POOL_MAX: '3' })
  t.match(set.database, { database: 'chat', host: 'db.internal', port: 6432, user: 'vault', maxConnections: 3 })
  t.equal(configError(() => loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, PGPORT: 'five' })).variable, 'PGPORT')
})

t.test('the other settings have their documented defaults and the config is frozen', async (t) => {
  const config = loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX })
  t.match(config, { host: '0.0.0.0', port: 3001, natsUrl: 'nats://127.0.0.1:4222', sweepIntervalMs: 30_000, logLevel: 'warn' })
  t.ok(Object.isFrozen(config), 'the config object is frozen')
  t.ok(Object.isFrozen(config.database) && Object.isFrozen(config.retiredKeys), 'and so are its parts')
  t.equal(configError(() => loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, LOG_LEVEL: 'loud' })).variable, 'LOG_LEVEL')
  t.equal(configError(() => loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, SWEEP_INTERVAL: '1ms' })).variable, 'SWEEP_INTERVAL')
})

/** Runs the built vault entry point with `env` (and nothing of ours that could configure it) and waits for it to exit. */
async function runServer (env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string, ms: number }> {
  const started = Date.now()
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }
  return new Promise((resolve) => {
    execFile(process.execPath, [SERVER], { env: { ...base, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
}

t.test('the built vault exits 78 at once, naming ENCRYPTION_KEY, when it is missing', { skip: existsSync(SERVER) ? false : 'build first: npx tsc -b services/vault' }, async (t) => {
  const result = await runServer({ NATS_URL: 'nats://127.0.0.1:4222', PORT: '0' })
  t.equal(result.code, 78, 'exit code 78 (EX_CONFIG)')
  t.ok(result.ms < 30_000, `without waiting for NATS or PostgreSQL (${result.ms} ms; waiting for either would last until the 60 s limit)`)
  t.match(result.stderr, /ENCRYPTION_KEY/, 'stderr names the variable')
  t.notMatch(result.stderr, /^\s+at /m, 'no stack trace')
  t.equal(result.stderr.trim().split('\n').length, 1, 'one line')
  t.equal(result.stdout, '', 'nothing on stdout')
})

t.test('the built vault exits 78 without echoing a malformed key', { skip: existsSync(SERVER) ? false : 'build first: npx tsc -b services/vault' }, async (t) => {
  const secret = 'f'.repeat(63)
  const result = await runServer({ ENCRYPTION_KEY: secret, PORT: '0' })
  t.equal(result.code, 78)
  t.match(result.stderr, /ENCRYPTION_KEY/, 'stderr names the variable')
  t.notOk(result.stderr.includes(secret.slice(0, 16)), 'but not its value')
  t.notMatch(result.stderr, /^\s+at /m, 'no stack trace')
})

t.test('group commit and admission have documented defaults and can be set', async (t) => {
  t.same(loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX }).batch, DEFAULT_BATCH)
  t.same(loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, BATCH_MAX: '64', BATCH_CONCURRENCY: '4', QUEUE_LIMIT: '500', BATCH_WINDOW: '2ms', QUEUE_WAIT: '1s' }).batch,
    { maxItems: 64, concurrency: 4, maxQueued: 500, windowMs: 2, maxWaitMs: 1000 })
  for (const [variable, value] of [['BATCH_MAX', '0'], ['BATCH_CONCURRENCY', 'many'], ['QUEUE_LIMIT', '-1'], ['BATCH_WINDOW', '1s'], ['QUEUE_WAIT', '0']]) {
    t.equal(configError(() => loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, [variable as string]: value })).variable, variable, `${variable}=${value} is refused, naming it`)
  }
})

t.test('a room\'s share of stored bytes has a default and can be set', async (t) => {
  t.same(loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX }).roomShare, DEFAULT_ROOM_SHARE)
  t.same(loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, ROOM_SHARE: '1048576' }).roomShare, { bytesPerSecond: 1048576, burstBytes: 2097152 })
  t.equal(configError(() => loadVaultConfig({ ENCRYPTION_KEY: KEY_HEX, ROOM_SHARE: '10' })).variable, 'ROOM_SHARE', 'too small to store one message is refused')
})
