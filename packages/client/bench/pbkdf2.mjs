// Times deriveRoomKeys (PBKDF2-HMAC-SHA256 × 600 000 + two HKDF steps) through the
// built SDK, exactly as a browser or the load benchmark would call it.
//
//   npx tsc -b && node packages/client/bench/pbkdf2.mjs [runs]

import { deriveRoomKeys, generateRoomCode, PBKDF2_ITERATIONS } from '../dist/src/index.js'

const runs = Number(process.argv[2] ?? 5)
if (!Number.isInteger(runs) || runs < 1) throw new Error('runs must be a positive integer')

await deriveRoomKeys(generateRoomCode()) // warm-up: JIT, OpenSSL initialisation

const times = []
for (let i = 0; i < runs; i++) {
  const code = generateRoomCode()
  const start = performance.now()
  await deriveRoomKeys(code)
  times.push(performance.now() - start)
}
times.sort((a, b) => a - b)
const median = runs % 2 === 1 ? times[(runs - 1) / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2

console.log(
  `deriveRoomKeys (PBKDF2-SHA256 ×${PBKDF2_ITERATIONS} + HKDF), ${runs} runs on Node ${process.versions.node}: ` +
    `min ${times[0].toFixed(1)} ms, median ${median.toFixed(1)} ms, max ${times[runs - 1].toFixed(1)} ms`
)
