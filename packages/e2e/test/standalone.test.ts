import { ChatSession, deriveRoomKeys, generateRoomCode, newMemberSecret } from '@ephemeral-chat/client'
import { waitFor } from '@ephemeral-chat/testkit'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import WebSocket from 'ws'
import { cleanEnv, entry, freePort, start, waitWhileRunning, type Child } from '../src/spawn.js'

const main = entry('services/standalone/dist/src/main.js')

function processesUsing (dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-fa', dir]).toString().trim().split('\n').filter((line) => line !== '')
  } catch {
    return []
  }
}

/** Resolves with how long the page took to be served; fails as soon as the child exits instead, with its last output. */
async function servesPage (child: Child, port: number): Promise<number> {
  const started = Date.now()
  await waitWhileRunning(child, 'npm start serves the page', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)
    return response?.status === 200 && (response.headers.get('content-type') ?? '').includes('text/html')
  }, 90_000, 100)
  return Date.now() - started
}

async function lifecycle (port: number): Promise<string> {
  const keys = await deriveRoomKeys(generateRoomCode())
  const open = (): ChatSession => new ChatSession({ url: `ws://127.0.0.1:${port}/ws`, keys, memberSecret: newMemberSecret(), createSocket: (url) => new WebSocket(url) as never })
  const alice = open()
  const bob = open()
  const cards: string[] = []
  bob.on('card', (card) => cards.push(card.id))
  try {
    await alice.connect()
    await bob.connect()
    const sent = await alice.send('hello from the standalone mode')
    await waitFor('card', () => cards.includes(sent.id))
    const text = (await bob.reveal(sent.id)).text
    await bob.viewed(sent.id)
    return text
  } finally {
    alice.close()
    bob.close()
  }
}

async function stop (child: Child): Promise<number | null> {
  child.process.kill('SIGINT')
  return child.exited
}

t.test('npm start with nothing configured: embedded database, in-process bus, clean Ctrl-C', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ec-standalone-'))
  t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }) })
  const port = await freePort()
  const env = cleanEnv({ PORT: String(port), DATA_DIR: dataDir })

  const first = start(main, env)
  t.teardown(() => { first.process.kill('SIGKILL') })
  const firstMs = await servesPage(first, port)
  t.comment(`first start (database initialised): page served after ${firstMs} ms`)
  t.match(first.output(), /generated a new at-rest key/, 'the start says it generated a key')
  t.match(first.output(), new RegExp(`http://localhost:${port}`), 'and prints the URL to open')
  t.equal(statSync(join(dataDir, 'encryption.key')).mode & 0o777, 0o600, 'the key file is readable by its owner only')
  t.equal(await lifecycle(port), 'hello from the standalone mode', 'a message goes through the whole lifecycle')

  const second = start(main, cleanEnv({ PORT: String(await freePort()), DATA_DIR: dataDir }))
  t.equal(await second.exited, 1, 'a second start on the same data folder fails')
  t.match(second.output(), /data folder .* is in use/, 'with a clear "data folder in use" message')
  t.notMatch(second.output(), /\n\s+at /, 'and no stack trace')
  const otherDir = mkdtempSync(join(tmpdir(), 'ec-standalone-other-'))
  t.teardown(() => { rmSync(otherDir, { recursive: true, force: true }) })
  const third = start(main, cleanEnv({ PORT: String(port), DATA_DIR: otherDir }))
  t.equal(await third.exited, 1, 'a second start on the same port fails')
  t.match(third.output(), new RegExp(`port ${port} is in use`), 'with a clear "port in use" message')
  t.notMatch(third.output(), /\n\s+at /, 'and no stack trace')

  t.equal(await stop(first), 0, `Ctrl-C (SIGINT) exits cleanly ${first.output()}`)
  t.same(processesUsing(dataDir), [], 'no postgres or node process is left behind')

  const again = start(main, env)
  t.teardown(() => { again.process.kill('SIGKILL') })
  const againMs = await servesPage(again, port)
  t.comment(`second start: page served after ${againMs} ms`)
  t.match(again.output(), /using the at-rest key/, 'the kept key is reused')
  t.equal(await lifecycle(port), 'hello from the standalone mode')
  t.equal(await stop(again), 0, `Ctrl-C exits cleanly again ${again.output()}`)
  t.same(processesUsing(dataDir), [], 'nothing left behind the second time either')
})
