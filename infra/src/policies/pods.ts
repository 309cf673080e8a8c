import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'
import { containersOf, podTemplates, RUN_TO_COMPLETION } from '../workloads.js'
import type { Policy, Violation } from './types.js'

/** Seconds the services take to drain after SIGTERM (gateway and vault: ~10 s). */
export const SERVICE_DRAIN_SECONDS = 10
/** Slack on top of preStop + drain before the kubelet's SIGKILL. */
export const SHUTDOWN_MARGIN_SECONDS = 5
const DEFAULT_GRACE_SECONDS = 30

export const probesPolicy: Policy = {
  id: 'probes',
  description: 'every container of a long-running workload has a readiness and a liveness probe (Jobs excepted)',
  check (manifests) {
    const violations: Violation[] = []
    for (const { template, container, init, where } of containersOf(podTemplates(manifests))) {
      if (init || RUN_TO_COMPLETION.has(template.kind)) continue
      if (container.readinessProbe === undefined) violations.push({ policy: this.id, where, message: 'no readinessProbe' })
      if (container.livenessProbe === undefined) violations.push({ policy: this.id, where, message: 'no livenessProbe' })
    }
    return violations
  }
}

export const resourcesPolicy: Policy = {
  id: 'resources',
  description: 'every container requests and limits cpu and memory',
  check (manifests) {
    const violations: Violation[] = []
    for (const { container, where } of containersOf(podTemplates(manifests))) {
      for (const section of ['requests', 'limits'] as const) {
        for (const resource of ['cpu', 'memory']) {
          if (container.resources?.[section]?.[resource] === undefined) {
            violations.push({ policy: this.id, where, message: `no resources.${section}.${resource}` })
          }
        }
      }
    }
    return violations
  }
}

export const securityContextPolicy: Policy = {
  id: 'security-context',
  description:
    'pods and containers run non-root with a read-only root filesystem, no privilege escalation, ALL capabilities dropped, ' +
    'the RuntimeDefault seccomp profile, no host namespaces and no service account token',
  check (manifests) {
    const violations: Violation[] = []
    const templates = podTemplates(manifests)
    for (const template of templates) {
      const where = `${template.kind}/${template.name}`
      const spec = template.spec
      if (spec.automountServiceAccountToken !== false) violations.push({ policy: this.id, where, message: 'automountServiceAccountToken is not false' })
      if (spec.hostNetwork === true || spec.hostPID === true || spec.hostIPC === true) {
        violations.push({ policy: this.id, where, message: 'uses a host namespace' })
      }
    }
    for (const { template, container, where } of containersOf(templates)) {
      violations.push(...containerProblems(template.spec, container).map((message) => ({ policy: this.id, where, message })))
    }
    return violations
  }
}

function containerProblems (pod: IPodSpec, container: IContainer): string[] {
  const problems: string[] = []
  const own = container.securityContext
  const shared = pod.securityContext
  if ((own?.runAsNonRoot ?? shared?.runAsNonRoot) !== true) problems.push('runAsNonRoot is not true')
  if ((own?.runAsUser ?? shared?.runAsUser) === 0) problems.push('runAsUser is 0')
  if (own?.readOnlyRootFilesystem !== true) problems.push('readOnlyRootFilesystem is not true')
  if (own?.allowPrivilegeEscalation !== false) problems.push('allowPrivilegeEscalation is not false')
  if (own?.privileged === true) problems.push('privileged')
  if (!(own?.capabilities?.drop ?? []).includes('ALL')) problems.push('capabilities.drop does not include ALL')
  if ((own?.capabilities?.add ?? []).length > 0) problems.push('adds capabilities')
  if ((own?.seccompProfile ?? shared?.seccompProfile)?.type !== 'RuntimeDefault') problems.push('seccompProfile is not RuntimeDefault')
  return problems
}

export const imageTagsPolicy: Policy = {
  id: 'image-tags',
  description: 'every image is pinned: an explicit tag other than latest, or a sha256 digest',
  check (manifests) {
    const violations: Violation[] = []
    for (const { container, where } of containersOf(podTemplates(manifests))) {
      const image = container.image ?? ''
      const { tag, digest } = parseImage(image)
      if (digest !== undefined) {
        if (!/^sha256:[0-9a-f]{64}$/.test(digest)) violations.push({ policy: this.id, where, message: `malformed digest in ${image}` })
      } else if (tag === undefined) {
        violations.push({ policy: this.id, where, message: `image ${image} has no tag` })
      } else if (tag === 'latest') {
        violations.push({ policy: this.id, where, message: `image ${image} uses the latest tag` })
      }
    }
    return violations
  }
}

export const gracefulShutdownPolicy: Policy = {
  id: 'graceful-shutdown',
  description: `long-running containers have a preStop hook, and the grace period outlasts a preStop sleep plus the ${SERVICE_DRAIN_SECONDS} s drain`,
  check (manifests) {
    const violations: Violation[] = []
    for (const { template, container, init, where } of containersOf(podTemplates(manifests))) {
      if (init || RUN_TO_COMPLETION.has(template.kind)) continue
      const preStop = container.lifecycle?.preStop
      if (preStop === undefined) {
        violations.push({ policy: this.id, where, message: 'no preStop hook' })
        continue
      }
      const command = preStop.exec?.command ?? []
      if (command[0] === 'sleep' || command[0] === '/bin/sleep') {
        const seconds = Number(command[1])
        const grace = template.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS
        const needed = seconds + SERVICE_DRAIN_SECONDS + SHUTDOWN_MARGIN_SECONDS
        if (!Number.isFinite(seconds)) violations.push({ policy: this.id, where, message: `preStop sleep without a number of seconds` })
        else if (grace < needed) {
          violations.push({ policy: this.id, where, message: `terminationGracePeriodSeconds ${grace} < preStop ${seconds} s + drain ${SERVICE_DRAIN_SECONDS} s + ${SHUTDOWN_MARGIN_SECONDS} s` })
        }
      }
    }
    return violations
  }
}

/** An image reference's name, tag and digest (`registry/name:tag@sha256:…`). */
export function parseImage (reference: string): { name: string, tag: string | undefined, digest: string | undefined } {
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
