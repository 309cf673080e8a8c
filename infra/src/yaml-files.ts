import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseAllDocuments, visit } from 'yaml'
import { isManifest, type Manifest } from './manifest.js'
import type { Json } from './json.js'

export class YamlError extends Error {
  override name = 'YamlError'
}

/**
 * Plain scalars that YAML 1.1, the dialect of Kubernetes tooling (go-yaml v2),
 * reads as something else than YAML 1.2 does: booleans such as on/off/yes/no/y/n,
 * octal numbers with a leading zero, sexagesimal numbers like 1:30.
 */
const YAML_11_AMBIGUOUS = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0[0-7_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$/

/**
 * Every document of a YAML stream as plain JSON; any parse error or warning
 * throws, and so does an unquoted scalar that YAML 1.1 would read differently
 * (an `off` that must stay a string has to be quoted).
 */
export function parseYamlDocuments (text: string, source: string): Json[] {
  const documents = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true })
  // parseAllDocuments returns an EmptyStream (no documents) for a blank file.
  const list = Array.isArray(documents) ? documents : []
  const result: Json[] = []
  for (const document of list) {
    const problems = [...document.errors, ...document.warnings].map((problem) => problem.message)
    visit(document, {
      Scalar (_key, node) {
        if (node.type === 'PLAIN' && typeof node.source === 'string' && YAML_11_AMBIGUOUS.test(node.source)) {
          problems.push(`"${node.source}" reads differently as YAML 1.1: quote it`)
        }
      }
    })
    if (problems.length > 0) throw new YamlError(`${source}: ${problems.join('; ')}`)
    const value = document.toJS({ maxAliasCount: 0 }) as Json | undefined
    // A stream may hold empty documents (a trailing ---); they carry nothing.
    if (value === null || value === undefined) continue
    result.push(value)
  }
  return result
}

export function readYamlDocuments (path: string): Json[] {
  return parseYamlDocuments(readFileSync(path, 'utf8'), path)
}

/** Every document of a file, each required to be a Kubernetes object. */
export function readManifests (path: string): Manifest[] {
  return readYamlDocuments(path).map((document, index) => {
    if (!isManifest(document)) {
      throw new YamlError(`${path}: document ${index + 1} is not a Kubernetes object (apiVersion, kind, metadata.name)`)
    }
    return document
  })
}

/** Every *.yaml / *.yml file under a directory, sorted, as paths relative to it. */
export function listYamlFiles (root: string): string[] {
  const found: string[] = []
  const walk = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (/\.ya?ml$/.test(entry.name)) found.push(relative(root, path))
    }
  }
  walk(root)
  return found.sort()
}
