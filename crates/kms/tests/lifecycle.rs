//! The KMS API end to end through `prepare`/`execute` on a SQLite store: a key's life from
//! creation to scheduled deletion, aliases, encryption with context, rotation and data keys.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use rampart_kms::parse_blob;
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

fn unb64(value: &Value) -> Vec<u8> {
    B64.decode(value.as_str().expect("a blob")).expect("base64")
}

#[tokio::test]
async fn create_describe_and_name_keys() {
    let h = harness().await;
    let created = call(
        &h,
        "CreateKey",
        json!({"Description": "orders", "Tags": [{"TagKey": "team", "TagValue": "billing"}]}),
    )
    .await
    .unwrap();
    let meta = &created["KeyMetadata"];
    let id = meta["KeyId"].as_str().unwrap().to_owned();
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}");
    assert_eq!(id.len(), 36);
    assert_eq!(meta["Arn"], arn);
    assert_eq!(meta["AWSAccountId"], ACCOUNT);
    assert_eq!(meta["KeyState"], "Enabled");
    assert_eq!(meta["Enabled"], true);
    assert_eq!(meta["Description"], "orders");
    assert_eq!(meta["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(meta["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(meta["KeyManager"], "CUSTOMER");
    assert!(meta["CreationDate"].as_f64().unwrap() > 1.6e9);

    call(
        &h,
        "CreateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": id}),
    )
    .await
    .unwrap();
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/orders");
    for name in [id.as_str(), &arn, "alias/orders", &alias_arn] {
        let described = call(&h, "DescribeKey", json!({ "KeyId": name }))
            .await
            .unwrap();
        assert_eq!(described["KeyMetadata"]["KeyId"], id, "{name}");
    }

    // Aliases: duplicates, reserved names, listing, moving and deleting.
    assert_eq!(
        error(
            &h,
            "CreateAlias",
            json!({"AliasName": "alias/orders", "TargetKeyId": id})
        )
        .await,
        "AlreadyExistsException"
    );
    assert_eq!(
        error(
            &h,
            "CreateAlias",
            json!({"AliasName": "alias/aws/mine", "TargetKeyId": id})
        )
        .await,
        "InvalidAliasNameException"
    );
    assert_eq!(
        error(
            &h,
            "CreateAlias",
            json!({"AliasName": "orders2", "TargetKeyId": id})
        )
        .await,
        "ValidationException"
    );
    let listed = call(&h, "ListAliases", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(listed["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(listed["Aliases"][0]["AliasArn"], alias_arn);
    assert_eq!(listed["Aliases"][0]["TargetKeyId"], id);
    let other = create_key(&h).await;
    call(
        &h,
        "UpdateAlias",
        json!({"AliasName": "alias/orders", "TargetKeyId": other}),
    )
    .await
    .unwrap();
    let described = call(&h, "DescribeKey", json!({"KeyId": "alias/orders"}))
        .await
        .unwrap();
    assert_eq!(described["KeyMetadata"]["KeyId"], other);
    call(&h, "DeleteAlias", json!({"AliasName": "alias/orders"}))
        .await
        .unwrap();
    assert_eq!(
        error(&h, "DescribeKey", json!({"KeyId": "alias/orders"})).await,
        "NotFoundException"
    );

    // ListKeys pages with Limit/Marker.
    let first = call(&h, "ListKeys", json!({"Limit": 1})).await.unwrap();
    assert_eq!(first["Keys"].as_array().unwrap().len(), 1);
    assert_eq!(first["Truncated"], true);
    let second = call(
        &h,
        "ListKeys",
        json!({"Limit": 1, "Marker": first["NextMarker"]}),
    )
    .await
    .unwrap();
    assert_eq!(second["Truncated"], false);
    let mut ids: Vec<&str> = [&first, &second]
        .iter()
        .map(|page| page["Keys"][0]["KeyId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = [id.as_str(), other.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert_eq!(
        error(&h, "ListKeys", json!({"Limit": 0})).await,
        "ValidationException"
    );
}

#[tokio::test]
async fn unknown_keys_are_not_found_after_a_check_on_their_would_be_arn() {
    let h = harness().await;
    let id = "00000000-0000-0000-0000-000000000000";
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{id}");
    let declared = checks(&h, "DescribeKey", json!({ "KeyId": id })).await;
    assert_eq!(declared.len(), 1);
    assert_eq!(declared[0].resource.as_str(), arn);
    assert!(declared[0].resource_policy.is_none(), "IAM alone decides");
    assert_eq!(
        error(&h, "DescribeKey", json!({ "KeyId": id })).await,
        "NotFoundException"
    );
    let err = call(
        &h,
        "Encrypt",
        json!({"KeyId": "alias/nope", "Plaintext": b64(b"x")}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "NotFoundException");
    assert!(
        err.message.contains(":alias/nope is not found"),
        "{}",
        err.message
    );
    assert_eq!(
        error(&h, "DescribeKey", json!({"KeyId": "not a key"})).await,
        "NotFoundException"
    );
    assert_eq!(
        error(&h, "DescribeKey", json!({})).await,
        "ValidationException"
    );
}

#[tokio::test]
async fn encrypt_and_decrypt_with_context() {
    let h = harness().await;
    let id = create_key(&h).await;
    call(
        &h,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    )
    .await
    .unwrap();
    let context = json!({"tenant": "acme", "purpose": "test"});
    let sealed = call(
        &h,
        "Encrypt",
        json!({"KeyId": "alias/app", "Plaintext": b64(b"distinctive-secret-value"), "EncryptionContext": context}),
    )
    .await
    .unwrap();
    assert!(sealed["KeyId"].as_str().unwrap().ends_with(&id));
    assert_eq!(sealed["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let blob = unb64(&sealed["CiphertextBlob"]);
    assert_eq!(parse_blob(&blob).unwrap().key_id, id);

    // Decrypt takes the key from the blob; a KeyId, if given, must name the same key.
    for extra in [
        json!({}),
        json!({"KeyId": id}),
        json!({"KeyId": "alias/app"}),
    ] {
        let mut body = json!({"CiphertextBlob": b64(&blob), "EncryptionContext": context});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let opened = call(&h, "Decrypt", body).await.unwrap();
        assert_eq!(unb64(&opened["Plaintext"]), b"distinctive-secret-value");
        assert!(opened["KeyId"].as_str().unwrap().ends_with(&id));
    }
    let other = create_key(&h).await;
    assert_eq!(
        error(
            &h,
            "Decrypt",
            json!({"CiphertextBlob": b64(&blob), "EncryptionContext": context, "KeyId": other})
        )
        .await,
        "IncorrectKeyException"
    );

    // A different context, a missing one, a flipped bit, a truncation: InvalidCiphertext.
    for wrong in [
        json!({"CiphertextBlob": b64(&blob), "EncryptionContext": {"tenant": "other", "purpose": "test"}}),
        json!({"CiphertextBlob": b64(&blob)}),
        json!({"CiphertextBlob": b64(&{ let mut b = blob.clone(); let last = b.len() - 1; b[last] ^= 1; b }), "EncryptionContext": context}),
        json!({"CiphertextBlob": b64(&blob[..blob.len() - 20]), "EncryptionContext": context}),
        json!({"CiphertextBlob": b64(b"definitely not a blob")}),
        // The blob names a key that does not exist.
        json!({"CiphertextBlob": b64(&{ let mut b = blob.clone(); b[2] = if b[2] == b'0' { b'1' } else { b'0' }; b }), "EncryptionContext": context}),
    ] {
        assert_eq!(
            error(&h, "Decrypt", wrong.clone()).await,
            "InvalidCiphertextException",
            "{wrong}"
        );
    }
    assert_eq!(
        error(&h, "Decrypt", json!({"CiphertextBlob": "%%% not base64"})).await,
        "SerializationException"
    );
    assert_eq!(
        error(
            &h,
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(&[0u8; 4097])})
        )
        .await,
        "ValidationException"
    );

    // ReEncrypt moves the ciphertext to another key and context.
    let moved = call(
        &h,
        "ReEncrypt",
        json!({"CiphertextBlob": b64(&blob), "SourceEncryptionContext": context,
               "DestinationKeyId": other, "DestinationEncryptionContext": {"k": "v"}}),
    )
    .await
    .unwrap();
    assert!(moved["SourceKeyId"].as_str().unwrap().ends_with(&id));
    assert!(moved["KeyId"].as_str().unwrap().ends_with(&other));
    let opened = call(
        &h,
        "Decrypt",
        json!({"CiphertextBlob": moved["CiphertextBlob"], "EncryptionContext": {"k": "v"}}),
    )
    .await
    .unwrap();
    assert_eq!(unb64(&opened["Plaintext"]), b"distinctive-secret-value");

    // DryRun: authorized and valid, but nothing done.
    let err = call(
        &h,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x"), "DryRun": true}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.code.as_ref(), err.status),
        ("DryRunOperationException", 412)
    );

    // Nothing the caller encrypted is on disk, in any file of the store.
    let needles = [
        b"distinctive-secret-value".to_vec(),
        b64(b"distinctive-secret-value").into_bytes(),
    ];
    for entry in std::fs::read_dir(h.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in &needles {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_slice()));
        }
    }
}

#[tokio::test]
async fn data_keys_and_random_bytes() {
    let h = harness().await;
    let id = create_key(&h).await;
    let generated = call(
        &h,
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256", "EncryptionContext": {"a": "b"}}),
    )
    .await
    .unwrap();
    let plaintext = unb64(&generated["Plaintext"]);
    assert_eq!(plaintext.len(), 32);
    let opened = call(
        &h,
        "Decrypt",
        json!({"CiphertextBlob": generated["CiphertextBlob"], "EncryptionContext": {"a": "b"}}),
    )
    .await
    .unwrap();
    assert_eq!(unb64(&opened["Plaintext"]), plaintext);

    let without = call(
        &h,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "NumberOfBytes": 16}),
    )
    .await
    .unwrap();
    assert!(without.get("Plaintext").is_none());
    let opened = call(
        &h,
        "Decrypt",
        json!({"CiphertextBlob": without["CiphertextBlob"]}),
    )
    .await
    .unwrap();
    assert_eq!(unb64(&opened["Plaintext"]).len(), 16);

    for bad in [
        json!({"KeyId": id}),
        json!({"KeyId": id, "KeySpec": "AES_256", "NumberOfBytes": 32}),
        json!({"KeyId": id, "KeySpec": "AES_512"}),
        json!({"KeyId": id, "NumberOfBytes": 1025}),
    ] {
        assert_eq!(
            error(&h, "GenerateDataKey", bad).await,
            "ValidationException"
        );
    }

    let random = call(&h, "GenerateRandom", json!({"NumberOfBytes": 24}))
        .await
        .unwrap();
    assert_eq!(unb64(&random["Plaintext"]).len(), 24);
    assert_eq!(
        error(&h, "GenerateRandom", json!({"NumberOfBytes": 0})).await,
        "ValidationException"
    );
}

