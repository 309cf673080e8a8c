/**
 * Open connections per client address, held in memory only: addresses are
 * never logged, stored or sent anywhere, and an address is forgotten the moment
 * its last connection closes.
 */
export class AddressLimiter {
  readonly #open = new Map<string, number>()

  constructor (private readonly max: number) {}

  /** Counts a new connection; false when the address is at its limit. */
  acquire (address: string): boolean {
    const count = this.#open.get(address) ?? 0
    if (count >= this.max) return false
    this.#open.set(address, count + 1)
    return true
  }

  release (address: string): void {
    const count = (this.#open.get(address) ?? 1) - 1
    if (count <= 0) this.#open.delete(address)
    else this.#open.set(address, count)
  }

  get addresses (): number {
    return this.#open.size
  }
}
