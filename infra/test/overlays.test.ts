import t from 'tap'
import { getObject, stringMap } from '../src/json.js'
import { nameOf, type Manifest } from '../src/manifest.js'
import { connectionAllowed, loadPolicies, namespaceLabelsOf, type Endpoint } from '../src/network-policy.js'
import { databaseEndpoints, endpointOf } from '../src/policies/network.js'
import { podTemplates } from '../src/workloads.js'
import { find, podSpec, render, requireKubectl } from './helpers.js'

requireKubectl()

const kinds = (manifests: Manifest[], kind: string): string[] => manifests.filter((manifest) => manifest.kind === kind).map(nameOf).sort()

t.test('dev: one replica of each, a single-instance PostgreSQL StatefulSet, placeholder Secrets', async (t) => {
  const dev = render('overlays/dev')
  for (const [kind, name] of [['Deployment', 'gateway'], ['Deployment', 'vault'], ['StatefulSet', 'nats'], ['StatefulSet', 'postgres']] as const) {
    t.equal((find(dev, kind, name) as any).spec.replicas, 1, `${kind}/${name}`)
  }
  t.same(kinds(dev, 'Cluster'), [], 'no CloudNativePG')
  t.same(kinds(dev, 'HorizontalPodAutoscaler'), [])
  t.same(kinds(dev, 'Secret'), ['vault-db', 'vault-secrets'])
  const postgres = podSpec(dev, 'StatefulSet', 'postgres').containers[0]
  t.ok(postgres.args.includes('log_min_error_statement=panic') && postgres.args.includes('log_error_verbosity=terse'), 'PostgreSQL logs no statements and no DETAIL')
  t.equal((find(dev, 'ConfigMap', 'vault-config') as any).data.PGHOST, 'postgres')
  t.ok(dev.every((manifest) => manifest.kind === 'Namespace' || manifest.metadata.namespace === 'ephemeral-chat-dev'), 'everything in ephemeral-chat-dev')
})

t.test('prod: HPA-driven gateways (min 3), 2 vaults, 3-node NATS, a 3-instance CloudNativePG Cluster', async (t) => {
  const prod = render('overlays/prod')
  const gateway: any = find(prod, 'Deployment', 'gateway')
  t.equal(gateway.spec.replicas, undefined, 'the gateway Deployment leaves its count to the HPA')
  const hpa: any = find(prod, 'HorizontalPodAutoscaler', 'gateway')
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' })
  t.equal(hpa.spec.minReplicas, 3)
  t.ok(hpa.spec.maxReplicas > 3)
  t.equal((find(prod, 'Deployment', 'vault') as any).spec.replicas, 2)
  t.equal((find(prod, 'StatefulSet', 'nats') as any).spec.replicas, 3)
  t.equal((find(prod, 'Cluster', 'chat-pg') as any).spec.instances, 3)
  t.same(kinds(prod, 'StatefulSet'), ['nats'], 'no self-run PostgreSQL')
  t.same(kinds(prod, 'Secret'), [], 'no Secret in the prod rendering: the operator and CloudNativePG create them')
  t.equal((find(prod, 'ConfigMap', 'vault-config') as any).data.PGHOST, 'chat-pg-rw')
  for (const [kind, name, container] of [['Deployment', 'vault', 'vault'], ['Job', 'vault-migrate', 'migrate']] as const) {
    const env = podSpec(prod, kind, name).containers.find((candidate: any) => candidate.name === container).env
    for (const variable of ['PGUSER', 'PGPASSWORD']) {
      t.equal(env.find((entry: any) => entry.name === variable).valueFrom.secretKeyRef.name, 'chat-pg-app', `${name} ${variable} from CloudNativePG`)
    }
  }
  // Every container that is not NATS runs one of our two images, from the registry, at a release tag.
  const ours = podTemplates(prod).flatMap((template) => template.spec.containers as Array<{ name: string, image?: string }>)
    .filter((container) => !(container.image ?? '').startsWith('nats:'))
  t.ok(ours.length >= 3, `gateway, vault and the migration job at least (${ours.length} containers)`)
  for (const container of ours) {
    t.match(container.image, /^registry\.example\.com\/ephemeral-chat\/(gateway|vault):\d+\.\d+\.\d+$/, `${container.name} runs a released image`)
  }
})

t.test('prod: the NATS routes name exactly the StatefulSet peers', async (t) => {
  const prod = render('overlays/prod')
  const replicas = (find(prod, 'StatefulSet', 'nats') as any).spec.replicas as number
  const config = (find(prod, 'ConfigMap', 'nats-config') as any).data['nats.conf'] as string
  const routes = [...config.matchAll(/nats:\/\/(nats-\d+)\.nats-headless:6222/g)].map((match) => match[1])
  t.same(routes, Array.from({ length: replicas }, (_, index) => `nats-${index}`))
  t.equal((find(prod, 'StatefulSet', 'nats') as any).spec.serviceName, 'nats-headless')
  t.equal((find(prod, 'Service', 'nats-headless') as any).spec.clusterIP, 'None')
  t.equal((find(prod, 'Service', 'nats-headless') as any).spec.publishNotReadyAddresses, true, 'peers resolve before they are ready')
})

