/** A minimal typed event emitter that works the same in browsers and Node. */
export type Listener<T> = (event: T) => void

export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>()

  on<K extends keyof Events> (name: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(name)
    if (set === undefined) this.#listeners.set(name, set = new Set())
    set.add(listener)
    return () => { this.off(name, listener) }
  }

  off<K extends keyof Events> (name: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(name)?.delete(listener)
  }

  protected emit<K extends keyof Events> (name: K, event: Events[K]): void {
    for (const listener of [...(this.#listeners.get(name) ?? [])]) {
      // A throwing listener must not break the session's own bookkeeping.
      try { (listener as Listener<Events[K]>)(event) } catch { /* ignored */ }
    }
  }
}
