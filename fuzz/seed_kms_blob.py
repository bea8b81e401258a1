#!/usr/bin/env python3
"""Seed corpus for the kms_blob target: well-formed blobs (and near misses) for the parser,
a JSON body naming every member KMS takes for each operation index, and a few seal/open
oracle inputs. The layouts are described at the top of fuzz_targets/kms_blob.rs."""

import base64
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "kms_blob")
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
OPERATIONS = 23  # the length of rampart_kms::OPERATIONS; indexes wrap, so more is harmless


def blob(key_id=KEY_ID, version=1, sealed=b"\x00" * 21, fmt=1):
    kid = key_id.encode()
    return bytes([fmt, len(kid)]) + kid + struct.pack(">I", version) + b"\x07" * 12 + sealed


def b64(raw):
    return base64.b64encode(raw).decode()


MEMBERS = {
    "KeyId": KEY_ID,
    "Plaintext": b64(b"attack at dawn"),
    "CiphertextBlob": b64(blob()),
    "EncryptionContext": {"purpose": "seed", "tenant": "a"},
    "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    "SourceKeyId": f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}",
    "DestinationKeyId": "alias/seed",
    "SourceEncryptionContext": {"a": "1"},
    "DestinationEncryptionContext": {"b": "2"},
    "AliasName": "alias/seed",
    "TargetKeyId": KEY_ID,
    "KeySpec": "AES_256",
    "NumberOfBytes": 32,
    "PendingWindowInDays": 7,
    "RotationPeriodInDays": 90,
    "Limit": 10,
    "Marker": KEY_ID,
    "Description": "seed",
    "Policy": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}),
    "PolicyName": "default",
    "BypassPolicyLockoutSafetyCheck": False,
    "Tags": [{"TagKey": "team", "TagValue": "blue"}],
    "DryRun": False,
}


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, raw in enumerate([blob(), blob(version=7, sealed=os.urandom(64)), blob(key_id="mrk-1"), blob(fmt=2), blob()[:40], b""]):
        write(f"blob-{i}", b"\x00" + raw)
    for op in range(OPERATIONS):
        write(f"op-{op}-all", b"\x01" + bytes([op]) + json.dumps(MEMBERS).encode())
        write(f"op-{op}-key", b"\x01" + bytes([op]) + json.dumps({"KeyId": f"alias/seed-{op}"}).encode())
    for i, (pos, mask, ctx, plain) in enumerate([(0, 0, b"", b"x"), (40, 1, b"ctx", b"hello world"), (70, 0x80, b"a", b"\x00" * 100)]):
        write(f"oracle-{i}", b"\x02" + struct.pack(">HB", pos, mask) + bytes([len(ctx)]) + ctx + plain)


if __name__ == "__main__":
    main()
