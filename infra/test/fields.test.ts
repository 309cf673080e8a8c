import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { idOf, type Manifest } from '../src/manifest.js'
import { validateSchema } from '../src/schema.js'
import { find, OVERLAYS, render, requireKubectl } from './helpers.js'

requireKubectl()

/**
 * The bundled JSON schemas accept unknown fields, so a typo such as
 * `readinesProbe` or `terminationGracePeriodSecond` would pass them and be
 * dropped by the API server. TypeScript's excess-property check against the
 * kubernetes-models interfaces catches those: each rendered object becomes an
 * object literal typed as its kind, and the repository's TypeScript compiles it.
 */
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

function moduleOf (manifest: Manifest): { specifier: string, type: string } {
  const version = manifest.apiVersion.includes('/') ? manifest.apiVersion : `v1`
  return { specifier: `kubernetes-models/${version}/${manifest.kind}`, type: `I${manifest.kind}` }
}

function typeErrors (t: Test, manifests: Manifest[]): string {
  const typed = manifests.filter((manifest) => validateSchema(manifest).status !== 'unvalidated')
  const imports = new Map<string, string>()
  const lines: string[] = []
  typed.forEach((manifest, index) => {
    const { specifier, type } = moduleOf(manifest)
    const alias = `${type}_${[...imports.keys()].length}`
    if (!imports.has(specifier)) imports.set(specifier, alias)
    lines.push(`// ${idOf(manifest)}\nexport const object${index}: ${imports.get(specifier)} = ${JSON.stringify(manifest, null, 2)}\n`)
  })
  const header = [...imports].map(([specifier, alias]) => `import type { ${alias.replace(/_\d+$/, '')} as ${alias} } from '${specifier}'`)
  const dir = t.testdir({
    'manifests.ts': [...header, '', ...lines].join('\n'),
    'tsconfig.json': JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, types: [] },
      files: ['manifests.ts']
    })
  })
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' })
  return result.status === 0 ? '' : result.stdout + result.stderr
}

for (const overlay of OVERLAYS) {
  t.test(`${overlay}: no field the Kubernetes types do not know (typos, misplaced keys)`, async (t) => {
    t.equal(typeErrors(t, render(overlay)), '')
  })
}

t.test('a misspelled field is caught (the check is not vacuous)', async (t) => {
  const manifests = render('overlays/dev')
  const gateway: any = find(manifests, 'Deployment', 'gateway')
  gateway.spec.template.spec.containers[0].readinesProbe = gateway.spec.template.spec.containers[0].readinessProbe
  const vault: any = find(manifests, 'Deployment', 'vault')
  vault.spec.template.spec.terminationGracePeriodSecond = 30
  for (const deployment of [gateway, vault]) t.equal(validateSchema(deployment).status, 'valid', 'the JSON schema alone lets it through')
  const errors = typeErrors(t, manifests)
  t.match(errors, /readinesProbe/)
  t.match(errors, /terminationGracePeriodSecond/)
})
