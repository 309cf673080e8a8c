import type { Manifest } from '../manifest.js'

export interface Violation {
  policy: string
  /** The object (and container) at fault. */
  where: string
  message: string
}

export interface Policy {
  id: string
  description: string
  check(manifests: Manifest[]): Violation[]
}
