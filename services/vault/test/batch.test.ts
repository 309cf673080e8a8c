import t from 'tap'
import { Batcher, Expired, Overloaded, type BatcherOptions } from '../src/batch.js'

const options = (overrides: Partial<BatcherOptions> = {}): BatcherOptions =>
  ({ maxItems: 100, concurrency: 1, maxQueued: 1000, windowMs: 0, maxWaitMs: 60_000, ...overrides })

const later = Date.now() + 60_000

/** A batch runner whose batches finish only when the test lets them, recording what each batch held. */
function gatedRunner () {
  const batches: number[][] = []
  const gates: Array<() => void> = []
  const run = async (items: number[]): Promise<number[]> => {
    batches.push(items)
    await new Promise<void>((resolve) => { gates.push(resolve) })
    return items.map((item) => item * 10)
  }
  const release = (): void => { for (const open of gates.splice(0)) open() }
  return { run, batches, release }
}

const settle = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('an idle batcher sends a lone request on the next turn, without waiting for company', async (t) => {
  const batches: number[][] = []
  const batcher = new Batcher(async (items: number[]) => { batches.push(items); return items.map((i) => i + 1) }, options())
  t.equal(await batcher.submit(1, later), 2)
  t.same(batches, [[1]])
})

t.test('requests arriving while a batch runs leave together as the next batch, each with its own result', async (t) => {
  const { run, batches, release } = gatedRunner()
  const batcher = new Batcher(run, options())
  const first = batcher.submit(1, later)
  await settle()
  const rest = [2, 3, 4, 5].map(async (n) => batcher.submit(n, later))
  await settle()
  t.same(batches, [[1]], 'only the first batch runs while the slot is busy')
  release()
  t.equal(await first, 10)
  await settle()
  t.same(batches, [[1], [2, 3, 4, 5]], 'the four waiting ones share the next batch')
  release()
  t.same(await Promise.all(rest), [20, 30, 40, 50])
})

t.test('a batch holds at most maxItems; concurrency bounds the batches running at once', async (t) => {
  const { run, batches, release } = gatedRunner()
  const batcher = new Batcher(run, options({ maxItems: 2, concurrency: 2 }))
  const all = [1, 2, 3, 4, 5].map(async (n) => batcher.submit(n, later))
  await settle()
  t.same(batches, [[1, 2], [3, 4]], 'two batches of two run; the fifth waits')
  t.equal(batcher.running, 2)
  t.equal(batcher.queued, 1)
  release()
  await settle()
  await settle()
  t.same(batches.at(-1), [5])
  release()
  t.same(await Promise.all(all), [10, 20, 30, 40, 50])
})

t.test('a full queue refuses at once with a retry hint, and takes requests again once it drains', async (t) => {
  const { run, release } = gatedRunner()
  const batcher = new Batcher(run, options({ maxQueued: 2 }))
  const running = batcher.submit(1, later)
  await settle()
  const queued = [batcher.submit(2, later), batcher.submit(3, later)]
  const refused = await batcher.submit(4, later).catch((error: unknown) => error)
  t.type(refused, Overloaded)
  t.ok(refused instanceof Overloaded && refused.retryAfterMs >= 50 && refused.retryAfterMs <= 5000, 'with a hint between 50 ms and 5 s')
  release()
  await running
  await settle()
  release()
  t.same(await Promise.all(queued), [20, 30])
  const again = batcher.submit(5, later)
  await settle()
  release()
  t.equal(await again, 50, 'after draining it accepts again')
})

t.test('a request whose deadline passes while it waits never reaches the runner', async (t) => {
  const { run, batches, release } = gatedRunner()
  const batcher = new Batcher(run, options())
  const running = batcher.submit(1, later)
  await settle()
  const late = batcher.submit(2, Date.now() + 20)
  const onTime = batcher.submit(3, later)
  await new Promise((resolve) => setTimeout(resolve, 40))
  release()
  await running
  t.type(await late.catch((error: unknown) => error), Expired)
  await settle()
  release()
  t.equal(await onTime, 30)
  t.same(batches, [[1], [3]], 'the late one was dropped before its batch ran')
})

