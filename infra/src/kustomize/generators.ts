import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Manifest } from '../manifest.js'
import { KustomizationError, type GeneratorEntry, type Kustomization } from './kustomization.js'

const KEY_PATTERN = /^[-._a-zA-Z0-9]+$/

/** Secrets and ConfigMaps from secretGenerator / configMapGenerator. */
export function generate(kustomization: Kustomization, directory: string): Manifest[] {
  const generated = kustomization.secretGenerator.length + kustomization.configMapGenerator.length
  if (generated > 0 && !kustomization.disableNameSuffixHash) {
    // kustomize appends a content hash to generated names and rewrites every
    // reference; this renderer does not reproduce that hash.
    throw new KustomizationError(`${directory}: generators need generatorOptions.disableNameSuffixHash: true with the built-in renderer`)
  }
  return [
    ...kustomization.secretGenerator.map((entry): Manifest => {
      const data: Record<string, string> = {}
      for (const [key, value] of collect(entry, directory)) data[key] = Buffer.from(value, 'utf8').toString('base64')
      return { apiVersion: 'v1', kind: 'Secret', metadata: { name: entry.name }, type: entry.type ?? 'Opaque', data }
    }),
    ...kustomization.configMapGenerator.map((entry): Manifest => {
      if (entry.type !== undefined) throw new KustomizationError(`${directory}: a ConfigMap generator has no type`)
      return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: entry.name }, data: Object.fromEntries(collect(entry, directory)) }
    })
  ]
}

function collect(entry: GeneratorEntry, directory: string): Map<string, string> {
  const pairs = new Map<string, string>()
  const add = (line: string, source: string): void => {
    const equals = line.indexOf('=')
    // kustomize would read a bare KEY from the environment of whoever renders: refuse.
    if (equals <= 0) throw new KustomizationError(`${source}: "${line}" is not KEY=VALUE`)
    const key = line.slice(0, equals)
    if (!KEY_PATTERN.test(key)) throw new KustomizationError(`${source}: invalid key "${key}"`)
    if (pairs.has(key)) throw new KustomizationError(`${source}: duplicate key "${key}"`)
    pairs.set(key, line.slice(equals + 1))
  }
  for (const file of entry.envs) {
    const path = resolve(directory, file)
    for (const raw of readFileSync(path, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/)) {
      const line = raw.trimStart()
      if (line === '' || line.startsWith('#')) continue
      add(line, path)
    }
  }
  for (const literal of entry.literals) add(literal, `${directory} literals`)
  return pairs
}
