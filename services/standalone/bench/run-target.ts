/**
 * Runs the scenarios against one product target (or the floor): started once for
 * the traffic scenarios, waiting for it to go idle between them (restarting it if
 * it does not), and started afresh for the idle-memory scenario.
 */
import { oneToOne, tenByTen, type ScenarioContext } from './closed-loop.js'
import type { PgServer } from './database.js'
import { idle } from './idle.js'
import { latency, overload } from './open-loop.js'
import { waitQuiet } from './quiet.js'
import type { TargetResults } from './results.js'
import type { ScenarioName, Settings } from './settings.js'
import { startTarget, type ProductTargetName, type Target } from './targets.js'
import { errorText, say, type Cleanup } from './util.js'

type Step = (context: ScenarioContext, results: TargetResults) => Promise<void>

const STEPS: ReadonlyArray<[ScenarioName, Step]> = [
  ['one-to-one', async (context, results) => { results.oneToOne = await oneToOne(context) }],
  ['ten-by-ten', async (context, results) => { results.tenByTen = await tenByTen(context) }],
  ['latency', async (context, results) => { results.latency = await latency(context) }],
  ['overload', async (context, results) => {
    const capacity = results.oneToOne?.lifecyclesPerSecond
    if (capacity === undefined || !(capacity > 0)) throw new Error('no one-to-one capacity was measured for this target')
    results.overload = await overload(context, capacity)
  }],
  ['idle', async (context, results) => { results.idle = await idle(context) }]
]

class Running {
  target: Target | undefined
  #stop: (() => Promise<void>) | undefined

  constructor (readonly name: ProductTargetName, readonly settings: Settings, readonly server: PgServer, readonly cleanup: Cleanup, readonly results: TargetResults) {}

  async start (inspect = false): Promise<Target | undefined> {
    await this.stop()
    try {
      const target = await startTarget(this.name, this.settings, this.server, inspect)
      this.target = target
      this.#stop = this.cleanup.add(`stop ${this.name}`, async () => {
        const { failures, findings } = await target.stop()
        this.results.broken.push(...failures)
        this.results.notes.push(...findings)
      })
      return target
    } catch (error) {
      this.results.broken.push(`${this.name}: could not start: ${errorText(error)}`)
      return undefined
    }
  }

  async stop (): Promise<void> {
    const stop = this.#stop
    this.#stop = undefined
    this.target = undefined
    await stop?.()
  }
}

export async function runTarget (name: ProductTargetName, settings: Settings, server: PgServer, cleanup: Cleanup): Promise<TargetResults> {
  const results: TargetResults = { target: name, broken: [], notes: [] }
  const running = new Running(name, settings, server, cleanup, results)
  let previous: ScenarioName | undefined
  try {
    for (const [scenario, step] of STEPS) {
      if (!settings.scenarios.has(scenario)) continue
      // The floor cannot refuse anything: overloading it would measure the bench.
      if (scenario === 'overload' && name === 'floor') continue
      let target = running.target
      if (scenario === 'idle' || target === undefined) {
        // Memory per connection needs a process whose heap the earlier scenarios did not grow.
        target = await running.start(scenario === 'idle')
      } else {
        const waited = await waitQuiet(target, settings.quietSeconds * 1000)
        if (waited === undefined) {
          results.notes.push(`${name}: still busy ${settings.quietSeconds} s after ${previous ?? 'the previous scenario'} (work the clients had given up on); restarted before ${scenario}`)
          target = await running.start()
        } else if (waited > 2000) {
          results.notes.push(`${name}: went idle only ${(waited / 1000).toFixed(1)} s after ${previous ?? 'the previous scenario'} ended (work the clients had given up on)`)
        }
      }
      if (target === undefined) break
      previous = scenario
      const started = Date.now()
      process.stdout.write(`  ${scenario}… `)
      try {
        await step({ target, settings, results }, results)
        const crash = target.crash()
        if (crash !== undefined) throw new Error(`the target crashed: ${crash}`)
        say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      } catch (error) {
        say('failed')
        results.broken.push(`${name} ${scenario}: ${errorText(error)}`)
        // A crashed or wedged target says nothing more about the later scenarios.
        await running.stop()
      }
    }
  } finally {
    await running.stop()
  }
  return results
}
