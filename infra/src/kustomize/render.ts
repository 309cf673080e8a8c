import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { idOf, keyOf, type Manifest } from '../manifest.js'
import { readManifests } from '../yaml-files.js'
import { generate } from './generators.js'
import { KustomizationError, loadKustomization, type Kustomization } from './kustomization.js'
import { applyPatches, setImages, setNamespace, setReplicas } from './transforms.js'

/**
 * Renders a kustomization directory the way `kustomize build` does, for the
 * features listed in kustomization.ts. Order of work, as in kustomize 5:
 * resources, then components, then generators, then transformers (patches,
 * namespace, replicas, images).
 */
export function renderKustomization(directory: string): Manifest[] {
  return accumulate(resolve(directory), [], [])
}

function accumulate(directory: string, existing: Manifest[], stack: string[]): Manifest[] {
  if (stack.includes(directory)) throw new KustomizationError(`cycle: ${[...stack, directory].join(' -> ')}`)
  const kustomization = loadKustomization(directory)
  const chain = [...stack, directory]
  let resources = [...existing]
  const add = (manifests: Manifest[]): void => {
    for (const manifest of manifests) {
      if (resources.some((other) => keyOf(other) === keyOf(manifest))) {
        throw new KustomizationError(`${directory}: ${idOf(manifest)} is defined twice`)
      }
      resources.push(manifest)
    }
  }
  for (const entry of kustomization.resources) {
    if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith('github.com/')) {
      throw new KustomizationError(`${directory}: remote resource ${entry} is not supported`)
    }
    const path = resolve(directory, entry)
    if (statSync(path).isDirectory()) {
      const child = loadKustomization(path)
      if (child.kind !== 'Kustomization') throw new KustomizationError(`${path}: a Component is listed under components, not resources`)
      add(accumulate(path, [], chain))
    } else {
      add(readManifests(path))
    }
  }
  for (const entry of kustomization.components) {
    const path = resolve(directory, entry)
    const component = loadKustomization(path)
    if (component.kind !== 'Component') throw new KustomizationError(`${path}: not a Component`)
    resources = accumulate(path, resources, chain)
  }
  add(generate(kustomization, directory))
  return transform(kustomization, directory, resources)
}

function transform(kustomization: Kustomization, directory: string, resources: Manifest[]): Manifest[] {
  let result = applyPatches(resources, kustomization.patches, directory)
  if (kustomization.namespace !== undefined) result = setNamespace(result, kustomization.namespace)
  result = setReplicas(result, kustomization.replicas, directory)
  return setImages(result, kustomization.images, directory)
}
