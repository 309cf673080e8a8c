import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { getString, isObject, type Json, type JsonObject } from '../json.js'
import { readYamlDocuments } from '../yaml-files.js'

/**
 * The subset of kustomization.yaml the built-in renderer understands. Any other
 * field makes loading fail: a field kustomize would apply and this renderer
 * would skip must never pass silently.
 */
export interface Kustomization {
  kind: 'Kustomization' | 'Component'
  resources: string[]
  components: string[]
  namespace: string | undefined
  patches: PatchEntry[]
  replicas: { name: string; count: number }[]
  images: ImageEntry[]
  secretGenerator: GeneratorEntry[]
  configMapGenerator: GeneratorEntry[]
  disableNameSuffixHash: boolean
}

export type PatchEntry = { path: string } | { patch: string }

export interface ImageEntry {
  name: string
  newName: string | undefined
  newTag: string | undefined
  digest: string | undefined
}

export interface GeneratorEntry {
  name: string
  type: string | undefined
  literals: string[]
  envs: string[]
}

export class KustomizationError extends Error {
  override name = 'KustomizationError'
}

const FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'namespace',
  'patches',
  'replicas',
  'images',
  'secretGenerator',
  'configMapGenerator',
  'generatorOptions'
])

export function kustomizationFile(directory: string): string | undefined {
  return FILE_NAMES.map((name) => join(directory, name)).find((path) => existsSync(path))
}

export function loadKustomization(directory: string): Kustomization {
  const file = kustomizationFile(directory)
  if (file === undefined) throw new KustomizationError(`${directory}: no kustomization.yaml`)
  const documents = readYamlDocuments(file)
  const document = documents[0]
  if (documents.length !== 1 || !isObject(document)) throw new KustomizationError(`${file}: expected one mapping`)
  return parseKustomization(document, file)
}

export function parseKustomization(document: JsonObject, file: string): Kustomization {
  for (const field of Object.keys(document)) {
    if (!SUPPORTED_FIELDS.has(field)) throw new KustomizationError(`${file}: field "${field}" is not supported by the built-in renderer`)
  }
  const kind = document.kind ?? 'Kustomization'
  if (kind !== 'Kustomization' && kind !== 'Component') throw new KustomizationError(`${file}: unknown kind ${JSON.stringify(kind)}`)
  const generatorOptions = document.generatorOptions
  let disableNameSuffixHash = false
  if (generatorOptions !== undefined) {
    if (!isObject(generatorOptions)) throw new KustomizationError(`${file}: generatorOptions must be a mapping`)
    for (const key of Object.keys(generatorOptions)) {
      if (key !== 'disableNameSuffixHash') throw new KustomizationError(`${file}: generatorOptions.${key} is not supported`)
    }
    disableNameSuffixHash = generatorOptions.disableNameSuffixHash === true
  }
  return {
    kind,
    resources: stringList(document.resources, file, 'resources'),
    components: stringList(document.components, file, 'components'),
    namespace: optionalString(document.namespace, file, 'namespace'),
    patches: objectList(document.patches, file, 'patches').map((entry) => parsePatch(entry, file)),
    replicas: objectList(document.replicas, file, 'replicas').map((entry) => {
      const name = requiredString(entry.name, file, 'replicas[].name')
      if (typeof entry.count !== 'number' || !Number.isInteger(entry.count)) throw new KustomizationError(`${file}: replicas[].count must be an integer`)
      return { name, count: entry.count }
    }),
    images: objectList(document.images, file, 'images').map((entry) => {
      onlyKeys(entry, ['name', 'newName', 'newTag', 'digest'], file, 'images[]')
      return {
        name: requiredString(entry.name, file, 'images[].name'),
        newName: optionalString(entry.newName, file, 'images[].newName'),
        newTag: optionalString(entry.newTag, file, 'images[].newTag'),
        digest: optionalString(entry.digest, file, 'images[].digest')
      }
    }),
    secretGenerator: objectList(document.secretGenerator, file, 'secretGenerator').map((entry) => parseGenerator(entry, file)),
    configMapGenerator: objectList(document.configMapGenerator, file, 'configMapGenerator').map((entry) => parseGenerator(entry, file)),
    disableNameSuffixHash
  }
}

function parsePatch(entry: JsonObject, file: string): PatchEntry {
  onlyKeys(entry, ['path', 'patch'], file, 'patches[] (no target: only strategic-merge patches naming their object)')
  const path = getString(entry, 'path')
  const patch = getString(entry, 'patch')
  if ((path === undefined) === (patch === undefined)) throw new KustomizationError(`${file}: a patch needs exactly one of path or patch`)
  return path !== undefined ? { path } : { patch: patch ?? '' }
}

function parseGenerator(entry: JsonObject, file: string): GeneratorEntry {
  onlyKeys(entry, ['name', 'type', 'literals', 'envs'], file, 'generator')
  return {
    name: requiredString(entry.name, file, 'generator name'),
    type: optionalString(entry.type, file, 'generator type'),
    literals: stringList(entry.literals, file, 'literals'),
    envs: stringList(entry.envs, file, 'envs')
  }
}

function onlyKeys(entry: JsonObject, allowed: string[], file: string, where: string): void {
  for (const key of Object.keys(entry)) {
    if (!allowed.includes(key)) throw new KustomizationError(`${file}: ${where}: "${key}" is not supported by the built-in renderer`)
  }
}

function stringList(value: Json | undefined, file: string, field: string): string[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new KustomizationError(`${file}: ${field} must be a list of strings`)
  }
  return value
}

function objectList(value: Json | undefined, file: string, field: string): JsonObject[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value) || !value.every(isObject)) throw new KustomizationError(`${file}: ${field} must be a list of mappings`)
  return value
}

function optionalString(value: Json | undefined, file: string, field: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new KustomizationError(`${file}: ${field} must be a string`)
  return value
}

function requiredString(value: Json | undefined, file: string, field: string): string {
  const result = optionalString(value, file, field)
  if (result === undefined || result === '') throw new KustomizationError(`${file}: ${field} is required`)
  return result
}
