/**
 * Fastify's defaults that would write what a client sent into the logs: a client
 * error logs the raw packet (headers, cookies, X-Forwarded-For) at `trace`, and a
 * request for an unknown route logs its URL at `info`. Both services answer these
 * without logging anything.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Socket } from 'node:net'

/** For Fastify's `clientErrorHandler`: a 400 for a malformed request, then the socket is closed; nothing is logged. */
export function quietClientError (_error: Error, socket: Socket): void {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  else socket.destroy()
}

/** For `setNotFoundHandler`: a plain 404 that leaves the URL out of the logs. */
export async function quietNotFound (_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await reply.code(404).type('text/plain').send('Not found')
}

/**
 * The Prometheus endpoint on a server of its own, for a port that is not the public one
 * (METRICS_PORT): counts and latencies are for the operator, not for every visitor.
 */
export async function buildMetricsApp (metrics: { registry: { contentType: string, metrics (): Promise<string> } }, logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), clientErrorHandler: quietClientError })
  app.setNotFoundHandler(quietNotFound)
  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.registry.metrics()
  })
  await app.ready()
  return app
}

const HealthReply = { type: 'object', properties: { status: { type: 'string' } }, required: ['status'], additionalProperties: false } as const

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus server of this service (listen on METRICS_PORT); closed with the service. */
    metricsApp: FastifyInstance
  }
}

/**
 * The operator's side of a service, the same for every one: `/metrics` on its own server
 * (`app.metricsApp`, closed with the app), unknown URLs answered 404 without logging them,
 * `/healthz` (the process is up) and `/readyz` (503 while closing or while `ready` throws).
 */
export async function registerOps (app: FastifyInstance, options: {
  metrics: { registry: { contentType: string, metrics (): Promise<string> } }
  logger: FastifyBaseLogger
  closing: () => boolean
  ready: () => Promise<void>
}): Promise<void> {
  app.setNotFoundHandler(quietNotFound)
  app.decorate('metricsApp', await buildMetricsApp(options.metrics, options.logger))
  app.addHook('onClose', async () => { await app.metricsApp.close() })
  app.get('/healthz', { schema: { response: { 200: HealthReply } } }, async () => ({ status: 'ok' }))
  app.get('/readyz', { schema: { response: { 200: HealthReply, 503: HealthReply } } }, async (_request, reply) => {
    if (options.closing()) return reply.code(503).send({ status: 'closing' })
    try {
      await options.ready()
      return { status: 'ready' }
    } catch {
      return reply.code(503).send({ status: 'unavailable' })
    }
  })
}
