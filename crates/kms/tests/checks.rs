//! What every KMS operation declares for authorization: the action, the resource (the key's
//! ARN as stored, whatever identifier the request used; the key in the blob for Decrypt), the
//! key policy as a policy that must allow, and the condition keys — and how the policy engine
//! decides those checks, evaluated as the request path evaluates them.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use rampart_kms::OPERATIONS;
use rampart_policy::{
    evaluate, CompiledPolicy, Decision, EvaluationContext, PolicyKind, RequestPrincipal,
};
use rampart_wire::{Check, ResourcePolicyKind};
use serde_json::{json, Value};

/// A valid body for each operation, naming `key` (and `other`, `blob`, `alias` where needed).
fn body(operation: &str, key: &str, other: &str, blob: &str) -> Value {
    match operation {
        "CreateKey" => json!({"Tags": [{"TagKey": "team", "TagValue": "a"}]}),
        "ListKeys" | "ListAliases" => json!({}),
        "GenerateRandom" => json!({"NumberOfBytes": 8}),
        "CreateAlias" => json!({"AliasName": "alias/new", "TargetKeyId": key}),
        "UpdateAlias" => json!({"AliasName": "alias/app", "TargetKeyId": other}),
        "DeleteAlias" => json!({"AliasName": "alias/app"}),
        "ScheduleKeyDeletion" => json!({"KeyId": key, "PendingWindowInDays": 7}),
        "Encrypt" => json!({"KeyId": key, "Plaintext": B64.encode(b"x"),
                            "EncryptionContext": {"tenant": "a"}}),
        "Decrypt" => json!({"CiphertextBlob": blob, "EncryptionContext": {"tenant": "a"}}),
        "ReEncrypt" => json!({"CiphertextBlob": blob, "SourceEncryptionContext": {"tenant": "a"},
                              "DestinationKeyId": other}),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"tenant": "a"}})
        }
        "PutKeyPolicy" => json!({"KeyId": key, "Policy": "{}"}),
        _ => json!({ "KeyId": key }),
    }
}

