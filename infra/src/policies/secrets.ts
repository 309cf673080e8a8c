import { getObject } from '../json.js'
import { idOf } from '../manifest.js'
import { containersOf, podTemplates } from '../workloads.js'
import type { Policy, Violation } from './types.js'

/** What counts as an obvious placeholder: empty, or saying REPLACE_ME / CHANGE_ME. */
export const PLACEHOLDER = /REPLACE[_-]?ME|CHANGE[_-]?ME/i

/**
 * Keys whose values identify rather than authenticate (a login name, a
 * database name, an address): not secret on their own, so a plain value is fine.
 */
export const NON_SECRET_KEYS: ReadonlySet<string> = new Set(['username', 'user', 'PGUSER', 'PGDATABASE', 'database', 'dbname', 'host', 'port'])

/** Names that announce a secret: such a value must come from a Secret, never a literal or a ConfigMap. */
export const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|ENCRYPTION_KEY|PRIVATE_KEY|API_KEY|CREDENTIAL/i

export function isPlaceholder (value: string): boolean {
  return value === '' || PLACEHOLDER.test(value)
}

export const secretsPolicy: Policy = {
  id: 'secrets',
  description:
    'no real secret in the repository: Secret values are obvious placeholders (REPLACE_ME), ' +
    'and secret-looking settings come from a Secret, never from a literal env value or a ConfigMap',
  check (manifests) {
    const violations: Violation[] = []
    for (const manifest of manifests) {
      const where = idOf(manifest)
      if (manifest.kind === 'Secret') {
        for (const [section, decode] of [
          ['data', (value: string) => Buffer.from(value, 'base64').toString('utf8')],
          ['stringData', (value: string) => value]
        ] as const) {
          const values = getObject(manifest, section) ?? {}
          for (const [key, value] of Object.entries(values)) {
            if (NON_SECRET_KEYS.has(key)) continue
            if (typeof value !== 'string' || !isPlaceholder(decode(value))) {
              violations.push({ policy: this.id, where, message: `${section}.${key} is not an obvious placeholder` })
            }
          }
        }
      }
      if (manifest.kind === 'ConfigMap') {
        for (const key of Object.keys(getObject(manifest, 'data') ?? {})) {
          if (SECRET_NAME.test(key)) violations.push({ policy: this.id, where, message: `ConfigMap key ${key} looks like a secret` })
        }
      }
    }
    for (const { container, where } of containersOf(podTemplates(manifests))) {
      for (const variable of container.env ?? []) {
        if (!SECRET_NAME.test(variable.name)) continue
        if (variable.valueFrom?.secretKeyRef === undefined) {
          violations.push({ policy: this.id, where, message: `env ${variable.name} does not come from a Secret` })
        }
      }
    }
    return violations
  }
}

/** Secret-looking KEY=VALUE lines of a generator's .env file that are not placeholders. */
export function envFileProblems (text: string): string[] {
  const problems: string[] = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const equals = line.indexOf('=')
    const key = equals === -1 ? line : line.slice(0, equals)
    const value = equals === -1 ? '' : line.slice(equals + 1)
    if (!NON_SECRET_KEYS.has(key) && !isPlaceholder(value)) problems.push(`${key} is not an obvious placeholder`)
  }
  return problems
}
