import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { runtimeImports, undeclaredRuntimeImports, workspacesOf } from '../src/runtime-deps.js'
import { REPO_DIR } from './helpers.js'

/**
 * The images install each service's production dependencies only: whatever a
 * service (or a workspace package it uses) imports at run time must be in its
 * own "dependencies", or the container fails at start while the monorepo works.
 */
const workspaces = workspacesOf(REPO_DIR)

for (const service of ['@ephemeral-chat/gateway', '@ephemeral-chat/vault']) {
  const workspace = workspaces.get(service)
  const sources = workspace === undefined ? undefined : join(workspace.directory, 'src')
  const skip = sources !== undefined && existsSync(sources) ? false : `${service} has no src/ yet`
  t.test(`${service}: every runtime import is a declared dependency`, { skip }, async (t) => {
    t.same(undeclaredRuntimeImports(workspaces, service), [])
  })
}

t.test('runtime imports are told apart from type-only ones', async (t) => {
  const source = [
    "import type { FastifyInstance } from 'fastify'",
    "import { type Pool } from 'pg'",
    "import Fastify from 'fastify'",
    "import * as nats from '@nats-io/transport-node'",
    "export { Type } from 'typebox/type'",
    "export type { Static } from 'typebox'",
    "import './side-effect.js'",
    "import 'reflect-metadata'",
    "import { readFile } from 'node:fs/promises'",
    "import path from 'path'",
    "const kysely = await import('kysely')",
    "import {\n  a,\n  b\n} from '@ephemeral-chat/protocol'",
    "export const x = 1; export type Y = string",
    "import { local } from '../local.js'"
  ].join('\n')
  t.same([...runtimeImports(source)].sort(), ['@ephemeral-chat/protocol', '@nats-io/transport-node', 'fastify', 'kysely', 'pg', 'reflect-metadata', 'typebox'])
})
