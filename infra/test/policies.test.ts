import t from 'tap'
import { checkPolicies, formatViolations, POLICIES } from '../src/policies/index.js'
import { KUSTOMIZATIONS, render } from './helpers.js'

for (const kustomization of KUSTOMIZATIONS) {
  t.test(`${kustomization} meets every policy`, async (t) => {
    const violations = checkPolicies(render(kustomization))
    t.same(violations, [], formatViolations(violations))
  })
}

t.test('every policy has an id and a description', async (t) => {
  const ids = POLICIES.map((policy) => policy.id)
  t.equal(new Set(ids).size, ids.length, 'ids are unique')
  for (const policy of POLICIES) t.ok(policy.description.length > 20, policy.id)
})
