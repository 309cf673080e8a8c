import { getString, isObject, type Json, type JsonObject } from './json.js'

/** One Kubernetes object as a JSON document. */
export interface Manifest extends JsonObject {
  apiVersion: string
  kind: string
  metadata: JsonObject
}

export function isManifest (value: Json): value is Manifest {
  return (
    isObject(value) &&
    typeof value.apiVersion === 'string' &&
    typeof value.kind === 'string' &&
    isObject(value.metadata) &&
    typeof value.metadata.name === 'string'
  )
}

export function nameOf (manifest: Manifest): string {
  return getString(manifest, 'metadata', 'name') ?? ''
}

export function namespaceOf (manifest: Manifest): string | undefined {
  return getString(manifest, 'metadata', 'namespace')
}

/** API group of an apiVersion: "" for the core group. */
export function groupOf (apiVersion: string): string {
  const slash = apiVersion.indexOf('/')
  return slash === -1 ? '' : apiVersion.slice(0, slash)
}

/** Human readable id, e.g. "apps/v1 Deployment ephemeral-chat/gateway". */
export function idOf (manifest: Manifest): string {
  const namespace = namespaceOf(manifest)
  return `${manifest.apiVersion} ${manifest.kind} ${namespace === undefined ? '' : namespace + '/'}${nameOf(manifest)}`
}

/** Identity used to match objects across renderers: group, kind, namespace, name. */
export function keyOf (manifest: Manifest): string {
  return `${groupOf(manifest.apiVersion)}|${manifest.kind}|${namespaceOf(manifest) ?? ''}|${nameOf(manifest)}`
}
