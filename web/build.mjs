// Bundles the browser client into static files the gateway serves:
//
//   node web/build.mjs                 → web/dist/{index.html, styles.css, favicon.svg, app.js, app.js.map}
//   node web/build.mjs --outdir <dir>  → the same files in <dir> (the browser tests build a private copy)
//
// The workspace packages are bundled from their compiled output (packages/*/dist), so
// run `tsc -b` first; `npm run build` at the root does both in that order.
import { build } from 'esbuild'
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const webDir = dirname(fileURLToPath(import.meta.url))
const { values } = parseArgs({ options: { outdir: { type: 'string' } } })
const outdir = resolve(values.outdir ?? join(webDir, 'dist'))

for (const pkg of ['protocol', 'client']) {
  const entry = join(webDir, '..', 'packages', pkg, 'dist', 'src', 'index.js')
  if (!existsSync(entry)) {
    console.error(`web/build.mjs: ${entry} is missing: build the workspace first (npx tsc -b at the repository root).`)
    process.exit(1)
  }
}

/**
 * TypeBox probes for `new Function` once at start-up to decide whether it may compile
 * validators to code. Under our CSP (no 'unsafe-eval') that probe is refused and the
 * browser reports a CSP violation, although TypeBox then falls back to its dynamic
 * checker. Replacing the probe with "cannot evaluate" skips straight to the fallback:
 * same validation, no eval attempt, a clean console.
 */
const noEval = {
  name: 'typebox-no-eval',
  setup (builder) {
    builder.onLoad({ filter: /[\\/]typebox[\\/]build[\\/]system[\\/]environment[\\/]evaluate\.mjs$/ }, () => ({
      loader: 'js',
      contents: [
        '// Replaced by web/build.mjs: the page CSP forbids eval, so never try it.',
        'export function CanEvaluate () { return false }',
        "export function Evaluate () { throw new Error('eval is disabled by the Content-Security-Policy') }"
      ].join('\n')
    }))
  }
}

/** The server-side transport must never reach the browser: fail the build if anything imports it. */
const noServerPackages = {
  name: 'no-server-packages',
  setup (builder) {
    builder.onResolve({ filter: /^(@ephemeral-chat\/(bus|vault|gateway|service-kit|testkit)|nats|pg|kysely|fastify)(\/|$)/ }, (args) => ({
      errors: [{ text: `${args.path} is server-side code and must not be bundled into the web client (imported by ${args.importer})` }]
    }))
  }
}

await rm(outdir, { recursive: true, force: true })
await mkdir(outdir, { recursive: true })

const result = await build({
  entryPoints: [join(webDir, 'src', 'main.ts')],
  outfile: join(outdir, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome111', 'firefox111', 'safari16.4'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  plugins: [noEval, noServerPackages]
})

for (const file of ['index.html', 'styles.css', 'favicon.svg']) {
  await copyFile(join(webDir, file), join(outdir, file))
}

const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs).find((name) => name.endsWith("app.js"))]?.bytes ?? 0
console.log(`web client built into ${outdir} (${Math.round(bytes / 1024)} KiB app.js)`)
