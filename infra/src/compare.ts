import { deepEqual, isObject, type Json } from './json.js'
import { idOf, keyOf, type Manifest } from './manifest.js'

/**
 * Differences between two renderings of the same kustomization, object by
 * object (matched on group, kind, namespace and name); object key order is
 * ignored, list order is not. Empty when both hold the same objects.
 */
export function diffRenderings(expected: Manifest[], actual: Manifest[]): string[] {
  const differences: string[] = []
  const actualByKey = new Map(actual.map((manifest) => [keyOf(manifest), manifest]))
  const expectedKeys = new Set(expected.map(keyOf))
  for (const manifest of expected) {
    const other = actualByKey.get(keyOf(manifest))
    if (other === undefined) differences.push(`missing: ${idOf(manifest)}`)
    else differences.push(...diffValues(manifest, other, idOf(manifest)))
  }
  for (const manifest of actual) {
    if (!expectedKeys.has(keyOf(manifest))) differences.push(`unexpected: ${idOf(manifest)}`)
  }
  return differences
}

function diffValues(expected: Json | undefined, actual: Json | undefined, path: string): string[] {
  if (deepEqual(expected, actual)) return []
  if (isObject(expected) && isObject(actual)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)])
    return [...keys].flatMap((key) => diffValues(expected[key], actual[key], `${path}.${key}`))
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    return expected.flatMap((item, index) => diffValues(item, actual[index], `${path}[${index}]`))
  }
  return [`${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`]
}
