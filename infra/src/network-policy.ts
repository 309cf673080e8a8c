import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer'
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort'
import { NetworkPolicy, type INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { IContainerPort } from 'kubernetes-models/v1/ContainerPort'
import { getObject, stringMap } from './json.js'
import { idOf, nameOf, namespaceOf, type Manifest } from './manifest.js'
import { selectorMatches } from './workloads.js'

/**
 * A small evaluator of Kubernetes NetworkPolicy semantics, enough to answer
 * "may a pod with these labels, in this namespace, open a connection to that
 * pod on that port?" for the policies rendered from this repository.
 *
 * Conservative where it cannot know: an ipBlock peer is taken to match every
 * pod (it may cover pod addresses), and a namespace without any rendered
 * policy is taken to allow all egress (its policies are not ours to see).
 */
export interface Endpoint {
  /** What this endpoint stands for, e.g. "Deployment/gateway" or "pod in kube-system". */
  description: string
  namespace: string
  namespaceLabels: Record<string, string>
  labels: Record<string, string>
  /** Container ports, to resolve named ports of rules that target this endpoint. */
  ports: IContainerPort[]
}

export interface LoadedPolicy {
  name: string
  namespace: string
  policy: INetworkPolicy
}

export function loadPolicies (manifests: Manifest[]): LoadedPolicy[] {
  return manifests
    .filter((manifest) => manifest.kind === 'NetworkPolicy')
    .map((manifest) => {
      const policy = new NetworkPolicy(manifest)
      try {
        policy.validate()
      } catch (error) {
        throw new Error(`${idOf(manifest)}: ${error instanceof Error ? error.message : String(error)}`)
      }
      return { name: nameOf(manifest), namespace: namespaceOf(manifest) ?? 'default', policy }
    })
}

/** Labels of the namespaces rendered in the manifests (plus the automatic name label). */
export function namespaceLabelsOf (manifests: Manifest[], namespace: string): Record<string, string> {
  const object = manifests.find((manifest) => manifest.kind === 'Namespace' && nameOf(manifest) === namespace)
  return { ...stringMap(getObject(object, 'metadata')?.labels), 'kubernetes.io/metadata.name': namespace }
}

function policyTypes (loaded: LoadedPolicy): string[] {
  const spec = loaded.policy.spec
  if (spec?.policyTypes !== undefined) return spec.policyTypes
  return spec?.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress']
}

function selects (loaded: LoadedPolicy, endpoint: Endpoint): boolean {
  return loaded.namespace === endpoint.namespace && selectorMatches(loaded.policy.spec?.podSelector ?? {}, endpoint.labels)
}

function peerMatches (peer: INetworkPolicyPeer, policyNamespace: string, endpoint: Endpoint): boolean {
  if (peer.ipBlock !== undefined) return true
  if (peer.namespaceSelector !== undefined) {
    if (!selectorMatches(peer.namespaceSelector, endpoint.namespaceLabels)) return false
    return peer.podSelector === undefined || selectorMatches(peer.podSelector, endpoint.labels)
  }
  if (peer.podSelector !== undefined) return endpoint.namespace === policyNamespace && selectorMatches(peer.podSelector, endpoint.labels)
  return true
}

function portMatches (ports: INetworkPolicyPort[] | undefined, target: Endpoint, port: number, protocol: string): boolean {
  if (ports === undefined || ports.length === 0) return true
  return ports.some((entry) => {
    if ((entry.protocol ?? 'TCP') !== protocol) return false
    if (entry.port === undefined) return true
    if (typeof entry.port === 'number') return entry.endPort === undefined ? entry.port === port : port >= entry.port && port <= entry.endPort
    return target.ports.some((containerPort) => containerPort.name === entry.port && containerPort.containerPort === port)
  })
}

function peersMatch (peers: INetworkPolicyPeer[] | undefined, policyNamespace: string, endpoint: Endpoint): boolean {
  return peers === undefined || peers.length === 0 || peers.some((peer) => peerMatches(peer, policyNamespace, endpoint))
}

/** Egress side: allowed unless some policy isolates `from` for egress and none of them lets this through. */
export function egressAllows (policies: LoadedPolicy[], from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  const isolating = policies.filter((loaded) => selects(loaded, from) && policyTypes(loaded).includes('Egress'))
  if (isolating.length === 0) return true
  return isolating.some((loaded) =>
    (loaded.policy.spec?.egress ?? []).some((rule) => peersMatch(rule.to, loaded.namespace, to) && portMatches(rule.ports, to, port, protocol))
  )
}

/** Ingress side: allowed unless some policy isolates `to` for ingress and none of them lets this through. */
export function ingressAllows (policies: LoadedPolicy[], from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  const isolating = policies.filter((loaded) => selects(loaded, to) && policyTypes(loaded).includes('Ingress'))
  if (isolating.length === 0) return true
  return isolating.some((loaded) =>
    (loaded.policy.spec?.ingress ?? []).some((rule) => peersMatch(rule.from, loaded.namespace, from) && portMatches(rule.ports, to, port, protocol))
  )
}

export function connectionAllowed (policies: LoadedPolicy[], from: Endpoint, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  return egressAllows(policies, from, to, port, protocol) && ingressAllows(policies, from, to, port, protocol)
}

/**
 * Pods outside the rendered workloads that the policies could let in: for
 * every peer with a namespaceSelector, a pod shaped after that peer and an
 * unlabelled pod in the same namespace; plus an unlabelled pod in every
 * namespace we render and in one we do not.
 */
export function strangerEndpoints (policies: LoadedPolicy[], renderedNamespaces: string[], manifests: Manifest[]): Endpoint[] {
  const strangers: Endpoint[] = []
  const unlabelled = (namespace: string, namespaceLabels: Record<string, string>): Endpoint => ({
    description: `an unlabelled pod in namespace ${namespace}`,
    namespace,
    namespaceLabels,
    labels: {},
    ports: []
  })
  for (const namespace of renderedNamespaces) strangers.push(unlabelled(namespace, namespaceLabelsOf(manifests, namespace)))
  strangers.push(unlabelled('elsewhere', { 'kubernetes.io/metadata.name': 'elsewhere' }))
  for (const loaded of policies) {
    const peers = [...(loaded.policy.spec?.ingress ?? []).flatMap((rule) => rule.from ?? [])]
    for (const peer of peers) {
      if (peer.namespaceSelector === undefined) continue
      const namespaceLabels = labelsSatisfying(peer.namespaceSelector)
      const namespace = namespaceLabels['kubernetes.io/metadata.name'] ?? 'some-namespace'
      namespaceLabels['kubernetes.io/metadata.name'] = namespace
      strangers.push(unlabelled(namespace, namespaceLabels))
      strangers.push({
        description: `a pod in namespace ${namespace} matching a peer of NetworkPolicy ${loaded.name}`,
        namespace,
        namespaceLabels,
        labels: labelsSatisfying(peer.podSelector ?? {}),
        ports: []
      })
    }
  }
  const seen = new Set<string>()
  return strangers.filter((endpoint) => {
    const key = JSON.stringify([endpoint.namespace, endpoint.namespaceLabels, endpoint.labels])
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** Some labels that satisfy a selector's positive terms (In, Exists, matchLabels). */
function labelsSatisfying (selector: { matchLabels?: Record<string, string>, matchExpressions?: { key: string, operator: string, values?: string[] }[] }): Record<string, string> {
  const labels: Record<string, string> = { ...(selector.matchLabels ?? {}) }
  for (const expression of selector.matchExpressions ?? []) {
    if (expression.operator === 'In') labels[expression.key] = expression.values?.[0] ?? ''
    if (expression.operator === 'Exists') labels[expression.key] = 'any'
  }
  return labels
}
