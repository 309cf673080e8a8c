/** Plain JSON values, as parsed from YAML manifests. */
export type Json = null | boolean | number | string | Json[] | JsonObject
export interface JsonObject {
  [key: string]: Json
}

export function isObject (value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function clone<T extends Json> (value: T): T {
  return structuredClone(value)
}

/** Walks nested objects by key; undefined as soon as a step is not an object. */
export function getPath (value: Json | undefined, ...keys: string[]): Json | undefined {
  let current: Json | undefined = value
  for (const key of keys) {
    if (!isObject(current)) return undefined
    current = current[key]
  }
  return current
}

export function getString (value: Json | undefined, ...keys: string[]): string | undefined {
  const found = getPath(value, ...keys)
  return typeof found === 'string' ? found : undefined
}

export function getObject (value: Json | undefined, ...keys: string[]): JsonObject | undefined {
  const found = getPath(value, ...keys)
  return isObject(found) ? found : undefined
}

export function getArray (value: Json | undefined, ...keys: string[]): Json[] | undefined {
  const found = getPath(value, ...keys)
  return Array.isArray(found) ? found : undefined
}

/** Structural equality where object key order does not matter and list order does. */
export function deepEqual (a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, index) => deepEqual(item, b[index]))
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    if (keys.length !== Object.keys(b).length) return false
    return keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]))
  }
  return false
}

/** String map (labels, annotations, selectors) or an empty one. */
export function stringMap (value: Json | undefined): Record<string, string> {
  const result: Record<string, string> = {}
  if (!isObject(value)) return result
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === 'string') result[key] = item
  }
  return result
}
