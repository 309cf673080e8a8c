import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { isManifest } from '../src/manifest.js'
import { envFileProblems, secretsPolicy } from '../src/policies/secrets.js'
import { listYamlFiles, parseYamlDocuments, readYamlDocuments } from '../src/yaml-files.js'
import { K8S_DIR } from './helpers.js'

const files = listYamlFiles(K8S_DIR)

t.test('there are manifests to check', async (t) => {
  t.ok(files.length > 20, `${files.length} YAML files under infra/k8s`)
})

for (const file of files) {
  t.test(`${file} parses, with nothing YAML 1.1 would read differently`, async (t) => {
    const documents = readYamlDocuments(join(K8S_DIR, file))
    t.ok(documents.length > 0, 'holds at least one document')
    if (!/(^|\/)kustomization\.yaml$/.test(file)) {
      for (const document of documents) t.ok(isManifest(document), 'each document is a Kubernetes object (apiVersion, kind, metadata.name)')
    }
  })
}

t.test('scalars that YAML 1.1 reads differently are refused unless quoted', async (t) => {
  t.throws(() => parseYamlDocuments('a: off\n', 'inline'), /YAML 1.1/)
  t.throws(() => parseYamlDocuments('time: 1:30\n', 'inline'), /YAML 1.1/)
  t.same(parseYamlDocuments('name: E0\nimage: app:1.0.0\n', 'inline'), [{ name: 'E0', image: 'app:1.0.0' }])
  t.throws(() => parseYamlDocuments('mode: 0644\n', 'inline'), /YAML 1.1/)
  t.throws(() => parseYamlDocuments('a: 1\na: 2\n', 'inline'), /inline/, 'duplicate keys')
  t.same(parseYamlDocuments('a: "off"\n---\n', 'inline'), [{ a: 'off' }])
})

t.test('no Secret or ConfigMap written in the repository holds a real secret', async (t) => {
  for (const file of files) {
    const documents = readYamlDocuments(join(K8S_DIR, file)).filter(isManifest)
    const candidates = documents.filter((document) => document.kind === 'Secret' || document.kind === 'ConfigMap')
    t.same(secretsPolicy.check(candidates), [], file)
  }
})

t.test('every generator .env file holds placeholders only', async (t) => {
  const envFiles = walk(K8S_DIR).filter((path) => path.endsWith('.env'))
  t.ok(envFiles.length > 0, 'the dev overlay has env files')
  for (const path of envFiles) t.same(envFileProblems(readFileSync(path, 'utf8')), [], relative(K8S_DIR, path))
  t.same(envFileProblems('ENCRYPTION_KEY=' + 'ab'.repeat(32)), ['ENCRYPTION_KEY is not an obvious placeholder'], 'a real-looking key is caught')
})

t.test('every file under infra/k8s is used by some kustomization', async (t) => {
  const used = new Set<string>()
  for (const path of walk(K8S_DIR).filter((file) => /(^|\/)kustomization\.yaml$/.test(file))) {
    const directory = dirname(path)
    used.add(path)
    const [kustomization] = readYamlDocuments(path) as Array<Record<string, any>>
    const generators: Array<{ envs?: string[] }> = [...(kustomization?.secretGenerator ?? []), ...(kustomization?.configMapGenerator ?? [])]
    const referenced: string[] = [
      ...(kustomization?.resources ?? []),
      ...(kustomization?.components ?? []),
      ...(kustomization?.patches ?? []).flatMap((patch: { path?: string }) => (patch.path === undefined ? [] : [patch.path])),
      ...generators.flatMap((generator) => generator.envs ?? [])
    ]
    for (const entry of referenced) {
      const target = resolve(directory, entry)
      if (!statSync(target).isDirectory()) used.add(target)
    }
  }
  t.ok(used.size > 20, `${used.size} files referenced`)
  const orphans = walk(K8S_DIR).filter((path) => !used.has(path))
  t.same(orphans.map((path) => relative(K8S_DIR, path)), [], 'no orphan files')
})

function walk (directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name)
    return entry.isDirectory() ? walk(path) : [path]
  })
}
