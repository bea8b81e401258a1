// Drives @cloud-copilot/iam-simulate (AGPL-3.0, installed by run.sh into the git-ignored
// node_modules/ here; never linked into or shipped with Rampart) over a process boundary:
// one JSON case per line on stdin, one JSON answer per line on stdout, in the same order.
// A case: {"id", "policies": [identity policy documents], "action", "resource", "context": {key: string|[string]}}.
// An answer: {"id", "decision": "allowed|explicitDeny|implicitDeny"} or {"id", "error": "..."}.
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const PRINCIPAL = 'arn:aws:iam::111122223333:user/alice'
const DECISIONS = { Allowed: 'allowed', ExplicitlyDenied: 'explicitDeny', ImplicitlyDenied: 'implicitDeny' }

async function decide(c) {
  const simulation = {
    identityPolicies: c.policies.map((policy, i) => ({ name: `p${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      principal: PRINCIPAL,
      action: c.action,
      resource: { resource: c.resource, accountId: c.resource_account || '111122223333' },
      contextVariables: c.context,
    },
  }
  const r = await runSimulation(simulation, {})
  if (r.resultType === 'error') return { id: c.id, error: r.errors.message }
  const ignored = r.resultType === 'single' ? r.result.ignoredContextKeys || [] : []
  if (ignored.length) return { id: c.id, error: `ignored context keys ${ignored.join(',')}` }
  return { id: c.id, decision: DECISIONS[r.overallResult] || r.overallResult }
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity })
const out = []
for await (const line of rl) {
  if (!line.trim()) continue
  const c = JSON.parse(line)
  let answer
  try {
    answer = await decide(c)
  } catch (e) {
    answer = { id: c.id, error: `exception: ${e.message}` }
  }
  out.push(JSON.stringify(answer))
  if (out.length >= 500) {
    process.stdout.write(out.join('\n') + '\n')
    out.length = 0
  }
}
if (out.length) process.stdout.write(out.join('\n') + '\n')
