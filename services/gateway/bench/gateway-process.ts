/**
 * A gateway in a child process (the real `dist/src/server.js` entry), so its
 * memory is measured apart from the clients and the vault of the bench process.
 * It runs with the inspector on a loopback port: that is how the bench forces a
 * full garbage collection before reading its RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { sleep, within } from './support.js'

const SERVER = fileURLToPath(new URL('../src/server.js', import.meta.url))

export interface GatewayProcessOptions {
  natsUrl: string
  subjectPrefix: string
  maxConnectionsPerAddress: number
  startTimeoutMs: number
}

export interface MemorySample {
  rssKiB: number
  heapUsedKiB: number
  /** Memory outside the V8 heap held by JS objects (Buffers, ArrayBuffers). */
  externalKiB: number
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no free port')
  return address.port
}

/** A minimal Chrome DevTools Protocol client over the inspector WebSocket. */
class Inspector {
  readonly #socket: WebSocket
  readonly #pending = new Map<number, { resolve (value: unknown): void, reject (error: Error): void }>()
  #next = 0

  private constructor (socket: WebSocket) {
    this.#socket = socket
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as { id?: number, result?: unknown, error?: { message?: string } }
      const pending = message.id === undefined ? undefined : this.#pending.get(message.id)
      if (pending === undefined || message.id === undefined) return
      this.#pending.delete(message.id)
      if (message.error !== undefined) pending.reject(new Error(`inspector: ${message.error.message ?? 'error'}`))
      else pending.resolve(message.result)
    })
    socket.on('close', () => {
      for (const pending of this.#pending.values()) pending.reject(new Error('inspector closed'))
      this.#pending.clear()
    })
  }

  static async connect (url: string): Promise<Inspector> {
    const socket = new WebSocket(url, { perMessageDeflate: false })
    await once(socket, 'open')
    return new Inspector(socket)
  }

  async call (method: string, params: object = {}): Promise<unknown> {
    const id = ++this.#next
    return within(30_000, `inspector ${method}`, new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#socket.send(JSON.stringify({ id, method, params }))
    }))
  }

  close (): void {
    this.#socket.close()
  }
}

export class GatewayProcess {
  readonly wsUrl: string
  readonly #httpUrl: string
  readonly #child: ChildProcess
  readonly #inspector: Inspector
  readonly #output: string[]

  private constructor (port: number, child: ChildProcess, inspector: Inspector, output: string[]) {
    this.wsUrl = `ws://127.0.0.1:${port}/ws`
    this.#httpUrl = `http://127.0.0.1:${port}`
    this.#child = child
    this.#inspector = inspector
    this.#output = output
  }

  static async start (options: GatewayProcessOptions): Promise<GatewayProcess> {
    const port = await freePort()
    const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', SERVER], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        NATS_URL: options.natsUrl,
        NATS_SUBJECT_PREFIX: options.subjectPrefix,
        MAX_CONNECTIONS_PER_ADDRESS: String(options.maxConnectionsPerAddress),
        LOG_LEVEL: 'warn'
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    // A crash of the bench must not leave the gateway running.
    const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
    process.once('exit', kill)
    child.once('exit', () => { process.removeListener('exit', kill) })
    const output: string[] = []
    const keep = (chunk: Buffer): void => { output.push(chunk.toString('utf8')); if (output.length > 50) output.shift() }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)

    try {
      const inspectorUrl = await within(options.startTimeoutMs, 'gateway process start (inspector)', (async () => {
        for (;;) {
          const match = /Debugger listening on (ws:\/\/\S+)/.exec(output.join(''))
          if (match?.[1] !== undefined) return match[1]
          if (child.exitCode !== null) throw new Error(`gateway process exited with ${child.exitCode}: ${output.join('').trim()}`)
          await sleep(20)
        }
      })())
      const inspector = await within(options.startTimeoutMs, 'connecting to the gateway inspector', Inspector.connect(inspectorUrl))
      const gateway = new GatewayProcess(port, child, inspector, output)
      await within(options.startTimeoutMs, 'gateway process readiness (/readyz)', (async () => {
        for (;;) {
          if (child.exitCode !== null) throw new Error(`gateway process exited with ${child.exitCode}: ${output.join('').trim()}`)
          const ready = await fetch(`${gateway.#httpUrl}/readyz`).then((r) => r.ok, () => false)
          if (ready) return
          await sleep(50)
        }
      })())
      return gateway
    } catch (error) {
      kill()
      throw error
    }
  }

  get pid (): number {
    return this.#child.pid ?? -1
  }

  get running (): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** What the process printed last, for error messages. */
  get output (): string {
    return this.#output.join('').trim()
  }

  /** Full GCs, then a pause so freed pages can go back to the OS, then RSS from /proc and heap figures from the process. */
  async settledMemory (settleMs: number): Promise<MemorySample> {
    await this.#inspector.call('HeapProfiler.collectGarbage')
    await this.#inspector.call('HeapProfiler.collectGarbage')
    await sleep(settleMs)
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8')
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
    if (rss === undefined) throw new Error('no VmRSS in /proc/<pid>/status')
    const evaluated = await this.#inspector.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true }) as { result?: { value?: unknown } }
    const value = evaluated.result?.value
    if (typeof value !== 'string') throw new Error('the gateway process did not report its memory usage')
    const usage = JSON.parse(value) as { heapUsed: number, external: number }
    return { rssKiB: Number(rss), heapUsedKiB: usage.heapUsed / 1024, externalKiB: usage.external / 1024 }
  }

  /** The gateway's own count of open WebSockets (its `/metrics`). */
  async connections (): Promise<number> {
    const text = await (await fetch(`${this.#httpUrl}/metrics`)).text()
    return Number(/^gateway_connections (\d+)$/m.exec(text)?.[1] ?? Number.NaN)
  }

  /** SIGTERM (the graceful shutdown of server.ts), SIGKILL if it has not exited in time. */
  async stop (timeoutMs: number): Promise<void> {
    this.#inspector.close()
    if (!this.running) return
    const exited = once(this.#child, 'exit')
    this.#child.kill('SIGTERM')
    try {
      await within(timeoutMs, 'gateway process graceful shutdown', exited)
    } catch (error) {
      this.#child.kill('SIGKILL')
      await exited
      throw error
    }
  }
}
