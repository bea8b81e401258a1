"""The policy simulator through boto3: SimulateCustomPolicy replays the policy engine's whole
decision table (crates/policy/tests/cases) and must agree with every expected decision it can
express; SimulatePrincipalPolicy simulates a stored user's real policies."""

import json
from pathlib import Path

import pytest

CASES = Path(__file__).resolve().parents[2] / "crates" / "policy" / "tests" / "cases"


def document(policy):
    if "document" in policy:
        doc = policy["document"]
        return doc if isinstance(doc, str) else json.dumps(doc)
    doc = {"Statement": policy["statements"]}
    version = policy.get("version", "2012-10-17")
    if version is not None:
        doc = {"Version": version, **doc}
    return json.dumps(doc)


def context_entry(key, value):
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, bool) for v in values):
        kind = "boolean"
    elif any(isinstance(v, (int, float)) for v in values):
        kind = "numeric"
    elif key.lower() == "aws:sourceip":
        kind = "ip"
    elif key.lower() in ("aws:currenttime", "aws:tokenissuetime") or key.lower().startswith("date"):
        kind = "date"
    else:
        kind = "string"
    if isinstance(value, list):
        kind += "List"
    return {
        "ContextKeyName": key,
        "ContextKeyType": kind,
        "ContextKeyValues": [str(v).lower() if isinstance(v, bool) else str(v) for v in values],
    }


def expressible(case, ctx):
    """What SimulateCustomPolicy can express, as on AWS: identity policies, boundaries and one
    resource policy, for an IAM user caller, with context entries."""
    kinds = [p["type"] for p in case["policies"]]
    if any(k in ("session", "trust") for k in kinds) or kinds.count("resource") > 1 or "identity" not in kinds:
        return False
    principal = ctx.get("principal", {})
    if principal.get("type") != "user" or principal.get("tags") or principal.get("id"):
        return False
    if any(v is None for v in ctx.get("keys", {}).values()):
        return False
    # The simulator has no way to supply an empty set or typed dates beyond ISO strings.
    if any(v == [] for v in ctx.get("keys", {}).values()):
        return False
    return True


def load_cases():
    out = []
    for path in sorted(CASES.glob("*.json")):
        if path.name == "malformed.json":
            continue
        table = json.loads(path.read_text())
        for case in table["cases"]:
            ctx = dict(table.get("default_context", {}))
            ctx.update(case.get("context", {}))
            out.append((f"{path.stem}/{case['name']}", case, ctx))
    return out


ALL = load_cases()


def test_simulator_agrees_with_the_engine_on_the_decision_table(server):
    iam = server.client("iam")
    compared, skipped, wrong = 0, 0, []
    for name, case, ctx in ALL:
        if not expressible(case, ctx):
            skipped += 1
            continue
        kwargs = {
            "PolicyInputList": [document(p) for p in case["policies"] if p["type"] == "identity"],
            "ActionNames": [ctx["action"]],
            "ResourceArns": [ctx.get("resource", "*")],
            "CallerArn": ctx["principal"]["arn"],
        }
        boundaries = [document(p) for p in case["policies"] if p["type"] == "boundary"]
        if boundaries:
            kwargs["PermissionsBoundaryPolicyInputList"] = boundaries
        resource = [document(p) for p in case["policies"] if p["type"] == "resource"]
        if resource:
            kwargs["ResourcePolicy"] = resource[0]
        if ctx.get("resource_account"):
            kwargs["ResourceOwner"] = f"arn:aws:iam::{ctx['resource_account']}:root"
        if ctx.get("keys"):
            kwargs["ContextEntries"] = [context_entry(k, v) for k, v in ctx["keys"].items()]
        result = iam.simulate_custom_policy(**kwargs)["EvaluationResults"][0]
        compared += 1
        if result["EvalDecision"] != case["expect"]:
            wrong.append((name, case["expect"], result["EvalDecision"]))
    print(f"simulator: {compared} cases compared, {skipped} not expressible in SimulateCustomPolicy")
    assert compared >= 150, (compared, skipped)
    assert not wrong, wrong[:10]


def test_simulate_principal_policy_uses_stored_policies(server):
    iam = server.client("iam")
    user = iam.create_user(UserName="sim-target")["User"]
    iam.put_user_policy(
        UserName="sim-target",
        PolicyName="read-roles",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "Roles", "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]}),
    )
    out = iam.simulate_principal_policy(PolicySourceArn=user["Arn"], ActionNames=["iam:GetRole", "iam:DeleteRole"])
    decisions = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert decisions["iam:GetRole"]["EvalDecision"] == "allowed"
    assert decisions["iam:GetRole"]["MatchedStatements"][0]["SourcePolicyType"] == "user"
    assert decisions["iam:DeleteRole"]["EvalDecision"] == "implicitDeny"
    # An extra policy in PolicyInputList is considered too.
    out = iam.simulate_principal_policy(
        PolicySourceArn=user["Arn"],
        ActionNames=["iam:DeleteRole"],
        PolicyInputList=[json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]})],
    )
    assert out["EvaluationResults"][0]["EvalDecision"] == "explicitDeny"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(PolicySourceArn=user["Arn"] + "-gone", ActionNames=["iam:GetRole"])


def test_simulate_custom_policy_supplies_only_the_keys_it_is_given(server):
    """AWS's API reference: ContextEntries are the values "the simulation" uses, CallerArn is
    "the simulated caller", and MissingContextValues lists keys "not provided by one of the
    input parameters". So without CallerArn the signer's aws:username is not used, and
    aws:CurrentTime is never invented."""
    iam = server.client("iam")
    admin = server.client("sts").get_caller_identity()["Arn"]
    admin_name = admin.rsplit("/", 1)[-1]

    def decide(condition, **kwargs):
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}]}
        out = iam.simulate_custom_policy(PolicyInputList=[json.dumps(policy)], ActionNames=["s3:GetObject"], **kwargs)
        return out["EvaluationResults"][0]["EvalDecision"]

    by_name = {"StringEquals": {"aws:username": admin_name}}
    assert decide(by_name) == "implicitDeny"
    assert decide(by_name, ContextEntries=[context_entry("aws:username", admin_name)]) == "allowed"
    assert decide(by_name, CallerArn=admin) == "allowed"
    after_2000 = {"DateGreaterThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}
    assert decide(after_2000) == "implicitDeny"
    assert decide(after_2000, CallerArn=admin) == "implicitDeny"
    assert decide(after_2000, ContextEntries=[context_entry("aws:CurrentTime", "2024-06-01T12:00:00Z")]) == "allowed"
