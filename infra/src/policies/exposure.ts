import { getObject, getString, stringMap } from '../json.js'
import { idOf, namespaceOf } from '../manifest.js'
import { mapSelectorMatches, podTemplates } from '../workloads.js'
import { DATABASE_CLIENTS } from './network.js'
import type { Policy, Violation } from './types.js'

export const vaultNotExposedPolicy: Policy = {
  id: 'vault-not-exposed',
  description: 'no Service selects the vault pods (or its migrate Job): the vault has no network API',
  check (manifests) {
    const violations: Violation[] = []
    const vaultPods = podTemplates(manifests).filter((template) =>
      DATABASE_CLIENTS.some((client) => client.kind === template.kind && client.name === template.name)
    )
    for (const service of manifests.filter((manifest) => manifest.kind === 'Service')) {
      const selector = stringMap(getObject(service, 'spec', 'selector'))
      const namespace = namespaceOf(service) ?? 'default'
      for (const pods of vaultPods) {
        if (pods.namespace === namespace && mapSelectorMatches(selector, pods.labels)) {
          violations.push({ policy: this.id, where: idOf(service), message: `selects the pods of ${pods.kind}/${pods.name}` })
        }
      }
    }
    return violations
  }
}

/** ingress-nginx annotations that pin a client to one backend. */
const AFFINITY_ANNOTATIONS = [
  'nginx.ingress.kubernetes.io/affinity',
  'nginx.ingress.kubernetes.io/affinity-mode',
  'nginx.ingress.kubernetes.io/session-cookie-name',
  'nginx.ingress.kubernetes.io/upstream-hash-by'
]

export const noStickySessionsPolicy: Policy = {
  id: 'no-sticky-sessions',
  description: 'gateways are interchangeable: no Service session affinity, no ingress-nginx affinity or hashing',
  check (manifests) {
    const violations: Violation[] = []
    for (const manifest of manifests) {
      if (manifest.kind === 'Service' && (getString(manifest, 'spec', 'sessionAffinity') ?? 'None') !== 'None') {
        violations.push({ policy: this.id, where: idOf(manifest), message: 'sessionAffinity is set' })
      }
      if (manifest.kind === 'Ingress') {
        const annotations = stringMap(getObject(manifest, 'metadata', 'annotations'))
        for (const annotation of AFFINITY_ANNOTATIONS) {
          if (annotation in annotations) violations.push({ policy: this.id, where: idOf(manifest), message: `${annotation} is set` })
        }
      }
    }
    return violations
  }
}

export const ACCESS_LOG_ANNOTATION = 'nginx.ingress.kubernetes.io/enable-access-log'
const WEBSOCKET_TIMEOUTS = ['nginx.ingress.kubernetes.io/proxy-read-timeout', 'nginx.ingress.kubernetes.io/proxy-send-timeout']
export const MIN_WEBSOCKET_TIMEOUT_SECONDS = 3600

export const ingressPolicy: Policy = {
  id: 'ingress',
  description: `ingress-nginx keeps no access log and lets WebSockets idle for at least ${MIN_WEBSOCKET_TIMEOUT_SECONDS} s`,
  check (manifests) {
    const violations: Violation[] = []
    for (const manifest of manifests.filter((candidate) => candidate.kind === 'Ingress')) {
      const where = idOf(manifest)
      const annotations = stringMap(getObject(manifest, 'metadata', 'annotations'))
      if (annotations[ACCESS_LOG_ANNOTATION] !== 'false') violations.push({ policy: this.id, where, message: `${ACCESS_LOG_ANNOTATION} is not "false"` })
      for (const annotation of WEBSOCKET_TIMEOUTS) {
        const seconds = Number(annotations[annotation])
        if (!(seconds >= MIN_WEBSOCKET_TIMEOUT_SECONDS)) violations.push({ policy: this.id, where, message: `${annotation} is below ${MIN_WEBSOCKET_TIMEOUT_SECONDS}` })
      }
    }
    return violations
  }
}
