import type { IContainerPort } from 'kubernetes-models/v1/ContainerPort'
import { getObject, stringMap } from '../json.js'
import { nameOf, namespaceOf, type Manifest } from '../manifest.js'
import {
  connectionAllowed,
  loadPolicies,
  namespaceLabelsOf,
  strangerEndpoints,
  type Endpoint,
  type LoadedPolicy
} from '../network-policy.js'
import { podTemplates, type PodTemplate } from '../workloads.js'
import type { Policy, Violation } from './types.js'

export const POSTGRES_PORT = 5432

/** The only workloads allowed to reach PostgreSQL: the vault and its migrate Job (same image). */
export const DATABASE_CLIENTS: readonly { kind: string, name: string }[] = [
  { kind: 'Deployment', name: 'vault' },
  { kind: 'Job', name: 'vault-migrate' }
]

/**
 * The CloudNativePG operator must reach its instances on 5432 (and 8000) to
 * manage them; it is part of the database, not a client of it.
 */
export const CNPG_OPERATOR = { namespace: 'cnpg-system', labels: { 'app.kubernetes.io/name': 'cloudnative-pg' } }

const CNPG_PORTS: IContainerPort[] = [
  { name: 'postgresql', containerPort: 5432 },
  { name: 'metrics', containerPort: 9187 },
  { name: 'status', containerPort: 8000 }
]

export function endpointOf (template: PodTemplate, manifests: Manifest[]): Endpoint {
  return {
    description: `${template.kind}/${template.name}`,
    namespace: template.namespace,
    namespaceLabels: namespaceLabelsOf(manifests, template.namespace),
    labels: template.labels,
    ports: template.spec.containers.flatMap((container) => container.ports ?? [])
  }
}

/** PostgreSQL pods: workloads that serve 5432 or run a postgres image, and CloudNativePG instances. */
export function databaseEndpoints (manifests: Manifest[]): Endpoint[] {
  const fromTemplates = podTemplates(manifests)
    .filter((template) =>
      template.spec.containers.some(
        (container) =>
          (container.ports ?? []).some((port) => port.containerPort === POSTGRES_PORT) || /(^|\/)postgres(ql)?[:@]/.test(container.image ?? '')
      )
    )
    .map((template) => endpointOf(template, manifests))
  const fromClusters = manifests
    .filter((manifest) => manifest.apiVersion.startsWith('postgresql.cnpg.io/') && manifest.kind === 'Cluster')
    .map((cluster): Endpoint => {
      const namespace = namespaceOf(cluster) ?? 'default'
      return {
        description: `CloudNativePG Cluster/${nameOf(cluster)} instance`,
        namespace,
        namespaceLabels: namespaceLabelsOf(manifests, namespace),
        labels: {
          ...stringMap(getObject(cluster, 'spec', 'inheritedMetadata', 'labels')),
          'cnpg.io/cluster': nameOf(cluster),
          'cnpg.io/podRole': 'instance'
        },
        ports: CNPG_PORTS
      }
    })
  return [...fromTemplates, ...fromClusters]
}

function renderedNamespaces (manifests: Manifest[]): string[] {
  return [...new Set(podTemplates(manifests).map((template) => template.namespace))]
}

export const databaseAccessPolicy: Policy = {
  id: 'database-access',
  description: 'NetworkPolicies let only the vault and its migrate Job (and the database itself and its operator) reach PostgreSQL',
  check (manifests) {
    const violations: Violation[] = []
    const policies = loadPolicies(manifests)
    const databases = databaseEndpoints(manifests)
    const templates = podTemplates(manifests)
    const isDatabase = new Set(databases.map((endpoint) => endpoint.description))
    const isClient = (template: PodTemplate): boolean =>
      DATABASE_CLIENTS.some((client) => client.kind === template.kind && client.name === template.name)
    const sources: { endpoint: Endpoint, allowed: boolean }[] = [
      ...templates.map((template) => {
        const endpoint = endpointOf(template, manifests)
        return { endpoint, allowed: isClient(template) || isDatabase.has(endpoint.description) }
      }),
      ...databases.map((endpoint) => ({ endpoint, allowed: true })),
      ...strangerEndpoints(policies, renderedNamespaces(manifests), manifests).map((endpoint) => ({
        endpoint,
        allowed: isCnpgOperator(endpoint, manifests)
      }))
    ]
    for (const target of databases) {
      for (const { endpoint, allowed } of sources) {
        if (allowed || !connectionAllowed(policies, endpoint, target, POSTGRES_PORT)) continue
        violations.push({ policy: this.id, where: target.description, message: `${endpoint.description} may connect on ${POSTGRES_PORT}` })
      }
    }
    return violations
  }
}

function isCnpgOperator (endpoint: Endpoint, manifests: Manifest[]): boolean {
  const hasCluster = manifests.some((manifest) => manifest.apiVersion.startsWith('postgresql.cnpg.io/'))
  return (
    hasCluster &&
    endpoint.namespace === CNPG_OPERATOR.namespace &&
    Object.entries(CNPG_OPERATOR.labels).every(([key, value]) => endpoint.labels[key] === value)
  )
}

const KUBE_DNS: Endpoint = {
  description: 'kube-dns',
  namespace: 'kube-system',
  namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
  labels: { 'k8s-app': 'kube-dns' },
  ports: [
    { name: 'dns', containerPort: 53, protocol: 'UDP' },
    { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }
  ]
}

function isDefaultDeny (loaded: LoadedPolicy): boolean {
  const spec = loaded.policy.spec
  const selector = spec?.podSelector ?? {}
  const selectsAll = Object.keys(selector.matchLabels ?? {}).length === 0 && (selector.matchExpressions ?? []).length === 0
  const types = spec?.policyTypes ?? []
  return selectsAll && types.includes('Ingress') && types.includes('Egress') && (spec?.ingress ?? []).length === 0 && (spec?.egress ?? []).length === 0
}

export const networkIsolationPolicy: Policy = {
  id: 'network-isolation',
  description: 'every namespace with pods has a default-deny (ingress and egress) policy, and every pod may still resolve names (kube-dns, UDP and TCP 53)',
  check (manifests) {
    const violations: Violation[] = []
    const policies = loadPolicies(manifests)
    for (const namespace of renderedNamespaces(manifests)) {
      if (!policies.some((loaded) => loaded.namespace === namespace && isDefaultDeny(loaded))) {
        violations.push({ policy: this.id, where: `namespace ${namespace}`, message: 'no default-deny NetworkPolicy for ingress and egress' })
      }
    }
    for (const template of podTemplates(manifests)) {
      const endpoint = endpointOf(template, manifests)
      for (const protocol of ['UDP', 'TCP']) {
        if (!connectionAllowed(policies, endpoint, KUBE_DNS, 53, protocol)) {
          violations.push({ policy: this.id, where: endpoint.description, message: `cannot reach kube-dns on ${protocol} 53` })
        }
      }
    }
    return violations
  }
}
