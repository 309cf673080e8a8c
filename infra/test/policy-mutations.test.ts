import t from 'tap'
import { checkPolicies, formatViolations, POLICIES } from '../src/policies/index.js'
import type { Manifest } from '../src/manifest.js'
import { find, podSpec, render, requireKubectl } from './helpers.js'

requireKubectl()

/**
 * Each policy is shown to fail: take the real rendered manifests, break one
 * thing in memory, and expect that policy (by id) to report it. A policy that
 * cannot fail would pass vacuously.
 */
interface Mutation {
  policy: string
  overlay: string
  what: string
  mutate(manifests: Manifest[]): void
}

const hex64 = 'a3f1c2d4e5b60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90'

const mutations: Mutation[] = [
  {
    policy: 'probes',
    overlay: 'overlays/prod',
    what: 'the gateway loses its readiness probe',
    mutate: (m) => void delete podSpec(m, 'Deployment', 'gateway').containers[0].readinessProbe
  },
  {
    policy: 'probes',
    overlay: 'overlays/dev',
    what: 'the vault loses its liveness probe',
    mutate: (m) => void delete podSpec(m, 'Deployment', 'vault').containers[0].livenessProbe
  },
  {
    policy: 'probes',
    overlay: 'overlays/prod',
    what: 'NATS loses both probes',
    mutate: (m) => {
      const container = podSpec(m, 'StatefulSet', 'nats').containers[0]
      delete container.readinessProbe
      delete container.livenessProbe
    }
  },
  {
    policy: 'resources',
    overlay: 'overlays/prod',
    what: 'the vault has no memory limit',
    mutate: (m) => void delete podSpec(m, 'Deployment', 'vault').containers[0].resources.limits.memory
  },
  {
    policy: 'resources',
    overlay: 'overlays/dev',
    what: 'the migrate Job has no resources at all',
    mutate: (m) => void delete podSpec(m, 'Job', 'vault-migrate').containers[0].resources
  },
  {
    policy: 'security-context',
    overlay: 'overlays/prod',
    what: 'the gateway container drops its securityContext',
    mutate: (m) => void delete podSpec(m, 'Deployment', 'gateway').containers[0].securityContext
  },
  {
    policy: 'security-context',
    overlay: 'overlays/prod',
    what: 'the pod securityContext of NATS is dropped (runAsNonRoot, seccomp)',
    mutate: (m) => void delete podSpec(m, 'StatefulSet', 'nats').securityContext
  },
  {
    policy: 'security-context',
    overlay: 'overlays/dev',
    what: 'the vault mounts a service account token',
    mutate: (m) => void (podSpec(m, 'Deployment', 'vault').automountServiceAccountToken = true)
  },
  {
    policy: 'security-context',
    overlay: 'overlays/dev',
    what: 'the migrate Job may escalate privileges',
    mutate: (m) => void (podSpec(m, 'Job', 'vault-migrate').containers[0].securityContext.allowPrivilegeEscalation = true)
  },
  {
    policy: 'security-context',
    overlay: 'overlays/dev',
    what: 'postgres gets a writable root filesystem',
    mutate: (m) => void (podSpec(m, 'StatefulSet', 'postgres').containers[0].securityContext.readOnlyRootFilesystem = false)
  },
  {
    policy: 'image-tags',
    overlay: 'overlays/prod',
    what: 'the gateway image is :latest',
    mutate: (m) => void (podSpec(m, 'Deployment', 'gateway').containers[0].image = 'registry.example.com/ephemeral-chat/gateway:latest')
  },
  {
    policy: 'image-tags',
    overlay: 'overlays/dev',
    what: 'the NATS image has no tag',
    mutate: (m) => void (podSpec(m, 'StatefulSet', 'nats').containers[0].image = 'nats')
  },
  {
    policy: 'graceful-shutdown',
    overlay: 'overlays/prod',
    what: 'the grace period is shorter than preStop plus the drain',
    mutate: (m) => void (podSpec(m, 'Deployment', 'gateway').terminationGracePeriodSeconds = 10)
  },
  {
    policy: 'graceful-shutdown',
    overlay: 'overlays/prod',
    what: 'the vault has no preStop hook',
    mutate: (m) => void delete podSpec(m, 'Deployment', 'vault').containers[0].lifecycle
  },
  {
    policy: 'secrets',
    overlay: 'overlays/dev',
    what: 'the generated Secret holds a real-looking encryption key',
    mutate: (m) => void ((find(m, 'Secret', 'vault-secrets') as any).data.ENCRYPTION_KEY = Buffer.from(hex64).toString('base64'))
  },
  {
    policy: 'secrets',
    overlay: 'overlays/prod',
    what: 'a Secret with a plaintext password in stringData',
    mutate: (m) =>
      void m.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'leak', namespace: 'ephemeral-chat' }, stringData: { password: 'hunter2-correct-horse' } })
  },
  {
    policy: 'secrets',
    overlay: 'overlays/prod',
    what: 'ENCRYPTION_KEY as a literal env value',
    mutate: (m) => {
      const env = podSpec(m, 'Deployment', 'vault').containers[0].env
      const entry = env.find((variable: any) => variable.name === 'ENCRYPTION_KEY')
      delete entry.valueFrom
      entry.value = hex64
    }
  },
  {
    policy: 'secrets',
    overlay: 'overlays/prod',
    what: 'a database password in a ConfigMap',
    mutate: (m) => void ((find(m, 'ConfigMap', 'vault-config') as any).data.PGPASSWORD = 'secret')
  },
  {
    policy: 'database-access',
    overlay: 'overlays/dev',
    what: 'a NetworkPolicy pair letting the gateway reach postgres',
    mutate: (m) => {
      const namespace = 'ephemeral-chat-dev'
      m.push(
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'gateway-to-db', namespace },
          spec: {
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway' } },
            policyTypes: ['Egress'],
            egress: [{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgres' } } }], ports: [{ port: 5432 }] }]
          }
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'db-from-gateway', namespace },
          spec: {
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgres' } },
            policyTypes: ['Ingress'],
            ingress: [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway' } } }] }]
          }
        }
      )
    }
  },
  {
    policy: 'database-access',
    overlay: 'overlays/prod',
    what: 'the gateway pods carry the database-client label',
    mutate: (m) => void ((find(m, 'Deployment', 'gateway') as any).spec.template.metadata.labels['ephemeral-chat.io/database-client'] = 'true')
  },
  {
    policy: 'database-access',
    overlay: 'overlays/prod',
    what: 'the CloudNativePG instances accept 5432 from any namespace',
    mutate: (m) => {
      const policy: any = find(m, 'NetworkPolicy', 'database-from-operator-and-peers')
      policy.spec.ingress.push({ from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: 5432 }] })
    }
  },
  {
    policy: 'database-access',
    overlay: 'overlays/dev',
    what: 'the default-deny policy is gone, so NATS can reach postgres',
    mutate: (m) => {
      m.splice(m.indexOf(find(m, 'NetworkPolicy', 'default-deny-all')), 1)
      m.splice(m.indexOf(find(m, 'NetworkPolicy', 'database-from-clients')), 1)
    }
  },
  {
    policy: 'network-isolation',
    overlay: 'overlays/prod',
    what: 'no default-deny policy',
    mutate: (m) => void m.splice(m.indexOf(find(m, 'NetworkPolicy', 'default-deny-all')), 1)
  },
  {
    policy: 'network-isolation',
    overlay: 'overlays/dev',
    what: 'DNS egress allowed on UDP only',
    mutate: (m) => void (find(m, 'NetworkPolicy', 'allow-dns-egress') as any).spec.egress[0].ports.pop()
  },
  {
    policy: 'vault-not-exposed',
    overlay: 'overlays/prod',
    what: 'a Service selecting the vault',
    mutate: (m) =>
      void m.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'vault', namespace: 'ephemeral-chat' },
        spec: { selector: { 'app.kubernetes.io/name': 'vault' }, ports: [{ port: 3001 }] }
      })
  },
  {
    policy: 'vault-not-exposed',
    overlay: 'overlays/dev',
    what: 'a Service selecting every database client (vault and migrate Job)',
    mutate: (m) =>
      void m.push({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'db-clients', namespace: 'ephemeral-chat-dev' },
        spec: { selector: { 'ephemeral-chat.io/database-client': 'true' }, ports: [{ port: 80 }] }
      })
  },
  {
    policy: 'no-sticky-sessions',
    overlay: 'overlays/prod',
    what: 'the gateway Service pins clients by address',
    mutate: (m) => void ((find(m, 'Service', 'gateway') as any).spec.sessionAffinity = 'ClientIP')
  },
  {
    policy: 'no-sticky-sessions',
    overlay: 'overlays/prod',
    what: 'cookie affinity on the Ingress',
    mutate: (m) => void ((find(m, 'Ingress', 'gateway') as any).metadata.annotations['nginx.ingress.kubernetes.io/affinity'] = 'cookie')
  },
  {
    policy: 'ingress',
    overlay: 'overlays/prod',
    what: 'access logs switched back on',
    mutate: (m) => void delete (find(m, 'Ingress', 'gateway') as any).metadata.annotations['nginx.ingress.kubernetes.io/enable-access-log']
  },
  {
    policy: 'ingress',
    overlay: 'overlays/dev',
    what: 'the default 60 s proxy read timeout',
    mutate: (m) => void ((find(m, 'Ingress', 'gateway') as any).metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'] = '60')
  }
]

for (const mutation of mutations) {
  t.test(`${mutation.policy} reports: ${mutation.what} (${mutation.overlay})`, async (t) => {
    const manifests = render(mutation.overlay)
    t.same(checkPolicies(manifests), [], 'the unmutated rendering passes')
    mutation.mutate(manifests)
    const violations = checkPolicies(manifests)
    const reported = violations.filter((violation) => violation.policy === mutation.policy)
    t.ok(reported.length > 0, `reported by ${mutation.policy}; all violations:\n${formatViolations(violations)}`)
  })
}

t.test('every policy is shown to fail by at least one mutation', async (t) => {
  const covered = new Set(mutations.map((mutation) => mutation.policy))
  for (const policy of POLICIES) t.ok(covered.has(policy.id), policy.id)
})
