import t from 'tap'
import { diffRenderings } from '../src/compare.js'
import { idOf } from '../src/manifest.js'
import { validateSchema } from '../src/schema.js'
import { KUSTOMIZATIONS, kubectlAvailable, kubectlKustomize, render } from './helpers.js'

if (!kubectlAvailable()) {
  t.comment('kubectl not available: overlays rendered by the built-in renderer only')
  t.pass('skipped the comparison with kubectl kustomize')
} else {
  for (const kustomization of KUSTOMIZATIONS) {
    t.test(`${kustomization}: kubectl kustomize renders exactly what the built-in renderer does`, async (t) => {
      const reference = kubectlKustomize(kustomization)
      t.same(diffRenderings(reference, render(kustomization)), [], 'no difference, object by object')
      for (const manifest of reference) {
        const result = validateSchema(manifest)
        t.not(result.status, 'invalid', `${idOf(manifest)}${result.status === 'invalid' ? ': ' + result.message : ''}`)
      }
    })
  }
}
