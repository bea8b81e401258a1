#!/usr/bin/env python3
"""Seed corpus for the iam_decode target: for every operation index and both callers, a form
body naming every entity member IAM and STS take (valid values, so the fuzzer starts past the
first checks), plus tags, a policy document, paging and AssumeRole's members."""

import os
import urllib.parse

MEMBERS = {
    "UserName": "alice",
    "NewUserName": "alice2",
    "GroupName": "devs",
    "NewGroupName": "devs2",
    "RoleName": "app",
    "Path": "/team/",
    "NewPath": "/other/",
    "PathPrefix": "/",
    "PolicyName": "inline",
    "PolicyArn": "arn:aws:iam::123456789012:policy/p",
    "PolicySourceArn": "arn:aws:iam::123456789012:user/alice",
    "PermissionsBoundary": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "PolicyDocument": '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}',
    "AssumeRolePolicyDocument": '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}',
    "PolicyInputList.member.1": '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}',
    "ActionNames.member.1": "s3:GetObject",
    "ResourceArns.member.1": "arn:aws:s3:::b/k",
    "ContextEntries.member.1.ContextKeyName": "aws:SourceIp",
    "ContextEntries.member.1.ContextKeyType": "ip",
    "ContextEntries.member.1.ContextKeyValues.member.1": "10.0.0.1",
    "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "Status": "Inactive",
    "VersionId": "v1",
    "SetAsDefault": "true",
    "Description": "d",
    "MaxSessionDuration": "3600",
    "MaxItems": "2",
    "Marker": "m",
    "Tags.member.1.Key": "team",
    "Tags.member.1.Value": "blue",
    "TagKeys.member.1": "team",
    "RoleArn": "arn:aws:iam::123456789012:role/app",
    "RoleSessionName": "s1",
    "DurationSeconds": "900",
    "ExternalId": "ext-1",
    "SourceIdentity": "alice",
    "TransitiveTagKeys.member.1": "team",
    "PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "Filter.member.1": "User",
    "Scope": "Local",
}


def main():
    out = os.path.join(os.path.dirname(__file__), "corpus", "iam_decode")
    os.makedirs(out, exist_ok=True)
    body = urllib.parse.urlencode(MEMBERS).encode()
    for op in range(80):
        for caller in (0, 1):
            with open(os.path.join(out, f"seed-{op:02}-{caller}"), "wb") as f:
                f.write(bytes([op, caller]) + body)
    print(f"{160} seeds in {out}")


if __name__ == "__main__":
    main()