t.test('the Ingress carries the WebSocket and no-log annotations, and no affinity', async (t) => {
  for (const overlay of ['overlays/dev', 'overlays/prod']) {
    const annotations = stringMap(getObject(find(render(overlay), 'Ingress', 'gateway'), 'metadata', 'annotations'))
    t.equal(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'], '3600', overlay)
    t.equal(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'], '3600', overlay)
    t.equal(annotations['nginx.ingress.kubernetes.io/enable-access-log'], 'false', overlay)
    t.notOk(Object.keys(annotations).some((key) => key.includes('affinity')), overlay)
  }
})

t.test('the Gateway API component swaps the Ingress for an HTTPRoute', async (t) => {
  const withRoute = render('overlays/prod-gateway-api')
  t.same(kinds(withRoute, 'Ingress'), [])
  t.same(kinds(withRoute, 'HTTPRoute'), ['gateway'])
  t.notOk(withRoute.some((manifest) => nameOf(manifest) === 'gateway-from-ingress'), 'the ingress-nginx NetworkPolicy goes too')
  t.ok(withRoute.some((manifest) => nameOf(manifest) === 'gateway-from-gateway-api'))
})

t.test('probes point at the health endpoints', async (t) => {
  const prod = render('overlays/prod')
  for (const name of ['gateway', 'vault']) {
    const container = podSpec(prod, 'Deployment', name).containers[0]
    t.equal(container.readinessProbe.httpGet.path, '/readyz', name)
    t.equal(container.livenessProbe.httpGet.path, '/healthz', name)
  }
  t.equal(podSpec(prod, 'StatefulSet', 'nats').containers[0].readinessProbe.httpGet.path, '/healthz')
  t.equal(podSpec(prod, 'Job', 'vault-migrate').containers[0].command.join(' '), 'node services/vault/dist/src/migrate.js')
})

t.test('NATS shuts down in lame duck mode within its grace period', async (t) => {
  for (const overlay of ['overlays/dev', 'overlays/prod']) {
    const manifests = render(overlay)
    const spec = podSpec(manifests, 'StatefulSet', 'nats')
    t.same(spec.containers[0].lifecycle.preStop.exec.command, ['/bin/sh', '-c', 'nats-server --signal ldm=/var/run/nats/nats.pid && sleep 3'])
    const config = (find(manifests, 'ConfigMap', 'nats-config') as any).data['nats.conf'] as string
    const seconds = (key: string): number => Number(new RegExp(`${key}:\\s*(\\d+)s`).exec(config)?.[1])
    t.match(config, /pid_file: \/var\/run\/nats\/nats\.pid/)
    t.ok(spec.terminationGracePeriodSeconds > seconds('lame_duck_grace_period') + seconds('lame_duck_duration'), `${overlay}: grace period outlasts lame duck`)
  }
})

/** Who may talk to whom, decided by the rendered NetworkPolicies. */
t.test('network paths: the ones the product needs are open, the rest closed', async (t) => {
  for (const overlay of ['overlays/dev', 'overlays/prod']) {
    const manifests = render(overlay)
    const policies = loadPolicies(manifests)
    const pods = new Map(podTemplates(manifests).map((template) => [template.name, endpointOf(template, manifests)]))
    const pod = (name: string): Endpoint => {
      const endpoint = pods.get(name)
      if (endpoint === undefined) throw new Error(`no pod ${name}`)
      return endpoint
    }
    const database = databaseEndpoints(manifests)[0] as Endpoint
    const outside = (namespace: string, labels: Record<string, string>): Endpoint => ({
      description: `${namespace} pod`,
      namespace,
      namespaceLabels: namespaceLabelsOf(manifests, namespace),
      labels,
      ports: []
    })
    const ingressController = outside('ingress-nginx', { 'app.kubernetes.io/name': 'ingress-nginx' })
    const prometheus = outside('monitoring', { 'app.kubernetes.io/name': 'prometheus' })
    const stranger = outside('elsewhere', {})
    const open: [Endpoint, Endpoint, number][] = [
      [ingressController, pod('gateway'), 3000],
      [pod('gateway'), pod('nats'), 4222],
      [pod('vault'), pod('nats'), 4222],
      [pod('nats'), pod('nats'), 6222],
      [pod('vault'), database, 5432],
      [pod('vault-migrate'), database, 5432],
      [prometheus, pod('gateway'), 9090],
      [prometheus, pod('vault'), 9090]
    ]
    const closed: [Endpoint, Endpoint, number][] = [
      [pod('gateway'), database, 5432],
      [pod('nats'), database, 5432],
      [pod('gateway'), pod('vault'), 3001],
      [ingressController, pod('vault'), 3001],
      [ingressController, pod('nats'), 4222],
      [stranger, pod('gateway'), 3000],
      [ingressController, pod('gateway'), 9090],
      [prometheus, pod('gateway'), 3000],
      [prometheus, pod('vault'), 3001],
      [stranger, pod('nats'), 4222],
      [stranger, database, 5432],
      [pod('vault-migrate'), pod('nats'), 4222],
      [pod('gateway'), outside('elsewhere', {}), 443]
    ]
    for (const [from, to, port] of open) t.ok(connectionAllowed(policies, from, to, port), `${overlay}: ${from.description} → ${to.description}:${port} open`)
    for (const [from, to, port] of closed) t.notOk(connectionAllowed(policies, from, to, port), `${overlay}: ${from.description} → ${to.description}:${port} closed`)
  }
})
