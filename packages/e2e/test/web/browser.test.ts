/**
 * Browser tests, half of them (browser-v2.test.ts has the rest), in one process, one file
 * after another: they share one client build and one database. Browsers side by side slow
 * each other on 2 cores (five files took 2 min side by side against 85 s in a row), but the
 * browser tests start among the last test files and ran alone for their last two minutes:
 * two halves side by side use both cores there and end the run sooner.
 */
import t from 'tap'

// One file at a time; together they take longer than tap's default per-file limit.
t.setTimeout(600_000)

await import('./conversation.browser.js')
await import('./entry.browser.js')
await import('./keyboard.browser.js')
