import t from 'tap'
import { checkPolicies, formatViolations, POLICIES } from '../src/policies/index.js'
import { parseImage } from '../src/policies/pods.js'
import { KUSTOMIZATIONS, render, requireKubectl } from './helpers.js'

requireKubectl()

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

t.test('image references split into name, tag and digest', async (t) => {
  t.same(parseImage('registry:5000/team/app:1.2.3'), { name: 'registry:5000/team/app', tag: '1.2.3', digest: undefined })
  t.same(parseImage('app@sha256:abc'), { name: 'app', tag: undefined, digest: 'sha256:abc' })
  t.same(parseImage('registry:5000/app'), { name: 'registry:5000/app', tag: undefined, digest: undefined })
})
