"""`rampart policy check|lint|simulate` and `rampart audit` filters by action and decision."""

import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import BIN


def rampart(*args):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=60)


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


LEAST = {"Version": "2012-10-17", "Statement": [{"Sid": "Orders", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def test_check(tmp_path):
    ok = rampart("policy", "check", write(tmp_path, "ok.json", LEAST))
    assert ok.returncode == 0 and "valid identity policy" in ok.stdout
    bad = rampart("policy", "check", write(tmp_path, "bad.json", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}))
    assert bad.returncode == 1 and "MalformedPolicyDocument" in bad.stderr
    trust_with_resource = rampart("policy", "check", "--kind", "trust", write(tmp_path, "t.json", ADMIN))
    assert trust_with_resource.returncode == 1


def test_lint(tmp_path):
    clean = rampart("policy", "lint", write(tmp_path, "ok.json", LEAST))
    assert clean.returncode == 0 and "0 error(s), 0 warning(s)" in clean.stdout
    admin = rampart("policy", "lint", write(tmp_path, "admin.json", ADMIN))
    assert admin.returncode == 1
    for rule in ("wildcard-action", "wildcard-resource", "passrole-wildcard"):
        assert rule in admin.stdout
    s3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}]}
    warn = rampart("policy", "lint", write(tmp_path, "s3.json", s3))
    assert warn.returncode == 0 and "wildcard-action" in warn.stdout
    assert rampart("policy", "lint", "--strict", write(tmp_path, "s3b.json", s3)).returncode == 1


def test_simulate(tmp_path):
    policy = write(tmp_path, "p.json", {"Version": "2012-10-17", "Statement": [
        {"Sid": "Home", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/*/secret"}]})
    alice = "arn:aws:iam::123456789012:user/alice"
    allowed = json.loads(rampart("policy", "simulate", "--policy", policy, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::home/alice/notes",
                                 "--principal", alice, "--context", "aws:SourceIp=10.1.2.3", "--json").stdout)
    assert allowed["EvalDecision"] == "allowed" and allowed["MatchedStatements"][0].endswith("#0(Home)")
    other_ip = json.loads(rampart("policy", "simulate", "--policy", policy, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::home/alice/notes",
                                  "--principal", alice, "--context", "aws:SourceIp=192.0.2.1", "--json").stdout)
    assert other_ip["EvalDecision"] == "implicitDeny"
    denied = json.loads(rampart("policy", "simulate", "--policy", policy, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::home/alice/secret",
                                "--principal", alice, "--context", "aws:SourceIp=10.1.2.3", "--json").stdout)
    assert denied["EvalDecision"] == "explicitDeny"
    assert denied["Explanation"] == "with an explicit deny in an identity-based policy"


def test_audit_filters_by_action_and_decision(server):
    iam = server.client("iam")
    iam.list_users()
    user = iam.create_user(UserName="audited-nobody")["User"]
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    nobody = server.client("iam", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    with pytest.raises(ClientError):
        nobody.list_roles()
    denied = [json.loads(l) for l in server.audit("--json", "--action", "iam:ListRoles", "--decision", "implicitDeny").splitlines()]
    assert any(r["principal_arn"] == user["Arn"] and r["error_code"] == "AccessDenied" for r in denied)
    allowed = [json.loads(l) for l in server.audit("--json", "--action", "iam:ListUsers", "--decision", "allowed").splitlines()]
    assert allowed and all(r["matched_statements"] == ["arn:aws:iam::aws:policy/AdministratorAccess#0"] for r in allowed)


def test_policy_writes_answer_lint_findings(server):
    iam = server.client("iam")
    iam.create_user(UserName="linted")
    out = iam.put_user_policy(UserName="linted", PolicyName="too-broad", PolicyDocument=json.dumps(ADMIN))
    findings = json.loads(out["ResponseMetadata"]["HTTPHeaders"]["x-rampart-policy-findings"])
    assert {f["rule"] for f in findings} >= {"wildcard-action", "wildcard-resource", "passrole-wildcard"}
    assert all(f["statement"] == 0 for f in findings)
    narrow = iam.put_user_policy(UserName="linted", PolicyName="narrow", PolicyDocument=json.dumps(LEAST))
    assert "x-rampart-policy-findings" not in narrow["ResponseMetadata"]["HTTPHeaders"]
