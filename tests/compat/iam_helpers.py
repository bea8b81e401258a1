"""Shared helpers for the IAM compatibility tests."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"


def unique(prefix: str) -> str:
    """A name no other test in the session uses (tests share one server)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call, *args, **kwargs):
    """Runs a call that must fail; returns (code, message, HTTP status)."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    err = e.value.response["Error"]
    return err["Code"], err.get("Message", ""), e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def identity_policy(action="s3:GetObject", resource="*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


def trust_policy(principal="arn:aws:iam::123456789012:root") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}],
        }
    )
