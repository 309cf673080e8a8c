import { execFileSync, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { renderKustomization } from '../src/kustomize/render.js'
import { isManifest, nameOf, type Manifest } from '../src/manifest.js'
import { parseYamlDocuments } from '../src/yaml-files.js'

export const INFRA_DIR = fileURLToPath(new URL('..', import.meta.url))
export const REPO_DIR = join(INFRA_DIR, '..')
export const K8S_DIR = join(INFRA_DIR, 'k8s')
export const DOCKERFILE = join(INFRA_DIR, 'docker', 'app.Dockerfile')

/** Every kustomization that is meant to be applied, relative to infra/k8s. */
export const OVERLAYS = ['overlays/dev', 'overlays/prod', 'overlays/prod-gateway-api'] as const
export const KUSTOMIZATIONS = ['base', ...OVERLAYS] as const

const rendered = new Map<string, Manifest[]>()

/** The built-in rendering of a kustomization, cached; callers get a deep copy to mutate. */
export function render(kustomization: string): Manifest[] {
  let manifests = rendered.get(kustomization)
  if (manifests === undefined) {
    manifests = renderKustomization(join(K8S_DIR, kustomization))
    rendered.set(kustomization, manifests)
  }
  return structuredClone(manifests)
}

export function kubectlAvailable(): boolean {
  const result = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
  return result.status === 0
}

export function kubectlKustomize(kustomization: string): Manifest[] {
  const output = execFileSync('kubectl', ['kustomize', join(K8S_DIR, kustomization)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  return parseYamlDocuments(output, `kubectl kustomize ${kustomization}`).filter(isManifest)
}

export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((manifest) => manifest.kind === kind && nameOf(manifest) === name)
  if (found === undefined) throw new Error(`no ${kind} ${name}`)
  return found
}

/** The pod spec of a workload, for in-place mutation in tests. */
export function podSpec(manifests: Manifest[], kind: string, name: string): any {
  const workload: any = find(manifests, kind, name)
  return kind === 'CronJob' ? workload.spec.jobTemplate.spec.template.spec : workload.spec.template.spec
}
