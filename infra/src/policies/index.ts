import type { Manifest } from '../manifest.js'
import { ingressPolicy, noStickySessionsPolicy, vaultNotExposedPolicy } from './exposure.js'
import { databaseAccessPolicy, networkIsolationPolicy } from './network.js'
import { gracefulShutdownPolicy, imageTagsPolicy, probesPolicy, resourcesPolicy, securityContextPolicy } from './pods.js'
import { secretsPolicy } from './secrets.js'
import type { Policy, Violation } from './types.js'

export type { Policy, Violation } from './types.js'

export const POLICIES: readonly Policy[] = [
  probesPolicy,
  resourcesPolicy,
  securityContextPolicy,
  imageTagsPolicy,
  gracefulShutdownPolicy,
  secretsPolicy,
  databaseAccessPolicy,
  networkIsolationPolicy,
  vaultNotExposedPolicy,
  noStickySessionsPolicy,
  ingressPolicy
]

export function checkPolicies (manifests: Manifest[], policies: readonly Policy[] = POLICIES): Violation[] {
  return policies.flatMap((policy) => policy.check(manifests))
}

export function formatViolations (violations: Violation[]): string {
  return violations.map((violation) => `[${violation.policy}] ${violation.where}: ${violation.message}`).join('\n')
}
