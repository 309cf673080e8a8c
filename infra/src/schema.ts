import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import { CronJob } from 'kubernetes-models/batch/v1/CronJob'
import { Job } from 'kubernetes-models/batch/v1/Job'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role'
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim'
import { Pod } from 'kubernetes-models/v1/Pod'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { groupOf, type Manifest } from './manifest.js'

/** Anything kubernetes-models can build and validate; the data is checked at run time. */
type ModelClass = new (data: never) => { validate(): void }

const MODELS: ReadonlyMap<string, ModelClass> = new Map<string, ModelClass>([
  ['v1/ConfigMap', ConfigMap],
  ['v1/Namespace', Namespace],
  ['v1/PersistentVolumeClaim', PersistentVolumeClaim],
  ['v1/Pod', Pod],
  ['v1/Secret', Secret],
  ['v1/Service', Service],
  ['v1/ServiceAccount', ServiceAccount],
  ['apps/v1/DaemonSet', DaemonSet],
  ['apps/v1/Deployment', Deployment],
  ['apps/v1/StatefulSet', StatefulSet],
  ['batch/v1/CronJob', CronJob],
  ['batch/v1/Job', Job],
  ['networking.k8s.io/v1/Ingress', Ingress],
  ['networking.k8s.io/v1/NetworkPolicy', NetworkPolicy],
  ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
  ['autoscaling/v2/HorizontalPodAutoscaler', HorizontalPodAutoscaler],
  ['rbac.authorization.k8s.io/v1/Role', Role],
  ['rbac.authorization.k8s.io/v1/RoleBinding', RoleBinding]
])

/**
 * Custom resources whose schema kubernetes-models does not bundle. Only these
 * API groups may go unvalidated; any other unknown apiVersion/kind is an error
 * (a typo such as apps/v1beta2 must not pass as "not validated").
 */
export const UNBUNDLED_GROUPS: ReadonlySet<string> = new Set(['postgresql.cnpg.io', 'gateway.networking.k8s.io'])

export type SchemaResult = { status: 'valid' } | { status: 'invalid', message: string } | { status: 'unvalidated', reason: string }

export function validateSchema (manifest: Manifest): SchemaResult {
  const model = MODELS.get(`${manifest.apiVersion}/${manifest.kind}`)
  if (model === undefined) {
    const group = groupOf(manifest.apiVersion)
    if (UNBUNDLED_GROUPS.has(group)) return { status: 'unvalidated', reason: `no bundled schema for ${manifest.apiVersion} ${manifest.kind}` }
    return { status: 'invalid', message: `unknown kind ${manifest.kind} in ${manifest.apiVersion}` }
  }
  try {
    new model(manifest as never).validate()
    return { status: 'valid' }
  } catch (error) {
    return { status: 'invalid', message: error instanceof Error ? error.message : String(error) }
  }
}

export function schemaKinds (): string[] {
  return [...MODELS.keys()]
}
