/**
 * Every browser test, in one process, one suite after another, with one client build and
 * one database. The file sits here, not in web/, so that it sorts first among the
 * end-to-end files: tap starts files in name order, and this one is the longest.
 * (Browsers side by side slowed each other down threefold on 2 cores, and two halves side
 * by side ended the whole `npm test` no sooner: 392 s against 380 s in a row with six
 * suites on Node 20, and 325 s against 305 s on Node 24, where the extra load also made a
 * gateway process of another file miss its 15 s start-up wait.)
 */
import t from 'tap'

// One suite after another; together they take longer than tap's default per-file limit.
t.setTimeout(600_000)

await import('./web/conversation.browser.js')
await import('./web/entry.browser.js')
await import('./web/keyboard.browser.js')
await import('./web/lifecycle.browser.js')
await import('./web/quality.browser.js')
await import('./web/v2.browser.js')