#[tokio::test]
async fn every_operation_declares_its_action_on_the_right_resources() {
    let h = harness().await;
    let key = create_key(&h).await;
    let other = create_key(&h).await;
    let key_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}");
    let other_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{other}");
    let alias_arn = |name: &str| format!("arn:aws:kms:{REGION}:{ACCOUNT}:{name}");
    call(
        &h,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": key}),
    )
    .await
    .unwrap();
    let sealed = call(
        &h,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": B64.encode(b"x"), "EncryptionContext": {"tenant": "a"}}),
    )
    .await
    .unwrap();
    let blob = sealed["CiphertextBlob"].as_str().unwrap().to_owned();

    for spec in OPERATIONS {
        let op = spec.name;
        // Name the key by its alias where the operation takes any identifier: the check is
        // still on the key's stored ARN.
        let named = if op == "CreateAlias" {
            key.clone()
        } else {
            "alias/app".to_owned()
        };
        let declared = checks(&h, op, body(op, &named, &other, &blob)).await;
        assert!(!declared.is_empty(), "{op} declares no check");
        for check in &declared {
            assert!(check.action.starts_with("kms:"), "{op}: {}", check.action);
            assert_eq!(values(check, "kms:CallerAccount"), [ACCOUNT], "{op}");
        }
        let got: Vec<(&str, &str)> = declared
            .iter()
            .map(|c| (c.action.as_str(), c.resource.as_str()))
            .collect();
        let action = format!("kms:{op}");
        let expected: Vec<(String, String)> = match op {
            "CreateKey" => vec![(action, "*".into()), ("kms:TagResource".into(), "*".into())],
            "ListKeys" | "ListAliases" | "GenerateRandom" => vec![(action, "*".into())],
            "CreateAlias" => vec![
                (action.clone(), alias_arn("alias/new")),
                (action, key_arn.clone()),
            ],
            "UpdateAlias" => vec![
                (action.clone(), alias_arn("alias/app")),
                (action.clone(), other_arn.clone()),
                (action, key_arn.clone()),
            ],
            "DeleteAlias" => vec![
                (action.clone(), alias_arn("alias/app")),
                (action, key_arn.clone()),
            ],
            "ReEncrypt" => vec![
                ("kms:ReEncryptFrom".into(), key_arn.clone()),
                ("kms:ReEncryptTo".into(), other_arn.clone()),
            ],
            _ => vec![(action, key_arn.clone())],
        };
        let expected: Vec<(&str, &str)> = expected
            .iter()
            .map(|(a, r)| (a.as_str(), r.as_str()))
            .collect();
        assert_eq!(got, expected, "{op}");

        // Every check on a stored key carries its key policy, which must allow.
        for check in declared
            .iter()
            .filter(|c| c.resource.as_str().contains(":key/"))
        {
            let policy = check.resource_policy.as_ref().expect("a key policy");
            assert_eq!(policy.kind, ResourcePolicyKind::Trust, "{op}");
            assert!(policy.document.is_some(), "{op}");
            assert_eq!(values(check, "kms:KeySpec"), ["SYMMETRIC_DEFAULT"], "{op}");
        }
        // Alias checks are IAM's alone.
        for check in declared
            .iter()
            .filter(|c| c.resource.as_str().contains(":alias/"))
        {
            assert!(check.resource_policy.is_none(), "{op}");
        }
        let with_context = [
            "Encrypt",
            "Decrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
        ];
        if with_context.contains(&op) {
            assert_eq!(
                values(&declared[0], "kms:EncryptionContext:tenant"),
                ["a"],
                "{op}"
            );
            assert_eq!(
                values(&declared[0], "kms:EncryptionContextKeys"),
                ["tenant"],
                "{op}"
            );
        }
        if ![
            "Decrypt",
            "ReEncrypt",
            "CreateAlias",
            "UpdateAlias",
            "DeleteAlias",
        ]
        .contains(&op)
            && declared[0].resource.as_str() == key_arn
        {
            assert_eq!(
                values(&declared[0], "kms:RequestAlias"),
                ["alias/app"],
                "{op}"
            );
        }
    }

    // ReEncrypt's two checks carry their own contexts and whether the key is the same.
    let declared = checks(&h, "ReEncrypt", body("ReEncrypt", &key, &other, &blob)).await;
    assert_eq!(values(&declared[0], "kms:EncryptionContext:tenant"), ["a"]);
    assert!(values(&declared[1], "kms:EncryptionContext:tenant").is_empty());
    assert_eq!(values(&declared[1], "kms:ReEncryptOnSameKey"), ["false"]);
    // CreateKey's tags are request tags.
    let declared = checks(&h, "CreateKey", body("CreateKey", "", "", "")).await;
    assert_eq!(values(&declared[0], "aws:RequestTag/team"), ["a"]);
    assert_eq!(values(&declared[0], "aws:TagKeys"), ["team"]);
    // Decrypt is checked on the blob's key, whatever KeyId the caller claims.
    let declared = checks(
        &h,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": {"tenant": "a"}, "KeyId": other}),
    )
    .await;
    assert_eq!(declared.len(), 1);
    assert_eq!(declared[0].resource.as_str(), key_arn);
}

/// Decides `check` for the user `name` whose only identity policy is `identity`, the way the
/// request path does: the identity policy and the check's key policy, with its condition keys.
fn decide(check: &Check, name: &str, identity: Option<&str>) -> Decision {
    let mut policies = Vec::new();
    if let Some(identity) = identity {
        policies.push(CompiledPolicy::parse("identity", PolicyKind::Identity, identity).unwrap());
    }
    if let Some(policy) = &check.resource_policy {
        let Some(document) = &policy.document else {
            return Decision::ImplicitDeny;
        };
        policies.push(CompiledPolicy::parse("key", PolicyKind::Trust, document).unwrap());
    }
    let principal = RequestPrincipal::user(
        &format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        &format!("AIDA{}", name.to_uppercase()),
    );
    let mut ctx = EvaluationContext::new(principal, &check.action, check.resource.as_str());
    let mut keys: Vec<&str> = check
        .condition_keys
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    keys.dedup();
    for key in keys {
        let values = values(check, key);
        if values.len() == 1 {
            ctx.set(key, values[0]);
        } else {
            ctx.set_values(key, values);
        }
    }
    evaluate(policies.iter(), &ctx).decision
}

const ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[tokio::test]
async fn key_policies_decide_with_iam_as_aws_documents() {
    let h = harness().await;
    let key = create_key(&h).await;
    let encrypt =
        json!({"KeyId": key, "Plaintext": B64.encode(b"x"), "EncryptionContext": {"tenant": "a"}});

    // The default policy delegates to IAM: an IAM allow suffices, its absence denies.
    let check = checks(&h, "Encrypt", encrypt.clone()).await.remove(0);
    assert_eq!(decide(&check, "admin", Some(ADMIN)), Decision::Allowed);
    assert_eq!(decide(&check, "nobody", None), Decision::ImplicitDeny);
    // IAM conditions on the encryption context see the request's context.
    let tenant_a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt",
        "Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"a"}}}]}"#;
    assert_eq!(decide(&check, "app", Some(tenant_a)), Decision::Allowed);
    let mut other_tenant = encrypt.clone();
    other_tenant["EncryptionContext"] = json!({"tenant": "b"});
    let check_b = checks(&h, "Encrypt", other_tenant).await.remove(0);
    assert_eq!(
        decide(&check_b, "app", Some(tenant_a)),
        Decision::ImplicitDeny
    );

    // A key policy that does not delegate to the account blocks even an administrator, and
    // lets the principal it names in without any IAM policy.
    let bob_only = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "Bob uses it", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:user/bob")},
        "Action": "kms:*", "Resource": "*"}]})
    .to_string();
    call(
        &h,
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": bob_only, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .await
    .unwrap();
    let check = checks(&h, "Encrypt", encrypt.clone()).await.remove(0);
    assert_eq!(decide(&check, "admin", Some(ADMIN)), Decision::ImplicitDeny);
    assert_eq!(decide(&check, "bob", None), Decision::Allowed);

    // A Deny in the key policy wins over everything.
    let deny = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Delegate", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "No decrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]})
    .to_string();
    call(
        &h,
        "PutKeyPolicy",
        json!({"KeyId": key, "Policy": deny, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .await
    .unwrap();
    let check = checks(&h, "Encrypt", encrypt).await.remove(0);
    assert_eq!(decide(&check, "admin", Some(ADMIN)), Decision::Allowed);
    let sealed = call(
        &h,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": B64.encode(b"x")}),
    )
    .await
    .unwrap();
    let check = checks(
        &h,
        "Decrypt",
        json!({"CiphertextBlob": sealed["CiphertextBlob"]}),
    )
    .await
    .remove(0);
    assert_eq!(decide(&check, "admin", Some(ADMIN)), Decision::ExplicitDeny);
}

#[tokio::test]
async fn aws_managed_keys_are_only_usable_through_their_service() {
    let h = harness().await;
    let managed = h
        .kms
        .aws_managed_key("alias/aws/secretsmanager")
        .await
        .unwrap();
    let encrypt = json!({"KeyId": "alias/aws/secretsmanager", "Plaintext": B64.encode(b"x")});
    let check = checks(&h, "Encrypt", encrypt).await.remove(0);
    assert_eq!(check.resource.as_str(), managed.arn);
    // Called directly (no kms:ViaService), even an administrator is refused…
    assert_eq!(decide(&check, "admin", Some(ADMIN)), Decision::ImplicitDeny);
    // …while Secrets Manager, declaring the same check with kms:ViaService, gets it for any
    // principal of the account.
    let via = check.clone().with_key(
        "kms:ViaService",
        format!("secretsmanager.{REGION}.amazonaws.com"),
    );
    assert_eq!(decide(&via, "anyone", None), Decision::Allowed);
    // Its metadata is the account's to read, through IAM.
    let describe = checks(&h, "DescribeKey", json!({"KeyId": managed.key_id}))
        .await
        .remove(0);
    assert_eq!(decide(&describe, "admin", Some(ADMIN)), Decision::Allowed);
    let disable = checks(&h, "DisableKey", json!({"KeyId": managed.key_id}))
        .await
        .remove(0);
    assert_eq!(
        decide(&disable, "admin", Some(ADMIN)),
        Decision::ImplicitDeny
    );
}