t.test('with a window, a lone request waits that long for company', async (t) => {
  const batches: number[][] = []
  const batcher = new Batcher(async (items: number[]) => { batches.push(items); return items }, options({ windowMs: 30 }))
  const started = performance.now()
  const results = await Promise.all([batcher.submit(1, later), new Promise((resolve) => setTimeout(resolve, 10)).then(async () => batcher.submit(2, later))])
  t.same(results, [1, 2])
  t.same(batches, [[1, 2]], 'the second, 10 ms later, joined the first')
  t.ok(performance.now() - started >= 25, 'which waited for the window')
})

t.test('a batch refused by the database is split until the one bad request fails alone', async (t) => {
  const attempts: number[][] = []
  const poison = 3
  const batcher = new Batcher(async (items: number[]) => {
    attempts.push(items)
    if (items.includes(poison)) throw Object.assign(new Error('constraint'), { code: '23514' })
    return items
  }, options(), { splittable: (error) => (error as { code?: string }).code === '23514' })
  // Queued together behind a first request, so they form one batch.
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map(async (n) => batcher.submit(n, later)))
  t.same(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
  t.ok(attempts.some((batch) => batch.length === 1 && batch[0] === poison), 'the bad one ran alone in the end')
})

t.test('a failure that splitting cannot help fails the whole batch once', async (t) => {
  let calls = 0
  const batcher = new Batcher(async (items: number[]) => { calls++; throw Object.assign(new Error('connection lost'), { code: '08006', items }) }, options(), { splittable: () => false })
  const results = await Promise.allSettled([1, 2, 3].map(async (n) => batcher.submit(n, later)))
  t.ok(results.every((r) => r.status === 'rejected'))
  t.equal(calls, 1)
})

t.test('drained resolves once nothing is queued or running', async (t) => {
  const { run, release } = gatedRunner()
  const batcher = new Batcher(run, options())
  const work = [batcher.submit(1, later), batcher.submit(2, later)]
  let drained = false
  const waiting = batcher.drained().then(() => { drained = true })
  await settle()
  t.notOk(drained)
  release()
  await settle()
  release()
  await Promise.all(work)
  await waiting
  t.ok(drained)
})

t.test('new work is refused once the queue is a standing one; finishing work waits for its deadline', async (t) => {
  const { run, release } = gatedRunner()
  const fresh = (newWork: boolean): Batcher<number, number> => new Batcher(run, options({ maxWaitMs: 50 }), { newWork })
  const stores = fresh(true)
  const acks = fresh(false)
  for (const batcher of [stores, acks]) {
    // Teach it what a batch costs: 16 requests that took 100 ms.
    const first = Array.from({ length: 16 }, async (_, i) => batcher.submit(i, later))
    await settle()
    await new Promise((resolve) => setTimeout(resolve, 100))
    release()
    await Promise.all(first)
  }
  let fits = 0
  while (stores.expectedWaitMs(fits + 1) <= 50) fits++
  t.ok(fits >= 1 && fits < 100, `${fits} requests may wait under the limit`)
  const accepted = Array.from({ length: fits }, async (_, i) => stores.submit(i + 1, later))
  const refused = await stores.submit(fits + 1, later).catch((error: unknown) => error)
  t.type(refused, Overloaded, 'a store that would wait longer than maxWaitMs is refused at once')
  const finishing = [acks.submit(1, later), acks.submit(2, later), acks.submit(3, later)]
  await settle()
  release()
  t.same(await Promise.all(accepted), Array.from({ length: fits }, (_, i) => (i + 1) * 10), 'the ones that fit are answered')
  t.same(await Promise.all(finishing), [10, 20, 30], 'acks queue on: they finish accepted work')
  const tooLate = await acks.submit(4, Date.now() + 10).catch((error: unknown) => error)
  t.type(tooLate, Overloaded, 'but never past their deadline')
})

t.test('one slow small batch (a cold start) does not make a burst of new work look seconds away', async (t) => {
  const { run, release } = gatedRunner()
  const joins = new Batcher(run, options({ maxWaitMs: 1000, concurrency: 2 }), { newWork: true })
  const first = joins.submit(0, later)
  await settle()
  await new Promise((resolve) => setTimeout(resolve, 100))
  release()
  await first
  t.ok(joins.expectedWaitMs(250) < 1000, `250 queued joins are expected to wait ${joins.expectedWaitMs(250).toFixed(0)} ms, not seconds`)
  const burst = Array.from({ length: 250 }, async (_, i) => joins.submit(i, later))
  await settle()
  release()
  await settle()
  release()
  t.equal((await Promise.allSettled(burst)).filter((r) => r.status === 'fulfilled').length, 250, 'the whole burst is taken')
})
