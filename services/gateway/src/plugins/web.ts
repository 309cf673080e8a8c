/** Serves the built web client (web/dist) at `/`. */
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { existsSync } from 'node:fs'

export const webClient = fp(async (app: FastifyInstance, options: { root: string }) => {
  if (existsSync(options.root)) {
    await app.register(fastifyStatic, {
      root: options.root, index: ['index.html'], cacheControl: true, maxAge: '1h', immutable: false,
      // Source maps stay on the build machine: served, they would hand out the client's source layout.
      allowedPath: (pathName) => !pathName.endsWith('.map')
    })
    return
  }
  // A gateway without a built client still serves WebSockets; say what is missing instead of a bare 404.
  app.get('/', { schema: { response: { 503: { type: 'string' } } } }, async (_request, reply) =>
    reply.code(503).type('text/plain').send('The web client is not built: run `npm run build`.'))
}, { name: 'web-client' })
