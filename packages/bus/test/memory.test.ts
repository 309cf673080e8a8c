import t from 'tap'
import { BusError } from '../src/bus.js'
import type { BusLogger } from '../src/bus.js'
import { createMemoryBroker, createMemoryBus } from '../src/memory.js'
import { busContract, uniquePrefix, waitFor } from './contract.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

const broker = createMemoryBroker()
const quiet: BusLogger = { warn: () => {} }
busContract(t, 'memory', () => Promise.resolve(broker.connect({ logger: quiet })))

void t.test('memory: one bus serves its own requests (single-process mode)', async (t) => {
  const bus = createMemoryBus({ logger: quiet })
  t.teardown(() => bus.close())
  bus.serve('vault.v1.room.join', 'vault', (data) => data)
  t.equal(new TextDecoder().decode(await bus.request('vault.v1.room.join', bytes('hi'))), 'hi')
})

void t.test('memory: separate createMemoryBus buses do not reach each other', async (t) => {
  const [a, b] = [createMemoryBus(), createMemoryBus()]
  t.teardown(() => Promise.all([a.close(), b.close()]))
  a.serve('vault.v1.room.join', 'vault', (data) => data)
  await t.rejects(b.request('vault.v1.room.join', bytes('hi')), { code: 'unavailable' })
})

void t.test('memory: defaultTimeoutMs applies when a request gives none', async (t) => {
  const bus = broker.connect({ defaultTimeoutMs: 100, logger: quiet })
  t.teardown(() => bus.close())
  const subject = `${uniquePrefix()}.silent`
  bus.subscribe(subject, () => {})
  const started = performance.now()
  await t.rejects(bus.request(subject, bytes('?')), { code: 'timeout' })
  const elapsed = performance.now() - started
  t.ok(elapsed >= 90 && elapsed < 1_000, `timed out after ${elapsed.toFixed(0)} ms`)
})

void t.test('memory: delivery never happens inside publish', async (t) => {
  const bus = broker.connect({ logger: quiet })
  t.teardown(() => bus.close())
  const subject = `${uniquePrefix()}.async`
  let delivered = 0
  bus.subscribe(subject, () => { delivered++ })
  bus.publish(subject, bytes('x'))
  t.equal(delivered, 0, 'not yet, publish returned first')
  await bus.ping()
  t.equal(delivered, 1)
})

void t.test('memory: a failed handler is logged without subject or payload', async (t) => {
  const warnings: Array<{ obj: object, msg: string }> = []
  const bus = broker.connect({ logger: { warn: (obj, msg) => { warnings.push({ obj, msg }) } } })
  t.teardown(() => bus.close())
  const subject = `${uniquePrefix()}.roomhash`
  bus.subscribe(subject, () => { throw new TypeError('secret payload') })
  bus.publish(subject, bytes('secret payload'))
  await waitFor(() => warnings.length > 0)
  t.same(warnings, [{ obj: { error: 'TypeError' }, msg: 'bus handler failed' }])
})

void t.test('memory: close does not wait past the timeout for a stuck handler', async (t) => {
  const bus = broker.connect({ defaultTimeoutMs: 100, logger: quiet })
  const subject = `${uniquePrefix()}.stuck`
  let started = false
  bus.subscribe(subject, () => { started = true })
  bus.serve(subject, 'stuck', () => new Promise<Uint8Array>(() => {}))
  bus.publish(subject, bytes('x'))
  await waitFor(() => started)
  const began = performance.now()
  await bus.close()
  t.ok(performance.now() - began < 1_000, 'close finished')
  t.throws(() => { bus.publish(subject, bytes('x')) }, BusError)
})
