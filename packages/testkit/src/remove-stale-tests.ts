/** Run by `npm test` before tap, from the repository root: see stale-tests.ts. */
import { removeStaleTests } from './stale-tests.js'

for (const path of removeStaleTests(process.cwd())) console.log(`removed ${path}: its source is gone`)
