/** The other half of the browser tests (see browser.test.ts): the page's lifecycle and quality, and protocol v2 in the browser. */
import t from 'tap'

t.setTimeout(600_000)

await import('./lifecycle.browser.js')
await import('./quality.browser.js')
await import('./v2.browser.js')
