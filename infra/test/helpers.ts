import { packageRoot } from '@ephemeral-chat/testkit'
import { execFileSync, spawnSync } from 'node:child_process'
import t from 'tap'
import { join } from 'node:path'
import { isManifest, nameOf, type Manifest } from '../src/manifest.js'
import { parseYamlDocuments } from '../src/yaml-files.js'

export const INFRA_DIR = packageRoot(import.meta.url)
export const REPO_DIR = join(INFRA_DIR, '..')
export const K8S_DIR = join(INFRA_DIR, 'k8s')
export const DOCKERFILE = join(INFRA_DIR, 'docker', 'app.Dockerfile')

/** Every kustomization that is meant to be applied, relative to infra/k8s. */
export const OVERLAYS = ['overlays/dev', 'overlays/prod', 'overlays/prod-gateway-api'] as const
export const KUSTOMIZATIONS = ['base', ...OVERLAYS] as const

const rendered = new Map<string, Manifest[]>()

/**
 * What `kubectl kustomize` renders for a kustomization (the tool every machine here has and
 * the one an operator applies with), cached; callers get a deep copy to mutate.
 */
export function render (kustomization: string): Manifest[] {
  let manifests = rendered.get(kustomization)
  if (manifests === undefined) {
    const output = execFileSync('kubectl', ['kustomize', join(K8S_DIR, kustomization)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    manifests = parseYamlDocuments(output, `kubectl kustomize ${kustomization}`).filter(isManifest)
    rendered.set(kustomization, manifests)
  }
  return structuredClone(manifests)
}

/**
 * Why a test that renders the manifests is skipped here (kubectl missing), or false. With
 * CI=true never skipped: kubectl must be there, and rendering fails without it.
 */
export const KUBECTL_SKIP: string | false =
  process.env.CI !== 'true' && spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status !== 0 &&
  'kubectl (with kustomize) is not installed, and the manifests are rendered with it'

/** For test files that render the manifests throughout: without kubectl the file is skipped, saying why. */
export function requireKubectl (): void {
  if (KUBECTL_SKIP === false) return
  t.plan(0, `skipped: ${KUBECTL_SKIP}`)
  process.exit(0)
}

export function find (manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((manifest) => manifest.kind === kind && nameOf(manifest) === name)
  if (found === undefined) throw new Error(`no ${kind} ${name}`)
  return found
}

/** The pod spec of a workload, for in-place mutation in tests. */
export function podSpec (manifests: Manifest[], kind: string, name: string): any {
  const workload: any = find(manifests, kind, name)
  return kind === 'CronJob' ? workload.spec.jobTemplate.spec.template.spec : workload.spec.template.spec
}
