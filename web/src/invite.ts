/**
 * Invite links carry the room code in the URL fragment (`/#ABC-DEF-…`), which
 * browsers never send to a server. The page reads it once and removes it from the
 * address bar and from this history entry, so it does not linger on screen, in
 * screenshots, or in the back/forward list.
 */

/** The code in the fragment, if any, after removing it from the address bar. */
export function takeInviteCode (): string | undefined {
  const fragment = location.hash.slice(1)
  if (fragment === '') return undefined
  history.replaceState(null, '', location.pathname + location.search)
  let code = fragment
  try {
    code = decodeURIComponent(fragment)
  } catch {
    // A malformed escape is left as is; the code check reports it.
  }
  return code.trim() === '' ? undefined : code
}
