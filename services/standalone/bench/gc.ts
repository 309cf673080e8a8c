/**
 * Full garbage collections in a child node process through its inspector (it was
 * started with --inspect on a loopback port), so an RSS reading holds live memory
 * rather than whatever garbage a burst of joins happened to leave.
 */
import { once } from 'node:events'
import WebSocket from 'ws'
import type { Child } from './children.js'
import { within } from './util.js'

const COLLECTIONS = 2

/** Resolves true once the child collected garbage, false when it has no inspector to ask. */
export async function collectGarbage (child: Child, timeoutMs = 30_000): Promise<boolean> {
  const url = child.inspectorUrl
  if (url === undefined || !child.running) return false
  const socket = new WebSocket(url, { perMessageDeflate: false })
  socket.on('error', () => {})
  try {
    await within(timeoutMs, `${child.name}: garbage collection`, (async () => {
      await once(socket, 'open')
      for (let id = 1; id <= COLLECTIONS; id++) {
        const answered = new Promise<void>((resolve) => {
          const listener = (data: Buffer): void => {
            if ((JSON.parse(data.toString('utf8')) as { id?: unknown }).id !== id) return
            socket.off('message', listener)
            resolve()
          }
          socket.on('message', listener)
        })
        socket.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }))
        await answered
      }
    })())
    return true
  } finally {
    socket.terminate()
  }
}
