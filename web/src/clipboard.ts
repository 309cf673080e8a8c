/**
 * Copies text to the clipboard: the async Clipboard API where the browser allows it,
 * else the old selection-and-execCommand route. Resolves false when neither worked,
 * so the caller can select the text and ask the user to copy it themselves.
 */
export async function copyText (text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    return legacyCopy(text)
  }
}

function legacyCopy (text: string): boolean {
  const scratch = document.createElement('textarea')
  scratch.value = text
  scratch.readOnly = true
  scratch.className = 'clipboard-scratch'
  const previousFocus = document.activeElement
  document.body.append(scratch)
  scratch.select()
  let copied = false
  try {
    // Deprecated, but still the only fallback where navigator.clipboard is refused.
    copied = document.execCommand('copy')
  } catch {
    copied = false
  }
  scratch.remove()
  if (previousFocus instanceof HTMLElement) previousFocus.focus()
  return copied
}
