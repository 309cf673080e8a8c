import t from 'tap'
import { groupOf, idOf, nameOf } from '../src/manifest.js'
import { validateSchema } from '../src/schema.js'
import { find, KUSTOMIZATIONS, render, requireKubectl } from './helpers.js'

requireKubectl()

const unvalidated = new Set<string>()

for (const kustomization of KUSTOMIZATIONS) {
  t.test(`${kustomization}: every object validates against the Kubernetes schema`, async (t) => {
    const manifests = render(kustomization)
    t.ok(manifests.length > 10)
    for (const manifest of manifests) {
      const result = validateSchema(manifest)
      if (result.status === 'unvalidated') {
        unvalidated.add(`${manifest.apiVersion} ${manifest.kind}`)
        continue
      }
      t.equal(result.status, 'valid', `${idOf(manifest)}${result.status === 'invalid' ? ': ' + result.message : ''}`)
    }
  })
}

t.test('the schema check is not vacuous', async (t) => {
  const manifests = render('overlays/prod')
  const deployment: any = find(manifests, 'Deployment', 'gateway')
  deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http'
  const result = validateSchema(deployment)
  t.equal(result.status, 'invalid', 'a string containerPort is refused')
  t.equal(validateSchema({ apiVersion: 'apps/v1beta2', kind: 'Deployment', metadata: { name: 'x' } }).status, 'invalid', 'an unknown built-in apiVersion is refused, not skipped')
  t.equal(validateSchema({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{}] } }).status, 'invalid', 'a port without a number is refused')
})

t.test('custom resources without a bundled schema: checked for shape only', async (t) => {
  t.comment(`not schema-validated (no bundled model): ${[...unvalidated].sort().join(', ')}`)
  t.same([...unvalidated].sort(), ['gateway.networking.k8s.io/v1 HTTPRoute', 'postgresql.cnpg.io/v1 Cluster'])

  const prod = render('overlays/prod')
  const cluster: any = find(prod, 'Cluster', 'chat-pg')
  t.equal(groupOf(cluster.apiVersion), 'postgresql.cnpg.io')
  t.equal(cluster.spec.instances, 3, 'three instances')
  t.equal(cluster.spec.bootstrap.initdb.database, 'ephemeral_chat')
  t.match(cluster.spec.storage.size, /^\d+Gi$/)
  t.match(cluster.spec.imageName, /^ghcr\.io\/cloudnative-pg\/postgresql:\d+\.\d+/, 'image pinned to a minor release')
  for (const value of Object.values(cluster.spec.postgresql.parameters)) t.type(value, 'string', 'CNPG parameters are strings')

  const withRoute = render('overlays/prod-gateway-api')
  const route: any = find(withRoute, 'HTTPRoute', 'gateway')
  t.ok(route.spec.parentRefs.length > 0, 'attached to a Gateway')
  for (const rule of route.spec.rules) {
    for (const backend of rule.backendRefs) {
      const service: any = find(withRoute, 'Service', backend.name)
      t.ok(
        service.spec.ports.some((port: any) => port.port === backend.port),
        `backend ${backend.name}:${backend.port} is a port of Service ${nameOf(service)}`
      )
    }
  }
})
