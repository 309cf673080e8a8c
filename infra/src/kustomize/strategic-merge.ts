import { clone, isObject, type Json, type JsonObject } from '../json.js'

/**
 * A subset of Kubernetes strategic-merge-patch, as kustomize applies it to the
 * built-in kinds:
 * - mappings merge recursively; a null value deletes the key;
 * - lists with a merge key (containers and env by name, volumeMounts by
 *   mountPath...) merge element by element: the patch's elements first, in the
 *   patch's order, then the untouched elements of the target in their order
 *   (which is what kustomize 5 emits);
 * - atomic lists (args, command, Ingress rules and tls) are replaced whole.
 * Any other list, and any $-directive inside a patch, throws: the renderer
 * refuses what it cannot reproduce faithfully instead of guessing.
 */
export const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name'
}

export const ATOMIC_LISTS: ReadonlySet<string> = new Set(['args', 'command', 'rules', 'tls'])

export class StrategicMergeError extends Error {
  override name = 'StrategicMergeError'
}

export function strategicMerge(target: JsonObject, patch: JsonObject): JsonObject {
  return mergeObject(target, patch, '')
}

function mergeObject(target: JsonObject, patch: JsonObject, path: string): JsonObject {
  const result: JsonObject = clone(target)
  for (const [key, value] of Object.entries(patch)) {
    const here = `${path}.${key}`
    if (key.startsWith('$')) throw new StrategicMergeError(`${here}: directive not supported`)
    if (value === null) {
      delete result[key]
      continue
    }
    const current = result[key]
    if (isObject(value)) {
      result[key] = mergeObject(isObject(current) ? current : {}, value, here)
    } else if (Array.isArray(value)) {
      result[key] = mergeList(key, Array.isArray(current) ? current : [], value, here)
    } else {
      result[key] = value
    }
  }
  return result
}

function mergeList(key: string, current: Json[], patch: Json[], path: string): Json[] {
  if (ATOMIC_LISTS.has(key)) return clone(patch)
  const mergeKey = MERGE_KEYS[key]
  if (mergeKey === undefined) throw new StrategicMergeError(`${path}: list without a known merge strategy`)
  const keyOf = (element: Json, where: string): string => {
    const value = isObject(element) ? element[mergeKey] : undefined
    if (typeof value !== 'string') throw new StrategicMergeError(`${where}: element without a string "${mergeKey}"`)
    return value
  }
  const patchKeys = new Set<string>()
  const merged = patch.map((element, index) => {
    const id = keyOf(element, `${path}[${index}]`)
    patchKeys.add(id)
    const original = current.find((candidate) => isObject(candidate) && candidate[mergeKey] === id)
    return mergeObject(isObject(original) ? original : {}, element as JsonObject, `${path}[${mergeKey}=${id}]`)
  })
  const untouched = current.filter((element, index) => !patchKeys.has(keyOf(element, `${path}[${index}]`)))
  return [...merged, ...clone(untouched)]
}
