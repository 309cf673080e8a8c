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

/**
 * Type errors of each named set of manifests, from one compiler run over a module per set
 * (a run costs seconds: one for all of them).
 */
function typeErrors (t: Test, sets: Record<string, Manifest[]>): Record<string, string> {
  const files: Record<string, string> = {}
  const names = Object.keys(sets)
  names.forEach((name, n) => {
    const typed = sets[name]!.filter((manifest) => validateSchema(manifest).status !== 'unvalidated')
    const imports = new Map<string, string>()
    const lines: string[] = []
    typed.forEach((manifest, index) => {
      const { specifier, type } = moduleOf(manifest)
      const alias = `${type}_${[...imports.keys()].length}`
      if (!imports.has(specifier)) imports.set(specifier, alias)
      lines.push(`// ${idOf(manifest)}\nexport const object${index}: ${imports.get(specifier)} = ${JSON.stringify(manifest, null, 2)}\n`)
    })
    const header = [...imports].map(([specifier, alias]) => `import type { ${alias.replace(/_\d+$/, '')} as ${alias} } from '${specifier}'`)
    files[`set${n}.ts`] = [...header, '', ...lines].join('\n')
  })
  const dir = t.testdir({
    ...files,
    'tsconfig.json': JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, types: [] },
      files: Object.keys(files)
    })
  })
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir, encoding: 'utf8' })
  // One line per error, each starting with its file's name (relative to the folder it ran in).
  const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '')
  const unattributed = lines.filter((line) => !/^set\d+\.ts\(/.test(line) && !/^\s/.test(line))
  if (unattributed.length > 0 || (result.status !== 0 && lines.length === 0)) throw new Error(`tsc failed: ${lines.join('\n') || String(result.status)}`)
  return Object.fromEntries(names.map((name, n) => [name, lines.filter((line) => line.startsWith(`set${n}.ts(`)).join('\n')]))
}

/** The dev overlay with two misspelled fields. */
function misspelled (): Manifest[] {
  const manifests = render('overlays/dev')
  const gateway: any = find(manifests, 'Deployment', 'gateway')
  gateway.spec.template.spec.containers[0].readinesProbe = gateway.spec.template.spec.containers[0].readinessProbe
  const vault: any = find(manifests, 'Deployment', 'vault')
  vault.spec.template.spec.terminationGracePeriodSecond = 30
  return manifests
}

let compiled: Record<string, string> | undefined
/** Every overlay and the misspelled set, compiled once (in the first test that asks). */
function errorsOf (t: Test, name: string): string {
  compiled ??= typeErrors(t, { ...Object.fromEntries(OVERLAYS.map((overlay) => [overlay, render(overlay)])), misspelled: misspelled() })
  return compiled[name]!
}

for (const overlay of OVERLAYS) {
  t.test(`${overlay}: no field the Kubernetes types do not know (typos, misplaced keys)`, async (t) => {
    t.equal(errorsOf(t, overlay), '')
  })
}

t.test('a misspelled field is caught (the check is not vacuous)', async (t) => {
  const manifests = misspelled()
  const gateway = find(manifests, 'Deployment', 'gateway')
  const vault = find(manifests, 'Deployment', 'vault')
  for (const deployment of [gateway, vault]) t.equal(validateSchema(deployment).status, 'valid', 'the JSON schema alone lets it through')
  const errors = errorsOf(t, 'misspelled')
  t.match(errors, /readinesProbe/)
  t.match(errors, /terminationGracePeriodSecond/)
})
