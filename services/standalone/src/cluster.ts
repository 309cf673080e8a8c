/**
 * `npm run cluster`: a local scale-out for trying things and for tests. Migrates,
 * then runs 2 vaults and 2 gateways as separate processes against the local
 * PostgreSQL (PG* / DATABASE_URL) and NATS (NATS_URL): gateways on PORT and
 * PORT+1, vault health endpoints on VAULT_PORT and VAULT_PORT+1, their /metrics on
 * VAULT_PORT+10 and VAULT_PORT+11.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DEFAULT_DATA_DIR, persistentSecret, randomHex } from './data-dir.js'

const entry = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url))
const say = (line: string): void => { process.stdout.write(`${line}\n`) }

const env = process.env
const gatewayPort = Number(env.PORT ?? 3000)
const vaultPort = Number(env.VAULT_PORT ?? 3100)
const count = 2
const children = new Map<string, ChildProcess>()
let stopping = false

function run (name: string, script: string, extraEnv: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [script], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'inherit', 'inherit'] })
  children.set(name, child)
  say(`${name}: pid ${child.pid ?? '?'}`)
  child.once('exit', (code, signal) => {
    children.delete(name)
    if (!stopping) say(`${name}: exited (${signal ?? `code ${code ?? '?'}`}); the others keep serving`)
    if (stopping && children.size === 0) process.exit(0)
  })
  return child
}

async function main (): Promise<void> {
  let encryptionKey = env.ENCRYPTION_KEY
  if (encryptionKey === undefined || encryptionKey === '') {
    encryptionKey = persistentSecret(env.DATA_DIR ?? DEFAULT_DATA_DIR, 'encryption.key', randomHex(32)).value
    say('No ENCRYPTION_KEY set: the vaults share the at-rest key kept in the data folder.')
  }
  const migrate = spawn(process.execPath, [entry('vault/dist/src/migrate.js')], { env, stdio: ['ignore', 'inherit', 'inherit'] })
  const migrated = await new Promise<number | null>((resolve) => migrate.once('exit', resolve))
  if (migrated !== 0) {
    process.stderr.write('cluster: the migration failed; is PostgreSQL running (PGHOST, PGPORT, PGUSER)?\n')
    process.exit(1)
  }
  for (let i = 0; i < count; i++) {
    run(`vault-${i + 1}`, entry('vault/dist/src/server.js'), { ENCRYPTION_KEY: encryptionKey, PORT: String(vaultPort + i), METRICS_PORT: String(vaultPort + 10 + i) })
  }
  for (let i = 0; i < count; i++) {
    run(`gateway-${i + 1}`, entry('gateway/dist/src/server.js'), { PORT: String(gatewayPort + i) })
  }
  say(`Cluster running: open http://localhost:${gatewayPort} or http://localhost:${gatewayPort + 1}  (Ctrl-C stops all)`)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    if (children.size === 0) process.exit(0)
    for (const child of children.values()) child.kill('SIGTERM')
  })
}

await main()
