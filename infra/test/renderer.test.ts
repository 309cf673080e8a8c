import t from 'tap'
import { renderKustomization } from '../src/kustomize/render.js'
import { strategicMerge } from '../src/kustomize/strategic-merge.js'
import { parseImage } from '../src/kustomize/transforms.js'
import { nameOf } from '../src/manifest.js'

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: example/app:1.0.0
          args: ["--a", "--b"]
          env:
            - name: E0
              value: "0"
            - name: E1
              value: "1"
        - name: side
          image: example/side:2.0.0
`

t.test('strategic merge: keyed lists merge, patch elements first, the rest after in their order', async (t) => {
  const merged: any = strategicMerge(
    { list: 1, spec: { containers: [{ name: 'a', env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] }, { name: 'b' }] } },
    { spec: { containers: [{ name: 'c', image: 'c:1' }, { name: 'a', env: [{ name: 'Y', value: 'two' }, { name: 'Z', value: '3' }] }] } }
  )
  t.same(merged.spec.containers.map((container: { name: string }) => container.name), ['c', 'a', 'b'])
  t.same(merged.spec.containers[1].env, [{ name: 'Y', value: 'two' }, { name: 'Z', value: '3' }, { name: 'X', value: '1' }])
})

t.test('strategic merge: null deletes a key, atomic lists are replaced whole', async (t) => {
  const merged: any = strategicMerge({ spec: { tls: [{ hosts: ['a'] }], rules: [{ host: 'a' }, { host: 'b' }], keep: 1 } }, { spec: { tls: null, rules: [{ host: 'c' }] } })
  t.same(merged, { spec: { rules: [{ host: 'c' }], keep: 1 } })
})

t.test('strategic merge: refuses what it cannot reproduce', async (t) => {
  t.throws(() => strategicMerge({ spec: { tolerations: [] } }, { spec: { tolerations: [{ key: 'x' }] } }), /list without a known merge strategy/)
  t.throws(() => strategicMerge({ spec: {} }, { spec: { $retainKeys: ['a'] } }), /directive not supported/)
  t.throws(() => strategicMerge({ env: [] }, { env: [{ value: 'no name' }] }), /without a string "name"/)
})

t.test('image references split into name, tag and digest', async (t) => {
  t.same(parseImage('registry:5000/team/app:1.2.3'), { name: 'registry:5000/team/app', tag: '1.2.3', digest: undefined })
  t.same(parseImage('app@sha256:abc'), { name: 'app', tag: undefined, digest: 'sha256:abc' })
  t.same(parseImage('registry:5000/app'), { name: 'registry:5000/app', tag: undefined, digest: undefined })
})

t.test('overlay: patches, namespace, replicas, images, generators, in kustomize order', async (t) => {
  const dir = t.testdir({
    base: {
      'kustomization.yaml': 'resources: [deployment.yaml, cluster-role.yaml]\n',
      'deployment.yaml': deployment,
      'cluster-role.yaml': 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n'
    },
    overlay: {
      'kustomization.yaml': [
        'namespace: prod',
        'resources: [../base, namespace.yaml]',
        'patches:',
        '  - path: patch.yaml',
        'replicas:',
        '  - name: web',
        '    count: 3',
        'images:',
        '  - name: example/app',
        '    newName: registry.example.com/app',
        '    newTag: "2.0.0"',
        'secretGenerator:',
        '  - name: creds',
        '    envs: [creds.env]',
        '    literals: ["extra=REPLACE_ME"]',
        'configMapGenerator:',
        '  - name: settings',
        '    literals: ["LEVEL=warn"]',
        'generatorOptions:',
        '  disableNameSuffixHash: true',
        ''
      ].join('\n'),
      'namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: placeholder\n',
      'patch.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: app\n          args: ["--c"]\n',
      'creds.env': '# comment\n\n  password=REPLACE_ME\n'
    }
  })
  const manifests: any[] = renderKustomization(`${dir}/overlay`)
  const byName = (name: string): any => manifests.find((manifest) => nameOf(manifest) === name)
  const web = byName('web')
  t.equal(web.metadata.namespace, 'prod')
  t.equal(web.spec.replicas, 3, 'replicas transformer wins over the patch')
  t.same(web.spec.template.spec.containers[0].args, ['--c'])
  t.equal(web.spec.template.spec.containers[0].image, 'registry.example.com/app:2.0.0')
  t.equal(web.spec.template.spec.containers[1].image, 'example/side:2.0.0', 'other images untouched')
  t.equal(byName('prod').kind, 'Namespace', 'the Namespace object takes the namespace name')
  t.equal(byName('reader').metadata.namespace, undefined, 'cluster-scoped objects get no namespace')
  t.same(byName('creds').data, { password: Buffer.from('REPLACE_ME').toString('base64'), extra: Buffer.from('REPLACE_ME').toString('base64') })
  t.equal(byName('creds').type, 'Opaque')
  t.same(byName('settings').data, { LEVEL: 'warn' })
})

t.test('components: resources added, patches applied to what the parent accumulated', async (t) => {
  const dir = t.testdir({
    app: { 'kustomization.yaml': 'resources: [deployment.yaml]\ncomponents: [../extra]\n', 'deployment.yaml': deployment },
    extra: {
      'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [cm.yaml]\npatches:\n  - path: remove.yaml\n',
      'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n',
      'remove.yaml': '$patch: delete\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n'
    }
  })
  t.same(renderKustomization(`${dir}/app`).map(nameOf), ['extra'])
})

t.test('the renderer refuses features it does not implement', async (t) => {
  const cases: Record<string, [Record<string, string>, RegExp]> = {
    'an unsupported field': [{ 'kustomization.yaml': 'namePrefix: x-\n' }, /namePrefix.*not supported/],
    'a targeted patch': [{ 'kustomization.yaml': 'patches:\n  - path: p.yaml\n    target: {kind: Deployment}\n', 'p.yaml': '' }, /target/],
    'hashed generator names': [{ 'kustomization.yaml': 'configMapGenerator:\n  - name: c\n    literals: [a=b]\n' }, /disableNameSuffixHash/],
    'a bare env key read from the environment': [
      { 'kustomization.yaml': 'secretGenerator:\n  - name: s\n    envs: [s.env]\ngeneratorOptions:\n  disableNameSuffixHash: true\n', 's.env': 'HOME\n' },
      /not KEY=VALUE/
    ],
    'a remote resource': [{ 'kustomization.yaml': 'resources: [https://example.com/x.yaml]\n' }, /remote/],
    'a patch that matches nothing': [
      { 'kustomization.yaml': 'resources: [d.yaml]\npatches:\n  - path: p.yaml\n', 'd.yaml': deployment, 'p.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n' },
      /0 objects match/
    ],
    'a merge into a custom resource': [
      {
        'kustomization.yaml': 'resources: [c.yaml]\npatches:\n  - path: p.yaml\n',
        'c.yaml': 'apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\nspec: {}\n',
        'p.yaml': 'apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n  a: 1\n'
      },
      /merging into Thing is not supported/
    ],
    'the same object twice': [{ 'kustomization.yaml': 'resources: [a.yaml, b.yaml]\n', 'a.yaml': deployment, 'b.yaml': deployment }, /defined twice/],
    'replicas for nothing': [{ 'kustomization.yaml': 'replicas:\n  - name: ghost\n    count: 2\n' }, /nothing scalable/]
  }
  for (const [what, [files, expected]] of Object.entries(cases)) {
    const dir = t.testdir(files)
    t.throws(() => renderKustomization(dir), expected, what)
  }
})
