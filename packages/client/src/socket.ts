/**
 * The part of a WebSocket the session uses: the browser's WebSocket and the `ws`
 * package's both fit, so the same session runs in browsers and in Node.
 */
export interface SocketLike {
  readonly readyState: number
  send (data: string): void
  close (code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number, reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

export type SocketFactory = (url: string) => SocketLike

export const SOCKET_OPEN = 1

/** Uses the platform's WebSocket (browsers, Node 22+); Node 20 callers pass a factory built on `ws`. */
export function defaultSocketFactory (): SocketFactory {
  const Native = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket
  if (Native === undefined) throw new TypeError('no global WebSocket: pass `createSocket` (e.g. from the ws package)')
  return (url) => new Native(url)
}
