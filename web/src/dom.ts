/**
 * Small DOM helpers. Text always goes in through textContent, never innerHTML:
 * nothing a peer sends can become markup.
 */

/** The element with `id`, checked to be of the expected class (a missing element is a build error, not a user state). */
export function byId<T extends HTMLElement> (id: string, type: abstract new () => T): T {
  const element = document.getElementById(id)
  if (!(element instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`)
  return element
}

type Child = Node | string | null | undefined | false

interface ElementOptions {
  className?: string
  text?: string
  attrs?: Record<string, string>
}

/** Creates an element with classes, attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap> (tag: K, options: ElementOptions = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  if (options.className !== undefined) element.className = options.className
  if (options.text !== undefined) element.textContent = options.text
  for (const [name, value] of Object.entries(options.attrs ?? {})) element.setAttribute(name, value)
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    element.append(child)
  }
  return element
}

/** Removes every child and its text: used to wipe plaintext from the page. */
export function wipe (element: Element): void {
  for (const text of textNodes(element)) text.data = ''
  element.replaceChildren()
}

function textNodes (root: Node): Text[] {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
  const nodes: Text[] = []
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) nodes.push(node as Text)
  return nodes
}

const pendingAnnouncements = new Map<string, ReturnType<typeof setTimeout>>()

/** Says `text` to screen readers without moving focus; `assertive` interrupts (errors only). */
export function announce (text: string, priority: 'polite' | 'assertive' = 'polite'): void {
  const region = byId(priority === 'polite' ? 'announce-polite' : 'announce-assertive', HTMLElement)
  // Clearing first makes a repeated message ("New message", "New message") be read again.
  region.textContent = ''
  clearTimeout(pendingAnnouncements.get(priority))
  pendingAnnouncements.set(priority, setTimeout(() => { region.textContent = text }, 50))
}

/** Shows a short visible notice (e.g. "A message expired unread") and announces it. */
export function notify (text: string, kind: 'info' | 'error' = 'info'): void {
  const toasts = byId('toasts', HTMLElement)
  const toast = h('p', { className: `toast toast-${kind}`, text })
  toasts.append(toast)
  setTimeout(() => { toast.remove() }, kind === 'error' ? 8000 : 5000)
  announce(text, kind === 'error' ? 'assertive' : 'polite')
}

/** Shows one of the two views and moves focus to its heading area for keyboard and screen-reader users. */
export function showView (name: 'landing' | 'room'): void {
  byId('landing', HTMLElement).hidden = name !== 'landing'
  byId('room', HTMLElement).hidden = name !== 'room'
  document.body.dataset.view = name
}
