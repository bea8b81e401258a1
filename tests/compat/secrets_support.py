"""Helpers the Secrets Manager compat tests share: policy documents, unique names, error codes,
and IAM users with one inline policy whose Secrets Manager client is theirs alone."""

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

# No client-side validation: the server's own answer to a bad member is what is tested.
NO_VALIDATION = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)
DENIED = "AccessDeniedException"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error(call, **kwargs):
    """The error code and message `call` is refused with."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def refused(call, **kwargs):
    """The error code `call` is refused with."""
    return error(call, **kwargs)[0]


class Users:
    """Users with one inline policy and an access key each; deleted at the end."""

    def __init__(self, server, prefix="sm-user"):
        self.server = server
        self.prefix = prefix
        self.iam = server.client("iam")
        self.names = []

    def make(self, policy):
        """A new user allowed `policy`: its ARN and its Secrets Manager client."""
        name = unique(self.prefix)
        arn = self.iam.create_user(UserName=name)["User"]["Arn"]
        self.names.append(name)
        self.iam.put_user_policy(UserName=name, PolicyName="grant", PolicyDocument=policy)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        client = boto3.client(
            "secretsmanager",
            endpoint_url=self.server.endpoint,
            region_name=self.server.region,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            config=NO_VALIDATION,
        )
        return arn, client

    def cleanup(self):
        for name in self.names:
            for k in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                self.iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
            for p in self.iam.list_user_policies(UserName=name)["PolicyNames"]:
                self.iam.delete_user_policy(UserName=name, PolicyName=p)
            self.iam.delete_user(UserName=name)
