/**
 * Child processes of the bench (the product's entry points, the floor server,
 * pgbench): output kept for error messages, readiness checks, an unexpected exit
 * recorded as a crash, and SIGTERM then SIGKILL to stop. Whatever happens to the
 * bench, no child outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { sleep, within } from './util.js'

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

const OUTPUT_TAIL = 8192

export type StopOutcome = 'graceful' | 'killed' | 'already-exited'

export class Child {
  readonly name: string
  readonly #process: ChildProcess
  #output = ''
  #inspectorUrl: string | undefined
  #stopping = false
  #exit: { code: number | null, signal: NodeJS.Signals | null } | undefined
  readonly #exited: Promise<void>

  constructor (name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv) {
    this.name = name
    this.#process = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(this.#process)
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_TAIL)
      // Kept apart: later output would push it out of the tail.
      this.#inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(this.#output)?.[1]
    }
    this.#process.stdout?.on('data', keep)
    this.#process.stderr?.on('data', keep)
    // A spawn failure (no such binary) arrives as 'error', then possibly no 'exit'.
    this.#exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#exit !== undefined) return
        this.#exit = { code, signal }
        live.delete(this.#process)
        resolve()
      }
      this.#process.once('exit', done)
      this.#process.once('error', (error) => {
        this.#output += `\n${error.message}`
        done(-1, null)
      })
    })
  }

  static node (name: string, script: string, env: NodeJS.ProcessEnv, flags: readonly string[] = []): Child {
    return new Child(name, process.execPath, [...flags, script], env)
  }

  /** The DevTools endpoint of a node child started with --inspect, once it announced it. */
  get inspectorUrl (): string | undefined {
    return this.#inspectorUrl
  }

  get pid (): number {
    return this.#process.pid ?? -1
  }

  get running (): boolean {
    return this.#exit === undefined
  }

  get output (): string {
    return this.#output.trim()
  }

  get exitCode (): number | null | undefined {
    return this.#exit?.code
  }

  /** Why the process ended although nobody stopped it, or undefined while that has not happened. */
  get crash (): string | undefined {
    if (this.#exit === undefined || this.#stopping) return undefined
    const how = this.#exit.signal === null ? `code ${this.#exit.code ?? '?'}` : `signal ${this.#exit.signal}`
    return `${this.name} (pid ${this.pid}) exited with ${how}: ${lastLines(this.output, 8)}`
  }

  /** Resolves once the output matches `pattern`; rejects if the process exits first or time runs out. */
  async waitForOutput (pattern: RegExp, timeoutMs: number): Promise<void> {
    await within(timeoutMs, `${this.name}: waiting for ${String(pattern)}`, (async () => {
      while (!pattern.test(this.#output)) {
        if (!this.running) throw new Error(`${this.name} exited before it was ready: ${lastLines(this.output, 8)}`)
        await sleep(20)
      }
    })())
  }

  /** Resolves once GET `url` answers 200; rejects if the process exits first or time runs out. */
  async waitForHttp (url: string, timeoutMs: number): Promise<void> {
    await within(timeoutMs, `${this.name}: waiting for ${url}`, (async () => {
      for (;;) {
        if (!this.running) throw new Error(`${this.name} exited before it was ready: ${lastLines(this.output, 8)}`)
        const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then((response) => response.ok, () => false)
        if (ok) return
        await sleep(50)
      }
    })())
  }

  /** Waits for the process to end by itself (a one-shot command) and returns its exit code. */
  async finished (timeoutMs: number): Promise<number | null> {
    this.#stopping = true
    try {
      await within(timeoutMs, this.name, this.#exited)
    } catch (error) {
      this.#process.kill('SIGKILL')
      await this.#exited
      throw error
    }
    return this.#exit?.code ?? null
  }

  /** SIGTERM (the graceful shutdown), SIGKILL once `graceMs` passed. */
  async stop (graceMs: number): Promise<StopOutcome> {
    const wasRunning = this.running
    this.#stopping = true
    if (!wasRunning) return 'already-exited'
    this.#process.kill('SIGTERM')
    try {
      await within(graceMs, `${this.name} graceful stop`, this.#exited)
      return 'graceful'
    } catch {
      this.#process.kill('SIGKILL')
      await within(5000, `${this.name} SIGKILL`, this.#exited).catch(() => {})
      return 'killed'
    }
  }
}

export function lastLines (text: string, count: number): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  return lines.length === 0 ? '(no output)' : lines.slice(-count).join(' | ')
}
