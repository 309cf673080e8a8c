import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { BusError } from '../src/bus.js'
import type { Bus } from '../src/bus.js'

/** Fresh subjects per test, so test files running in parallel against one NATS server never meet. */
export function uniquePrefix (): string {
  return `test.${randomBytes(6).toString('hex')}`
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (data: Uint8Array): string => new TextDecoder().decode(data)
const hex = (data: Uint8Array): string => Buffer.from(data).toString('hex')

/** Polls until `condition` holds; fails the test after `timeoutMs` instead of hanging it. */
export async function waitFor (condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * Once the sender's ping() and then each receiver's ping() resolve, everything published before has been handed to
 * the receivers' handlers (a NATS server writes earlier messages before the later PONG). Lets a test assert "exactly
 * once" or "nothing more" without sleeping.
 */
async function barrier (sender: Bus, ...receivers: Bus[]): Promise<void> {
  await sender.ping()
  for (const bus of receivers) await bus.ping()
}

interface Gate { opened: Promise<void>, open: () => void }
function gate (): Gate {
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  return { opened, open }
}

async function rejection (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

function codeOf (err: unknown): string | undefined {
  return err instanceof BusError ? err.code : undefined
}

/** The behaviour every Bus implementation promises; `makeBus` returns buses that reach each other, like connections to one server. */
export function busContract (t: Test, name: string, makeBus: () => Promise<Bus>): void {
  const open = async (t: Test): Promise<Bus> => {
    const bus = await makeBus()
    t.teardown(() => bus.close())
    return bus
  }

  void t.test(`${name}: request/reply carries binary data both ways`, async (t) => {
    const [server, client] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.echo`
    const seen: string[] = []
    server.serve(subject, 'echo', (data, received) => {
      seen.push(received)
      return Uint8Array.from(data).reverse()
    })
    await server.ping()
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i)
    const reply = await client.request(subject, payload)
    t.equal(hex(reply), hex(Uint8Array.from(payload).reverse()))
    t.same(seen, [subject], 'handler is told the concrete subject')
  })

  void t.test(`${name}: members of one queue group share requests, each answered once`, async (t) => {
    const [a, b, client] = [await open(t), await open(t), await open(t)]
    const subject = `${uniquePrefix()}.work`
    const handled = { a: [] as string[], b: [] as string[] }
    a.serve(subject, 'workers', (data) => { handled.a.push(text(data)); return bytes('a') })
    b.serve(subject, 'workers', (data) => { handled.b.push(text(data)); return bytes('b') })
    await barrier(a, b)
    const ids = Array.from({ length: 20 }, (_, i) => String(i))
    const replies = await Promise.all(ids.map(async (id) => text(await client.request(subject, bytes(id)))))
    t.equal(replies.length, 20)
    t.same([...handled.a, ...handled.b].sort(), [...ids].sort(), 'every request handled exactly once')
    t.ok(handled.a.length > 0 && handled.b.length > 0, `both members served (${handled.a.length}/${handled.b.length})`)
    t.equal(replies.filter((r) => r === 'a').length, handled.a.length, 'each reply came from the member that handled it')
  })

  void t.test(`${name}: each queue group receives a published message once`, async (t) => {
    const buses = [await open(t), await open(t), await open(t), await open(t)]
    const publisher = await open(t)
    const subject = `${uniquePrefix()}.fanout`
    const counts = { red: 0, blue: 0 }
    buses.forEach((bus, i) => {
      const group = i % 2 === 0 ? 'red' : 'blue'
      bus.serve(subject, group, () => { counts[group]++; return bytes('') })
    })
    await barrier(publisher, ...buses)
    publisher.publish(subject, bytes('hello'))
    await barrier(publisher, ...buses)
    t.same(counts, { red: 1, blue: 1 })
  })

  void t.test(`${name}: no responder rejects unavailable at once, not after the timeout`, async (t) => {
    const client = await open(t)
    const started = performance.now()
    const err = await rejection(client.request(`${uniquePrefix()}.nobody`, bytes('?'), { timeoutMs: 2_000 }))
    const elapsed = performance.now() - started
    t.equal(codeOf(err), 'unavailable')
    t.ok(elapsed < 500, `rejected after ${elapsed.toFixed(1)} ms`)
    t.notMatch(String(err), /nobody/, 'error does not quote the subject')
  })

  void t.test(`${name}: malformed subjects are refused without being quoted`, async (t) => {
    const bus = await open(t)
    for (const subject of ['', 'a..b', 'a b', 'a.>.b', 'a.']) {
      t.throws(() => bus.subscribe(subject, () => {}), new TypeError('invalid bus subject'), JSON.stringify(subject))
    }
    t.throws(() => { bus.publish('room.*', bytes('x')) }, TypeError, 'no wildcards when publishing')
    await t.rejects(bus.request('room.>', bytes('x')), TypeError, 'nor when requesting')
    t.throws(() => bus.serve('room.join', '', (data) => data), TypeError, 'a queue group needs a name')
  })

  void t.test(`${name}: a responder that does not answer in time rejects timeout`, async (t) => {
    const [server, client] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.slow`
    const release = gate()
    t.teardown(release.open)
    server.serve(subject, 'slow', async () => { await release.opened; return bytes('late') })
    await server.ping()
    const started = performance.now()
    const err = await rejection(client.request(subject, bytes('?'), { timeoutMs: 200 }))
    t.equal(codeOf(err), 'timeout')
    t.ok(performance.now() - started >= 190, 'waited for the timeout')
  })

  void t.test(`${name}: wildcard subscriptions match like NATS`, async (t) => {
    const [listener, publisher] = [await open(t), await open(t)]
    const p = uniquePrefix()
    const star: string[] = []
    const tail: string[] = []
    listener.subscribe(`${p}.*.events`, (_data, subject) => { star.push(subject) })
    listener.subscribe(`${p}.>`, (_data, subject) => { tail.push(subject) })
    await listener.ping()
    for (const subject of [`${p}.a.events`, `${p}.a.b.events`, p, `${p}.b.other`]) publisher.publish(subject, bytes('x'))
    await barrier(publisher, listener)
    t.same(star, [`${p}.a.events`], '* matches exactly one token')
    t.same(tail, [`${p}.a.events`, `${p}.a.b.events`, `${p}.b.other`], '> matches one or more trailing tokens')
  })

  void t.test(`${name}: unsubscribe stops delivery`, async (t) => {
    const [listener, publisher] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.room`
    const got: string[] = []
    const sub = listener.subscribe(subject, (data) => { got.push(text(data)) })
    await listener.ping()
    publisher.publish(subject, bytes('before'))
    await barrier(publisher, listener)
    sub.unsubscribe()
    sub.unsubscribe()
    await listener.ping()
    publisher.publish(subject, bytes('after'))
    await barrier(publisher, listener)
    t.same(got, ['before'])
  })

  void t.test(`${name}: one subscriber receives messages in publish order`, async (t) => {
    const [listener, publisher] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.ordered`
    const got: number[] = []
    listener.subscribe(subject, (data) => { got.push(Number(text(data))) })
    await listener.ping()
    const sent = Array.from({ length: 200 }, (_, i) => i)
    for (const i of sent) publisher.publish(subject, bytes(String(i)))
    await barrier(publisher, listener)
    t.same(got, sent)
  })

  void t.test(`${name}: the receiver gets a copy, not the sender's buffer`, async (t) => {
    const [listener, publisher] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.copy`
    const got: string[] = []
    listener.subscribe(subject, (data) => { got.push(text(data)) })
    await listener.ping()
    const buffer = bytes('original')
    publisher.publish(subject, buffer)
    buffer.fill(0x21)
    await barrier(publisher, listener)
    t.same(got, ['original'])
  })

  void t.test(`${name}: close lets an in-flight handler answer, then refuses work`, async (t) => {
    const [server, client] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.drain`
    const release = gate()
    t.teardown(release.open)
    let started = false
    server.serve(subject, 'drain', async (data) => {
      started = true
      await release.opened
      return data
    })
    await server.ping()
    const answer = client.request(subject, bytes('in flight'), { timeoutMs: 3_000 })
    await waitFor(() => started)
    const order: string[] = []
    const closing = server.close().then(() => { order.push('closed') })
    await client.ping()
    order.push('released')
    release.open()
    t.equal(text(await answer), 'in flight')
    await closing
    t.same(order, ['released', 'closed'], 'close waited for the handler')
    t.equal(codeOf(await rejection(server.request(subject, bytes('x')))), 'closed')
    t.equal(codeOf(await rejection(server.ping())), 'closed')
    t.throws(() => server.subscribe(subject, () => {}), { code: 'closed' })
    t.throws(() => server.serve(subject, 'drain', (data) => data), { code: 'closed' })
    t.throws(() => { server.publish(subject, bytes('x')) }, { code: 'closed' })
    await server.close()
  })

  void t.test(`${name}: close rejects the bus's own pending requests with closed`, async (t) => {
    const [server, client] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.pending`
    const release = gate()
    t.teardown(release.open)
    let started = false
    server.serve(subject, 'pending', async () => { started = true; await release.opened; return bytes('late') })
    await server.ping()
    const pending = client.request(subject, bytes('?'), { timeoutMs: 3_000 })
    await waitFor(() => started)
    const outcome = rejection(pending)
    const closedAt = performance.now()
    await client.close()
    t.equal(codeOf(await outcome), 'closed')
    t.ok(performance.now() - closedAt < 1_000, 'did not wait for the request timeout')
  })

  void t.test(`${name}: a throwing handler leaves the requester to time out and the bus working`, async (t) => {
    const [server, client] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.fragile`
    server.serve(subject, 'fragile', (data) => {
      if (text(data) === 'throw') throw new Error('handler bug')
      if (text(data) === 'reject') return Promise.reject(new Error('async handler bug'))
      return data
    })
    await server.ping()
    const [thrown, rejected] = await Promise.all([
      rejection(client.request(subject, bytes('throw'), { timeoutMs: 300 })),
      rejection(client.request(subject, bytes('reject'), { timeoutMs: 300 }))
    ])
    t.equal(codeOf(thrown), 'timeout')
    t.equal(codeOf(rejected), 'timeout')
    t.equal(text(await client.request(subject, bytes('fine'))), 'fine')
  })

  void t.test(`${name}: a handler that returns nothing sends no reply and keeps serving`, async (t) => {
    const [server, client] = [await open(t), await open(t)]
    const subject = `${uniquePrefix()}.late`
    server.serve(subject, 'late', (data) => text(data) === 'too late' ? undefined : data)
    await server.ping()
    t.equal(codeOf(await rejection(client.request(subject, bytes('too late'), { timeoutMs: 200 }))), 'timeout', 'the requester is left to time out')
    t.equal(text(await client.request(subject, bytes('in time'))), 'in time')
  })
}
