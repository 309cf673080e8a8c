// Copies the official MLS test vectors this package runs from a git clone of
// github.com/mlswg/mls-implementations, keeping only cipher suite 1
// (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, the protocol v2 suite):
//
//   node packages/client/test/mls-vectors/extract.mjs <git dir of mls-implementations> [commit]
//
// Families without a cipher suite (tree-math, deserialization) are copied whole. passive-client-random
// is one 200-epoch run (1.9 MB); only its first RANDOM_EPOCHS epochs are kept, which is
// still a valid run: the epoch authenticator is checked after every epoch. messages
// (300 entries of every wire structure, 2.6 MB, not per cipher suite) keeps its first
// MESSAGES entries.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const CIPHER_SUITE = 1
const RANDOM_EPOCHS = 50
const MESSAGES = 10
export const FAMILIES = [
  'crypto-basics',
  'key-schedule',
  'secret-tree',
  'tree-math',
  'deserialization',
  'transcript-hashes',
  'psk_secret',
  'welcome',
  'message-protection',
  'treekem',
  'tree-validation',
  'tree-operations',
  'messages',
  'passive-client-welcome',
  'passive-client-handling-commit',
  'passive-client-random'
]

const [gitDir, commit = 'HEAD'] = process.argv.slice(2)
if (gitDir === undefined) {
  console.error('usage: node extract.mjs <git dir of mls-implementations> [commit]')
  process.exit(1)
}
const outDir = dirname(fileURLToPath(import.meta.url))
const git = (...args) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 })
const hash = git('rev-parse', commit).trim()

for (const family of FAMILIES) {
  let cases = JSON.parse(git('show', `${hash}:test-vectors/${family}.json`))
  if (cases[0].cipher_suite !== undefined) cases = cases.filter((c) => c.cipher_suite === CIPHER_SUITE)
  if (family === 'messages') cases = cases.slice(0, MESSAGES)
  if (family === 'passive-client-random') cases = cases.map((c) => ({ ...c, epochs: c.epochs.slice(0, RANDOM_EPOCHS) }))
  writeFileSync(join(outDir, `${family}.json`), JSON.stringify(cases) + '\n')
  console.log(`${family}: ${cases.length} case(s)`)
}
console.log(`from mlswg/mls-implementations ${hash}`)
