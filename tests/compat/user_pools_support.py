"""Helpers the user-pool compat tests share: pools and clients made and removed, IAM users with
their own cognito-idp client, error codes."""

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error(call, **kwargs):
    """The error code and message `call` is refused with."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def refused(call, **kwargs):
    return error(call, **kwargs)[0]


def idp(server):
    return server.client("cognito-idp", config=NO_VALIDATION)


def idp_user(server, policy_statements):
    """A new IAM user allowed `policy_statements`, and its cognito-idp client."""
    iam = server.client("iam")
    name = unique("idp-user")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="grant",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": policy_statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client(
        "cognito-idp",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=NO_VALIDATION,
    )


def pool(client, **kwargs):
    kwargs.setdefault("PoolName", unique("pool"))
    return client.create_user_pool(**kwargs)["UserPool"]
