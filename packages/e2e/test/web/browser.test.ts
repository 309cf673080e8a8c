/**
 * Every browser test, in one process, one suite after another, with one client build and
 * one database, while the other test files run beside it. (Browsers side by side slowed
 * each other down threefold on 2 cores, and two halves side by side ended the whole
 * `npm test` no sooner: 392 s against 380 s in a row with six suites on Node 20, and 325 s
 * against 305 s on Node 24, where the extra load also made a gateway process of another
 * file miss its start-up wait. Moved to sort first among the end-to-end files, so that tap
 * starts it earlier, it ended the run no sooner either (305 s against 310 s on Node 24),
 * and the gateway tests it then overlapped missed their timing twice on Node 20.)
 */
import t from 'tap'

// One suite after another; together they take longer than tap's default per-file limit.
t.setTimeout(600_000)

await import('./conversation.browser.js')
await import('./entry.browser.js')
await import('./keyboard.browser.js')
await import('./lifecycle.browser.js')
await import('./quality.browser.js')
await import('./v2.browser.js')