#[tokio::test]
async fn disabled_keys_refuse_and_rotation_keeps_old_ciphertexts() {
    let h = harness().await;
    let id = create_key(&h).await;
    let encrypt = |text: &'static [u8]| json!({"KeyId": id, "Plaintext": b64(text)});
    let old = call(&h, "Encrypt", encrypt(b"before")).await.unwrap();

    call(&h, "DisableKey", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(
        error(&h, "Encrypt", encrypt(b"x")).await,
        "DisabledException"
    );
    assert_eq!(
        error(
            &h,
            "Decrypt",
            json!({"CiphertextBlob": old["CiphertextBlob"]})
        )
        .await,
        "DisabledException"
    );
    assert_eq!(
        error(&h, "RotateKeyOnDemand", json!({ "KeyId": id })).await,
        "DisabledException"
    );
    call(&h, "EnableKey", json!({ "KeyId": id })).await.unwrap();

    let status = call(&h, "GetKeyRotationStatus", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(status["KeyRotationEnabled"], false);
    call(&h, "EnableKeyRotation", json!({ "KeyId": id }))
        .await
        .unwrap();
    let status = call(&h, "GetKeyRotationStatus", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(status["KeyRotationEnabled"], true);
    assert_eq!(status["RotationPeriodInDays"], 365);
    assert!(status["NextRotationDate"].as_f64().is_some());
    assert_eq!(
        error(
            &h,
            "EnableKeyRotation",
            json!({"KeyId": id, "RotationPeriodInDays": 30})
        )
        .await,
        "ValidationException"
    );

    let rotated = call(&h, "RotateKeyOnDemand", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(rotated["KeyId"], id);
    let new = call(&h, "Encrypt", encrypt(b"after")).await.unwrap();
    let version = |v: &Value| {
        parse_blob(&unb64(&v["CiphertextBlob"]))
            .unwrap()
            .backing_version
    };
    assert_eq!((version(&old), version(&new)), (1, 2));
    for (sealed, text) in [(&old, b"before".as_slice()), (&new, b"after".as_slice())] {
        let opened = call(
            &h,
            "Decrypt",
            json!({"CiphertextBlob": sealed["CiphertextBlob"]}),
        )
        .await
        .unwrap();
        assert_eq!(unb64(&opened["Plaintext"]), text);
    }
    call(&h, "DisableKeyRotation", json!({ "KeyId": id }))
        .await
        .unwrap();
    let status = call(&h, "GetKeyRotationStatus", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(status["KeyRotationEnabled"], false);
}

#[tokio::test]
async fn deletion_is_scheduled_and_cancelled() {
    let h = harness().await;
    let id = create_key(&h).await;
    assert_eq!(
        error(
            &h,
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 6})
        )
        .await,
        "ValidationException"
    );
    let scheduled = call(
        &h,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .await
    .unwrap();
    assert_eq!(scheduled["KeyState"], "PendingDeletion");
    assert_eq!(scheduled["PendingWindowInDays"], 7);
    assert!(scheduled["KeyId"].as_str().unwrap().ends_with(&id));
    let described = call(&h, "DescribeKey", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(described["KeyMetadata"]["KeyState"], "PendingDeletion");
    assert!(described["KeyMetadata"]["DeletionDate"].as_f64().is_some());
    assert_eq!(
        error(&h, "Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")})).await,
        "KMSInvalidStateException"
    );
    assert_eq!(
        error(&h, "ScheduleKeyDeletion", json!({ "KeyId": id })).await,
        "KMSInvalidStateException"
    );
    assert_eq!(
        error(&h, "EnableKey", json!({ "KeyId": id })).await,
        "KMSInvalidStateException"
    );
    call(&h, "CancelKeyDeletion", json!({ "KeyId": id }))
        .await
        .unwrap();
    let described = call(&h, "DescribeKey", json!({ "KeyId": id }))
        .await
        .unwrap();
    assert_eq!(described["KeyMetadata"]["KeyState"], "Disabled");
    assert_eq!(
        error(&h, "CancelKeyDeletion", json!({ "KeyId": id })).await,
        "KMSInvalidStateException"
    );
}
