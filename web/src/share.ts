/**
 * The "share this room" panel: the code grouped for reading aloud, an invite link
 * that carries the code only in the fragment (never sent to any server), and a QR
 * code of that link drawn in the page. Used on the landing page after "Generate
 * New Code" and in the room behind "Invite".
 */
import { codeVersion, formatRoomCode, formatRoomCodeV2 } from '@ephemeral-chat/client'

/** Nine groups of three, for a code of either version. */
function grouped (code: string): string {
  return codeVersion(code) === 2 ? formatRoomCodeV2(code) : formatRoomCode(code)
}
import { copyText } from './clipboard.js'
import { h } from './dom.js'
import { drawQr } from './qr.js'

let panels = 0

/** The invite link for a code: this page's address with the code in the fragment. */
export function inviteLink (code: string): string {
  return `${location.origin}${location.pathname}#${grouped(code)}`
}

export interface ShareOptions {
  /** Adds an "Enter the room" button that calls this. */
  onEnter?: () => void
}

/** Fills `container` with the share panel for `code`, replacing what was there. */
export function renderShare (container: HTMLElement, code: string, options: ShareOptions = {}): void {
  const n = ++panels
  const groupedCode = grouped(code)
  const link = inviteLink(code)

  const codeText = h('p', { className: 'room-code', attrs: { id: `share-code-${n}`, 'data-code': groupedCode } },
    // The dash belongs to the group before it, so a line never starts with one.
    ...groupedCode.split('-').map((group, i, groups) =>
      h('span', { className: 'room-code-group' }, group, i < groups.length - 1 && h('span', { className: 'room-code-dash', text: '-' }))
    )
  )
  const codeStatus = h('span', { className: 'copy-status', attrs: { role: 'status' } })
  const copyCode = h('button', { className: 'button button-secondary', text: 'Copy code', attrs: { type: 'button', 'aria-describedby': `share-code-${n}` } })

  const linkInput = h('input', { className: 'link-input', attrs: { id: `share-link-${n}`, type: 'text', readonly: '', value: link, spellcheck: 'false', autocomplete: 'off' } })
  const linkStatus = h('span', { className: 'copy-status', attrs: { role: 'status' } })
  const copyLink = h('button', { className: 'button button-secondary', text: 'Copy link', attrs: { type: 'button' } })

  const canvas = h('canvas', { className: 'qr', attrs: { role: 'img', 'aria-label': 'QR code of the invite link: scan it with a phone camera to join' } })

  copyCode.addEventListener('click', () => { void copyWithFeedback(groupedCode, codeStatus) })
  copyLink.addEventListener('click', () => { void copyWithFeedback(link, linkStatus, linkInput) })
  linkInput.addEventListener('focus', () => { linkInput.select() })

  container.replaceChildren(
    h('p', { className: 'share-label', text: 'Room code — read it out, or send the link' }),
    codeText,
    h('div', { className: 'share-actions' }, copyCode, codeStatus),
    h('div', { className: 'share-grid' },
      h('div', { className: 'share-link' },
        h('label', { text: 'Invite link', attrs: { for: `share-link-${n}` } }),
        h('div', { className: 'link-row' }, linkInput, copyLink),
        linkStatus,
        h('p', { className: 'hint', text: 'The code travels after the # and is never sent to the server. Anyone with it can join: share it only with the people you want.' })
      ),
      h('figure', { className: 'qr-figure' }, canvas, h('figcaption', { className: 'hint', text: 'Scan to join' }))
    )
  )
  if (options.onEnter !== undefined) container.append(enterButton(options.onEnter))
  container.hidden = false
  void drawQr(canvas, link).catch(() => { canvas.replaceWith(h('p', { className: 'hint', text: 'The QR code could not be drawn; share the link instead.' })) })
}

function enterButton (onEnter: () => void): HTMLElement {
  const button = h('button', { className: 'button button-primary enter-room', text: 'Enter the room', attrs: { type: 'button' } })
  button.addEventListener('click', onEnter)
  return button
}

const statusTimers = new WeakMap<HTMLElement, ReturnType<typeof setTimeout>>()

async function copyWithFeedback (text: string, status: HTMLElement, selectable?: HTMLInputElement): Promise<void> {
  const copied = await copyText(text)
  clearTimeout(statusTimers.get(status))
  if (copied) {
    status.textContent = 'Copied'
    status.dataset.kind = 'ok'
  } else {
    // Leave the text selected so Ctrl+C / long-press copies it.
    selectable?.focus()
    selectable?.select()
    status.textContent = 'Could not copy automatically: select the text and copy it.'
    status.dataset.kind = 'error'
  }
  statusTimers.set(status, setTimeout(() => { status.textContent = ''; delete status.dataset.kind }, 4000))
}
