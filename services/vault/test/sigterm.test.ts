import { join } from 'node:path'
import { BusError } from '@ephemeral-chat/bus'
import { freePort, natsAvailable, natsUrl, packageRoot, start, strict, waitWhileRunning } from '@ephemeral-chat/testkit'
import t from 'tap'
import { harness, newMemberId, newRoomHash, vaultApi } from './helpers.js'

t.test('SIGTERM: the vault stops serving, drains NATS, closes its pool and exits cleanly within the grace period', async (t) => {
  if (!await natsAvailable() && !strict()) {
    t.plan(0, 'skipped: a vault process needs a real NATS and none answered here (with CI=true this is a failure)')
    return
  }
  const h = await harness(t)
  const port = await freePort()
  const vault = start(join(packageRoot(import.meta.url), 'dist/src/server.js'), {
    PATH: process.env.PATH,
    PORT: String(port),
    HOST: '127.0.0.1',
    NATS_URL: natsUrl(),
    NATS_SUBJECT_PREFIX: h.prefix,
    PGHOST: h.database.host,
    PGPORT: String(h.database.port),
    PGUSER: h.database.user,
    ...(h.database.password === undefined ? {} : { PGPASSWORD: h.database.password }),
    PGDATABASE: h.database.database,
    ENCRYPTION_KEY: 'cd'.repeat(32)
  })
  const { process: child, exited } = vault
  t.teardown(() => { child.kill('SIGKILL') })

  await waitWhileRunning(vault, 'the vault is ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true, 90_000, 100)
  const api = vaultApi(h.bus)
  t.match(await api.join(newRoomHash(), newMemberId()), { ok: true, members: 1 }, 'it serves requests over NATS')

  const started = Date.now()
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exit code 0')
  const elapsed = Date.now() - started
  t.ok(elapsed < 25_000, `stopped in ${elapsed} ms, inside the 30 s grace period of the manifests`)
  t.notMatch(vault.output(), /Error|\n\s+at /, 'no error or stack trace on the way out')
  const after = await api.join(newRoomHash(), newMemberId()).catch((error: unknown) => error)
  t.ok(after instanceof BusError && after.code === 'unavailable', 'afterwards nobody answers: the request fails at once as unavailable')
})
