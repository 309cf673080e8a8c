import t from 'tap'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, writeFileSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { find, podSpec, render, requireKubectl } from './helpers.js'

requireKubectl()

/**
 * The NATS configuration and shutdown are checked against a real nats-server
 * where one is installed (the development machines have it); elsewhere these
 * tests are skipped and say so.
 */
const natsServer = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
const available = natsServer.status === 0
const skip = available ? false : 'nats-server not on PATH'
if (available) t.comment(`checking with ${natsServer.stdout.trim()}`)

const configOf = (overlay: string): string => (find(render(overlay), 'ConfigMap', 'nats-config') as any).data['nats.conf'] as string

for (const overlay of ['overlays/dev', 'overlays/prod']) {
  t.test(`${overlay}: nats-server accepts the configuration`, { skip }, async (t) => {
    const dir = t.testdir({ 'nats.conf': configOf(overlay) })
    const result = spawnSync('nats-server', ['-t', '-c', join(dir, 'nats.conf')], { encoding: 'utf8', env: { ...process.env, SERVER_NAME: 'nats-0' } })
    t.equal(result.status, 0, result.stderr + result.stdout)
  })
}

t.test('a broken configuration is refused (the check is not vacuous)', { skip }, async (t) => {
  const dir = t.testdir({ 'nats.conf': configOf('overlays/prod').replace('lame_duck_duration: 30s', 'lame_duck_duration: 5s') })
  const result = spawnSync('nats-server', ['-t', '-c', join(dir, 'nats.conf')], { encoding: 'utf8', env: { ...process.env, SERVER_NAME: 'nats-0' } })
  t.not(result.status, 0, 'nats-server refuses a lame duck duration under 30 s')
})

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function waitFor (check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('preStop puts NATS in lame duck mode and the SIGTERM that follows does not cut it short', { skip }, async (t) => {
  const manifests = render('overlays/dev')
  const preStop = podSpec(manifests, 'StatefulSet', 'nats').containers[0].lifecycle.preStop.exec.command as string[]
  const [clientPort, httpPort] = [await freePort(), await freePort()]
  const dir = t.testdir({})
  const pidFile = join(dir, 'nats.pid')
  // The real configuration, moved to loopback and free ports, with a short
  // grace period (longer than the preStop's sleep) so the test does not wait 10 s for eviction to begin.
  const config = configOf('overlays/dev')
    .replace('0.0.0.0:4222', `127.0.0.1:${clientPort}`)
    .replace('0.0.0.0:8222', `127.0.0.1:${httpPort}`)
    .replace('/var/run/nats/nats.pid', pidFile)
    .replace(/lame_duck_grace_period: \d+s/, 'lame_duck_grace_period: 6s')
  writeFileSync(join(dir, 'nats.conf'), config)
  const server = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { env: { ...process.env, SERVER_NAME: 'test' }, stdio: 'ignore' })
  t.teardown(() => void server.kill('SIGKILL'))
  await waitFor(() => existsSync(pidFile), 'the pid file')
  await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined))?.ok === true, '/healthz')

  const client: Socket = connect(clientPort, '127.0.0.1')
  let received = ''
  client.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')))
  client.on('error', () => undefined)
  client.write('CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n')
  await waitFor(() => received.includes('PONG'), 'PONG')

  const command = preStop.map((word) => word.replace('/var/run/nats/nats.pid', pidFile))
  execFileSync(command[0] as string, command.slice(1))
  server.kill('SIGTERM')
  await sleep(500)
  t.equal(server.exitCode, null, 'still running after SIGTERM: lame duck mode is not cut short')
  t.equal(server.signalCode, null)
  await waitFor(() => received.includes('"ldm":true'), 'the lame duck notice to the client')
  t.pass('the connected client was told the server is going away')
  const refused = await new Promise<boolean>((resolve) => {
    const probe = connect(clientPort, '127.0.0.1')
    probe.on('connect', () => {
      probe.destroy()
      resolve(false)
    })
    probe.on('error', () => resolve(true))
  })
  t.ok(refused, 'no new client connections are accepted')
  client.destroy()
})
