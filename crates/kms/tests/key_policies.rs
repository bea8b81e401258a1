//! Key policies through the API — the default one, validation, the lockout safety check —
//! and the AWS-managed keys, which are created on first use and which nobody administers.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn key_policies_are_validated_and_guarded_against_lockout() {
    let h = harness().await;
    let id = create_key(&h).await;
    let got = call(
        &h,
        "GetKeyPolicy",
        json!({"KeyId": id, "PolicyName": "default"}),
    )
    .await
    .unwrap();
    assert_eq!(got["PolicyName"], "default");
    let policy: Value = serde_json::from_str(got["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(policy["Statement"][0]["Action"], "kms:*");
    assert_eq!(
        error(
            &h,
            "GetKeyPolicy",
            json!({"KeyId": id, "PolicyName": "other"})
        )
        .await,
        "NotFoundException"
    );
    assert_eq!(
        error(
            &h,
            "PutKeyPolicy",
            json!({"KeyId": id, "Policy": "{not json"})
        )
        .await,
        "MalformedPolicyDocumentException"
    );
    // Only bob may use the key: the admin could never change the policy again.
    let bob_only = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Bob uses it", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/bob")},
        "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
    .to_string();
    let err = call(&h, "PutKeyPolicy", json!({"KeyId": id, "Policy": bob_only}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "MalformedPolicyDocumentException");
    assert!(
        err.message.contains("will not allow you to update"),
        "{}",
        err.message
    );
    call(
        &h,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": bob_only, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .await
    .unwrap();
    let got = call(&h, "GetKeyPolicy", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(got["Policy"], bob_only);
    // A key created with a policy gets it, validated the same way.
    assert_eq!(
        error(&h, "CreateKey", json!({ "Policy": bob_only })).await,
        "MalformedPolicyDocumentException"
    );
}

#[tokio::test]
async fn aws_managed_keys_are_created_once_on_first_use() {
    let h = harness().await;
    let first = h
        .kms
        .aws_managed_key("alias/aws/secretsmanager")
        .await
        .unwrap();
    let again = h
        .kms
        .aws_managed_key("alias/aws/secretsmanager")
        .await
        .unwrap();
    assert_eq!(first.key_id, again.key_id);
    let lambda = h.kms.aws_managed_key("alias/aws/lambda").await.unwrap();
    assert_ne!(lambda.key_id, first.key_id);
    assert!(h.kms.aws_managed_key("alias/aws/other").await.is_err());

    let described = call(
        &h,
        "DescribeKey",
        json!({"KeyId": "alias/aws/secretsmanager"}),
    )
    .await
    .unwrap();
    assert_eq!(described["KeyMetadata"]["KeyId"], first.key_id);
    assert_eq!(described["KeyMetadata"]["KeyManager"], "AWS");
    let aliases = call(&h, "ListAliases", json!({})).await.unwrap();
    let names: Vec<&str> = aliases["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alias/aws/lambda", "alias/aws/secretsmanager"]);
    // Nobody administers an AWS managed key, or points a customer alias at it.
    assert_eq!(
        error(&h, "DisableKey", json!({"KeyId": first.key_id})).await,
        "UnsupportedOperationException"
    );
    assert_eq!(
        error(&h, "DeleteAlias", json!({"AliasName": "alias/aws/lambda"})).await,
        "InvalidAliasNameException"
    );
    assert_eq!(
        error(
            &h,
            "CreateAlias",
            json!({"AliasName": "alias/mine", "TargetKeyId": first.key_id})
        )
        .await,
        "UnsupportedOperationException"
    );
}
