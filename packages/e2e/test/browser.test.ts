/**
 * Every browser test, in one process, one file after another. Browsers run in parallel
 * with one another slowed each other down threefold on 2 cores (the five files took
 * 2 min side by side against 85 s in a row), so they run in a row here while the other
 * test files run beside them; they also share one client build and one database.
 * (Measured again with six files, v2 included: two halves side by side ended the whole
 * `npm test` no sooner, 392 s against 380 s in a row.)
 */
import t from 'tap'

// One file at a time; together they take longer than tap's default per-file limit.
t.setTimeout(600_000)

await import('./conversation.browser.js')
await import('./entry.browser.js')
await import('./keyboard.browser.js')
await import('./lifecycle.browser.js')
await import('./quality.browser.js')
await import('./v2.browser.js')
