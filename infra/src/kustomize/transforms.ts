import { getString, isObject, type Json, type JsonObject } from '../json.js'
import { groupOf, idOf, nameOf, namespaceOf, type Manifest } from '../manifest.js'
import { parseYamlDocuments } from '../yaml-files.js'
import { KustomizationError, type ImageEntry, type PatchEntry } from './kustomization.js'
import { strategicMerge } from './strategic-merge.js'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'

/** Kinds the strategic-merge subset knows; other kinds (CRDs) are only deleted, never merged. */
const PATCHABLE_KINDS = new Set([
  'ConfigMap',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'Service',
  'ServiceAccount',
  'Ingress',
  'NetworkPolicy',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
  'Namespace',
  'Secret'
])

const CLUSTER_SCOPED = new Set([
  'ClusterRole',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService',
  'GatewayClass'
])

/** Kinds whose references to a namespace kustomize rewrites; not reproduced here. */
const NAMESPACE_REFERRING = new Set(['RoleBinding', 'ClusterRoleBinding'])

const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController'])

export function applyPatches(resources: Manifest[], patches: PatchEntry[], directory: string): Manifest[] {
  let result = resources
  for (const entry of patches) {
    const source = 'path' in entry ? resolve(directory, entry.path) : `${directory} (inline patch)`
    const text = 'path' in entry ? readFileSync(source, 'utf8') : entry.patch
    const documents = parseYamlDocuments(text, source)
    const patch = documents[0]
    if (documents.length !== 1 || !isObject(patch)) throw new KustomizationError(`${source}: a patch file holds exactly one mapping`)
    result = applyPatch(result, patch, source)
  }
  return result
}

function applyPatch(resources: Manifest[], patch: JsonObject, source: string): Manifest[] {
  const kind = getString(patch, 'kind')
  const apiVersion = getString(patch, 'apiVersion')
  const name = getString(patch, 'metadata', 'name')
  const namespace = getString(patch, 'metadata', 'namespace')
  if (kind === undefined || apiVersion === undefined || name === undefined) {
    throw new KustomizationError(`${source}: a patch names its object (apiVersion, kind, metadata.name)`)
  }
  const matches = resources.filter(
    (resource) =>
      resource.kind === kind &&
      groupOf(resource.apiVersion) === groupOf(apiVersion) &&
      nameOf(resource) === name &&
      (namespace === undefined || namespaceOf(resource) === namespace)
  )
  if (matches.length !== 1) throw new KustomizationError(`${source}: ${matches.length} objects match ${kind} ${name}, expected exactly 1`)
  const target = matches[0] as Manifest
  const directive = patch.$patch
  if (directive !== undefined) {
    if (directive !== 'delete') throw new KustomizationError(`${source}: $patch: ${JSON.stringify(directive)} is not supported`)
    return resources.filter((resource) => resource !== target)
  }
  if (!PATCHABLE_KINDS.has(kind)) throw new KustomizationError(`${source}: merging into ${kind} is not supported (no schema for its lists)`)
  const merged = strategicMerge(target, patch) as Manifest
  return resources.map((resource) => (resource === target ? merged : resource))
}

export function setNamespace(resources: Manifest[], namespace: string): Manifest[] {
  return resources.map((resource) => {
    if (NAMESPACE_REFERRING.has(resource.kind)) {
      throw new KustomizationError(`${idOf(resource)}: namespace rewriting of subjects is not supported by the built-in renderer`)
    }
    if (CLUSTER_SCOPED.has(resource.kind)) return resource
    // kustomize renames Namespace objects to the kustomization's namespace.
    const key = resource.kind === 'Namespace' ? 'name' : 'namespace'
    return { ...resource, metadata: { ...resource.metadata, [key]: namespace } }
  })
}

export function setReplicas(resources: Manifest[], replicas: { name: string; count: number }[], directory: string): Manifest[] {
  let result = resources
  for (const { name, count } of replicas) {
    let found = false
    result = result.map((resource) => {
      if (!SCALABLE.has(resource.kind) || nameOf(resource) !== name) return resource
      found = true
      return { ...resource, spec: { ...(isObject(resource.spec) ? resource.spec : {}), replicas: count } }
    })
    if (!found) throw new KustomizationError(`${directory}: replicas: nothing scalable is named ${name}`)
  }
  return result
}

/** Splits an image reference into name, tag and digest. */
export function parseImage(reference: string): { name: string; tag: string | undefined; digest: string | undefined } {
  const at = reference.indexOf('@')
  const digest = at === -1 ? undefined : reference.slice(at + 1)
  const withoutDigest = at === -1 ? reference : reference.slice(0, at)
  const colon = withoutDigest.lastIndexOf(':')
  const hasTag = colon > withoutDigest.lastIndexOf('/')
  return {
    name: hasTag ? withoutDigest.slice(0, colon) : withoutDigest,
    tag: hasTag ? withoutDigest.slice(colon + 1) : undefined,
    digest
  }
}

export function setImages(resources: Manifest[], images: ImageEntry[], directory: string): Manifest[] {
  if (images.length === 0) return resources
  const used = new Set<string>()
  const rewrite = (reference: string): string => {
    const parsed = parseImage(reference)
    const entry = images.find((image) => image.name === parsed.name)
    if (entry === undefined) return reference
    used.add(entry.name)
    const name = entry.newName ?? parsed.name
    if (entry.digest !== undefined) return `${name}@${entry.digest}`
    if (entry.newTag !== undefined) return `${name}:${entry.newTag}`
    const tag = parsed.tag === undefined ? '' : `:${parsed.tag}`
    return `${name}${tag}${parsed.digest === undefined ? '' : '@' + parsed.digest}`
  }
  const result = resources.map((resource) => rewriteContainers(resource, rewrite) as Manifest)
  for (const image of images) {
    if (!used.has(image.name)) throw new KustomizationError(`${directory}: images: no container uses ${image.name}`)
  }
  return result
}

/** Rewrites `image` in every element of any `containers` / `initContainers` list. */
function rewriteContainers(value: Json, rewrite: (image: string) => string): Json {
  if (Array.isArray(value)) return value.map((item) => rewriteContainers(item, rewrite))
  if (!isObject(value)) return value
  const result: JsonObject = {}
  for (const [key, item] of Object.entries(value)) {
    if ((key === 'containers' || key === 'initContainers') && Array.isArray(item)) {
      result[key] = item.map((container) =>
        isObject(container) && typeof container.image === 'string' ? { ...container, image: rewrite(container.image) } : container
      )
    } else {
      result[key] = rewriteContainers(item, rewrite)
    }
  }
  return result
}
