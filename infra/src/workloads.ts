import type { IContainer } from 'kubernetes-models/v1/Container'
import { PodSpec, type IPodSpec } from 'kubernetes-models/v1/PodSpec'
import { getObject, stringMap, type JsonObject } from './json.js'
import { idOf, nameOf, namespaceOf, type Manifest } from './manifest.js'

/** A pod template of a workload, with the pod spec validated and typed. */
export interface PodTemplate {
  workload: Manifest
  kind: string
  name: string
  namespace: string
  /** Labels of the pods it creates. */
  labels: Record<string, string>
  spec: IPodSpec
}

export interface NamedContainer {
  template: PodTemplate
  container: IContainer
  init: boolean
  /** e.g. "Deployment/gateway container gateway" */
  where: string
}

const TEMPLATE_PATHS: Readonly<Record<string, string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template']
}

/** Kinds whose pods run to completion: probes do not apply to them. */
export const RUN_TO_COMPLETION: ReadonlySet<string> = new Set(['Job', 'CronJob'])

export function podTemplates (manifests: Manifest[]): PodTemplate[] {
  const templates: PodTemplate[] = []
  for (const workload of manifests) {
    let template: JsonObject | undefined
    if (workload.kind === 'Pod') template = workload
    else {
      const path = TEMPLATE_PATHS[workload.kind]
      if (path === undefined) continue
      template = getObject(workload, ...path)
    }
    const spec = getObject(template, 'spec')
    if (template === undefined || spec === undefined) throw new Error(`${idOf(workload)}: no pod template`)
    templates.push({
      workload,
      kind: workload.kind,
      name: nameOf(workload),
      namespace: namespaceOf(workload) ?? 'default',
      labels: stringMap(getObject(template, 'metadata')?.labels),
      spec: typedPodSpec(spec, idOf(workload))
    })
  }
  return templates
}

/** The pod spec as kubernetes-models' PodSpec, after its schema accepted it. */
function typedPodSpec (spec: JsonObject, where: string): IPodSpec {
  const model = new PodSpec(spec as never)
  try {
    model.validate()
  } catch (error) {
    throw new Error(`${where}: invalid pod spec: ${error instanceof Error ? error.message : String(error)}`)
  }
  return model
}

export function containersOf (templates: PodTemplate[]): NamedContainer[] {
  return templates.flatMap((template) => [
    ...(template.spec.initContainers ?? []).map((container) => named(template, container, true)),
    ...template.spec.containers.map((container) => named(template, container, false))
  ])
}

function named (template: PodTemplate, container: IContainer, init: boolean): NamedContainer {
  return { template, container, init, where: `${template.kind}/${template.name} ${init ? 'init container' : 'container'} ${container.name}` }
}

/** Does a label selector (matchLabels / matchExpressions) select these labels? */
export function selectorMatches (
  selector: { matchLabels?: Record<string, string>, matchExpressions?: { key: string, operator: string, values?: string[] }[] } | undefined,
  labels: Record<string, string>
): boolean {
  if (selector === undefined) return false
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false
  }
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key]
    const values = expression.values ?? []
    switch (expression.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false
        break
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false
        break
      case 'Exists':
        if (value === undefined) return false
        break
      case 'DoesNotExist':
        if (value !== undefined) return false
        break
      default:
        return false
    }
  }
  return true
}

/** Service-style selector (plain map): empty or absent selects nothing. */
export function mapSelectorMatches (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined || Object.keys(selector).length === 0) return false
  return Object.entries(selector).every(([key, value]) => labels[key] === value)
}
