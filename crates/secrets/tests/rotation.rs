//! Rotation end to end with an in-process rotation function that behaves like AWS's rotation
//! template: it calls Secrets Manager through the service's own prepared-operation path as a
//! caller of its own (its execution role), gets the current value, a random password, puts it
//! in the pending version, sets it on a "database", tests it there, and moves AWSCURRENT.

mod common;

use std::sync::Arc;

use common::rotation_fn::{FakeRotation, FUNCTION};
use common::{call, err, harness, ok, Harness};
use rampart_secrets::rotation::NoFunctions;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2025-03-10 09:15 UTC);

async fn setup() -> (Harness, Arc<FakeRotation>) {
    let fake = FakeRotation::new();
    let h = harness(fake.clone(), T0).await;
    fake.svc.set(Arc::downgrade(&h.svc)).ok();
    (h, fake)
}

async fn create(h: &Harness, name: &str, value: &str) -> String {
    let out = ok(
        &h.svc,
        &h.admin,
        "CreateSecret",
        json!({"Name": name, "SecretString": value}),
    )
    .await;
    out["ARN"].as_str().unwrap().to_owned()
}

async fn value_at(h: &Harness, id: &str, stage: &str) -> Result<String, String> {
    call(
        &h.svc,
        &h.admin,
        "GetSecretValue",
        json!({"SecretId": id, "VersionStage": stage}),
    )
    .await
    .result
    .map(|v| v["SecretString"].as_str().unwrap().to_owned())
    .map_err(|e| e.code.to_string())
}

async fn describe(h: &Harness, id: &str) -> Value {
    ok(&h.svc, &h.admin, "DescribeSecret", json!({"SecretId": id})).await
}

fn token(n: u8) -> String {
    format!("{n:08}-0000-4000-8000-000000000000")
}

async fn rotate(
    h: &Harness,
    id: &str,
    token: &str,
    extra: Value,
) -> Result<Value, (String, String)> {
    let mut body = json!({"SecretId": id, "ClientRequestToken": token});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let out = call(&h.svc, &h.admin, "RotateSecret", body).await.result;
    h.svc.rotations_settled().await;
    out.map_err(|e| (e.code.to_string(), e.message))
}

fn configure() -> Value {
    json!({"RotationLambdaARN": FUNCTION, "RotationRules": {"AutomaticallyAfterDays": 30}})
}

#[tokio::test]
async fn a_rotation_makes_the_new_value_current_and_the_old_one_previous() {
    let (h, fake) = setup().await;
    let arn = create(&h, "db/primary", "hunter2").await;
    let out = rotate(&h, "db/primary", &token(1), configure())
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({"ARN": arn, "Name": "db/primary", "VersionId": token(1)})
    );

    assert_eq!(
        fake.steps(),
        ["createSecret", "setSecret", "testSecret", "finishSecret"]
    );
    let current = value_at(&h, &arn, "AWSCURRENT").await.unwrap();
    assert_ne!(current, "hunter2");
    assert_eq!(
        fake.database.lock().unwrap()[&arn],
        current,
        "the database has the new value"
    );
    assert_eq!(value_at(&h, &arn, "AWSPREVIOUS").await.unwrap(), "hunter2");
    assert_eq!(
        value_at(&h, &arn, "AWSPENDING").await,
        Err("ResourceNotFoundException".into())
    );

    let d = describe(&h, &arn).await;
    assert_eq!(d["RotationEnabled"], json!(true));
    assert_eq!(d["RotationLambdaARN"], json!(FUNCTION));
    assert_eq!(d["RotationRules"], json!({"AutomaticallyAfterDays": 30}));
    assert_eq!(d["LastRotatedDate"], json!(T0.unix_timestamp() as f64));
    // 30 days after the rotation's date, the window closing at the end of that UTC day.
    let next = datetime!(2025-04-10 00:00 UTC).unix_timestamp() as f64;
    assert_eq!(d["NextRotationDate"], json!(next));
    assert_eq!(d["VersionIdsToStages"][token(1)], json!(["AWSCURRENT"]));

    {
        // Every event is exactly what AWS sends: the ARN, the token, a rotation token.
        let journal = fake.journal.lock().unwrap();
        for event in &journal.events {
            let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                ["ClientRequestToken", "RotationToken", "SecretId", "Step"]
            );
            assert_eq!(event["SecretId"], json!(arn));
            assert_eq!(event["ClientRequestToken"], json!(token(1)));
            assert_eq!(event["RotationToken"], journal.events[0]["RotationToken"]);
        }
        // The function's calls were checked as its own, on the secret.
        for op in [
            "GetSecretValue",
            "PutSecretValue",
            "UpdateSecretVersionStage",
            "DescribeSecret",
        ] {
            assert!(
                journal
                    .checks
                    .iter()
                    .any(|(o, a, r)| o == op && *a == format!("secretsmanager:{op}") && *r == arn),
                "{op} was not checked on the secret: {:?}",
                journal.checks
            );
        }
        assert!(journal
            .checks
            .iter()
            .any(|(o, _, r)| o == "GetRandomPassword" && r == "*"));
    }

    // What the background run did is in the audit trail, as the service.
    let trail = h
        .store
        .query_audit(&rampart_core::audit::AuditQuery {
            principal: Some("secretsmanager.amazonaws.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let events: Vec<&str> = trail.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        events,
        [
            "RotationStarted",
            "RotationStepStarted",
            "RotationStepStarted",
            "RotationStepStarted",
            "RotationSucceeded"
        ]
    );
    assert!(trail.iter().all(|r| r.checks[0].resource == arn));
}

#[tokio::test]
async fn rotate_secret_declares_the_secret_and_the_function() {
    let (h, _fake) = setup().await;
    let arn = create(&h, "checked", "v").await;
    let called = call(
        &h.svc,
        &h.admin,
        "RotateSecret",
        json!({"SecretId": "checked", "RotationLambdaARN": FUNCTION}),
    )
    .await;
    h.svc.rotations_settled().await;
    let checks: Vec<(String, String)> = called
        .checks
        .iter()
        .map(|c| (c.action.clone(), c.resource.as_str().to_owned()))
        .collect();
    assert_eq!(
        checks,
        [
            ("secretsmanager:RotateSecret".to_owned(), arn.clone()),
            ("lambda:InvokeFunction".to_owned(), FUNCTION.to_owned())
        ]
    );
    assert!(called.checks[0]
        .condition_keys
        .contains(&("secretsmanager:RotationLambdaARN".into(), FUNCTION.into())));
    // Configured once, the function is the stored one even when the request names none.
    let called = call(&h.svc, &h.admin, "RotateSecret", json!({"SecretId": arn})).await;
    h.svc.rotations_settled().await;
    assert_eq!(called.checks[1].resource.as_str(), FUNCTION);
    assert!(called.checks[0].condition_keys.contains(&(
        "secretsmanager:resource/AllowRotationLambdaArn".into(),
        FUNCTION.into()
    )));
}

#[tokio::test]
async fn a_failing_test_step_leaves_current_alone_and_pending_on_the_new_version() {
    let (h, fake) = setup().await;
    let arn = create(&h, "db/failing", "original").await;
    fake.fail_at(Some("testSecret"));
    rotate(&h, &arn, &token(1), configure()).await.unwrap();
    assert_eq!(fake.steps(), ["createSecret", "setSecret", "testSecret"]);
    assert_eq!(value_at(&h, &arn, "AWSCURRENT").await.unwrap(), "original");
    let pending = value_at(&h, &arn, "AWSPENDING").await.unwrap();
    assert_ne!(pending, "original");
    let d = describe(&h, &arn).await;
    assert_eq!(d["VersionIdsToStages"][token(1)], json!(["AWSPENDING"]));
    assert!(d.get("LastRotatedDate").is_none());

    // Another rotation is refused while that one is unfinished...
    let e = rotate(&h, &arn, &token(2), json!({})).await.unwrap_err();
    assert_eq!(
        e,
        (
            "InvalidRequestException".into(),
            "A previous rotation isn't complete. That rotation will be reattempted.".into()
        )
    );
    // ...and the same token resumes it: createSecret finds its value, the rest completes.
    fake.fail_at(None);
    rotate(&h, &arn, &token(1), json!({})).await.unwrap();
    assert_eq!(value_at(&h, &arn, "AWSCURRENT").await.unwrap(), pending);
    assert_eq!(value_at(&h, &arn, "AWSPREVIOUS").await.unwrap(), "original");
    // A retry of the finished request is answered without another rotation.
    let before = fake.steps().len();
    let out = rotate(&h, &arn, &token(1), json!({})).await.unwrap();
    assert_eq!(out["VersionId"], json!(token(1)));
    assert_eq!(fake.steps().len(), before);
}

#[tokio::test]
async fn the_scheduler_rotates_when_the_window_opens_and_retries_failures() {
    let (h, fake) = setup().await;
    let arn = create(&h, "db/scheduled", "v0").await;
    rotate(
        &h,
        &arn,
        &token(1),
        json!({"RotationLambdaARN": FUNCTION,
        "RotationRules": {"ScheduleExpression": "cron(0 4 * * ? *)", "Duration": "2h"}}),
    )
    .await
    .unwrap();
    let first = value_at(&h, &arn, "AWSCURRENT").await.unwrap();
    let d = describe(&h, &arn).await;
    assert_eq!(
        d["NextRotationDate"],
        json!(datetime!(2025-03-11 06:00 UTC).unix_timestamp() as f64)
    );

    h.clock.set(datetime!(2025-03-11 03:59 UTC));
    assert_eq!(
        h.svc.rotate_due().await.unwrap(),
        0,
        "the window has not opened"
    );
    h.clock.set(datetime!(2025-03-11 04:00 UTC));
    assert_eq!(h.svc.rotate_due().await.unwrap(), 1);
    h.svc.rotations_settled().await;
    assert_eq!(h.svc.rotate_due().await.unwrap(), 0, "started once");
    let second = value_at(&h, &arn, "AWSCURRENT").await.unwrap();
    assert_ne!(second, first);
    assert_eq!(value_at(&h, &arn, "AWSPREVIOUS").await.unwrap(), first);
    let d = describe(&h, &arn).await;
    assert_eq!(
        d["LastRotatedDate"],
        json!(datetime!(2025-03-11 04:00 UTC).unix_timestamp() as f64)
    );
    assert_eq!(
        d["NextRotationDate"],
        json!(datetime!(2025-03-12 06:00 UTC).unix_timestamp() as f64)
    );

    // A scheduled rotation that fails is reattempted (same version) an hour later.
    fake.fail_at(Some("setSecret"));
    h.clock.set(datetime!(2025-03-12 04:00 UTC));
    assert_eq!(h.svc.rotate_due().await.unwrap(), 1);
    h.svc.rotations_settled().await;
    let pending = describe(&h, &arn).await["VersionIdsToStages"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, st)| *st == &json!(["AWSPENDING"]))
        .map(|(id, _)| id.clone())
        .expect("a pending version");
    h.clock.advance(Duration::minutes(30));
    assert_eq!(h.svc.rotate_due().await.unwrap(), 0, "not yet");
    fake.fail_at(None);
    h.clock.advance(Duration::minutes(30));
    assert_eq!(h.svc.rotate_due().await.unwrap(), 1);
    h.svc.rotations_settled().await;
    let d = describe(&h, &arn).await;
    assert_eq!(d["VersionIdsToStages"][&pending], json!(["AWSCURRENT"]));
    assert_eq!(value_at(&h, &arn, "AWSPREVIOUS").await.unwrap(), second);
}

#[tokio::test]
async fn the_background_scheduler_runs_on_its_own() {
    let (h, _fake) = setup().await;
    let arn = create(&h, "db/ticking", "v0").await;
    rotate(&h, &arn, &token(1), configure()).await.unwrap();
    let first = value_at(&h, &arn, "AWSCURRENT").await.unwrap();
    h.clock.advance(Duration::days(31));
    let task =
        rampart_secrets::rotation::spawn_scheduler(&h.svc, std::time::Duration::from_millis(20));
    let mut rotated = false;
    for _ in 0..250 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        h.svc.rotations_settled().await;
        if value_at(&h, &arn, "AWSPREVIOUS").await.as_deref() == Ok(first.as_str()) {
            rotated = true;
            break;
        }
    }
    task.abort();
    assert!(rotated, "the scheduler did not rotate the secret");
}

#[tokio::test]
async fn cancel_turns_rotation_off_and_leaves_the_pending_version() {
    let (h, fake) = setup().await;
    let arn = create(&h, "db/cancelled", "original").await;
    fake.fail_at(Some("setSecret"));
    rotate(&h, &arn, &token(1), configure()).await.unwrap();
    let out = ok(
        &h.svc,
        &h.admin,
        "CancelRotateSecret",
        json!({"SecretId": arn}),
    )
    .await;
    assert_eq!(
        out,
        json!({"ARN": arn, "Name": "db/cancelled", "VersionId": token(1)})
    );
    let d = describe(&h, &arn).await;
    assert_eq!(d["RotationEnabled"], json!(false));
    assert_eq!(
        d["RotationLambdaARN"],
        json!(FUNCTION),
        "the configuration is kept"
    );
    assert!(d.get("NextRotationDate").is_none());
    assert_eq!(d["VersionIdsToStages"][token(1)], json!(["AWSPENDING"]));
    // The scheduler leaves it alone, however late it gets.
    h.clock.advance(Duration::days(400));
    assert_eq!(h.svc.rotate_due().await.unwrap(), 0);
    // Until AWSPENDING is cleaned up, a new rotation is refused; then it runs.
    fake.fail_at(None);
    let e = rotate(&h, &arn, &token(2), json!({})).await.unwrap_err();
    assert_eq!(e.0, "InvalidRequestException");
    ok(
        &h.svc,
        &h.admin,
        "UpdateSecretVersionStage",
        json!({"SecretId": arn, "VersionStage": "AWSPENDING", "RemoveFromVersionId": token(1)}),
    )
    .await;
    rotate(&h, &arn, &token(2), json!({})).await.unwrap();
    assert_eq!(describe(&h, &arn).await["RotationEnabled"], json!(true));
    assert_eq!(value_at(&h, &arn, "AWSPREVIOUS").await.unwrap(), "original");
}

#[tokio::test]
async fn a_cancel_during_a_rotation_stops_it_before_the_next_step() {
    let (h, fake) = setup().await;
    let arn = create(&h, "db/interrupted", "original").await;
    *fake.during.lock().unwrap() =
        Some(("CancelRotateSecret", json!({"SecretId": "db/interrupted"})));
    rotate(&h, &arn, &token(1), configure()).await.unwrap();
    assert_eq!(
        fake.steps(),
        ["createSecret"],
        "nothing ran after the cancel"
    );
    assert_eq!(value_at(&h, &arn, "AWSCURRENT").await.unwrap(), "original");
    assert_eq!(describe(&h, &arn).await["RotationEnabled"], json!(false));
}

#[tokio::test]
async fn rotate_immediately_false_only_tests_the_configuration() {
    let (h, fake) = setup().await;
    let arn = create(&h, "db/later", "original").await;
    let mut body = configure();
    body["RotateImmediately"] = json!(false);
    let out = rotate(&h, &arn, &token(1), body).await.unwrap();
    assert!(out.get("VersionId").is_none());
    assert_eq!(fake.steps(), ["testSecret"]);
    let d = describe(&h, &arn).await;
    assert_eq!(d["RotationEnabled"], json!(true));
    assert_eq!(
        d["VersionIdsToStages"].as_object().unwrap().len(),
        1,
        "the test's pending version is gone: {d}"
    );
    assert_eq!(value_at(&h, &arn, "AWSCURRENT").await.unwrap(), "original");
    // Counted from when the current value was put: 30 days after today.
    let next = OffsetDateTime::now_utc().date() + Duration::days(31);
    assert_eq!(
        d["NextRotationDate"],
        json!(next.midnight().assume_utc().unix_timestamp() as f64)
    );
}

#[tokio::test]
async fn a_function_that_cannot_be_invoked_configures_nothing() {
    let h = harness(Arc::new(NoFunctions), T0).await;
    let arn = create(&h, "db/nofn", "original").await;
    let e = err(
        &h.svc,
        &h.admin,
        "RotateSecret",
        json!({"SecretId": arn, "RotationLambdaARN": FUNCTION,
        "RotationRules": {"AutomaticallyAfterDays": 7}}),
    )
    .await;
    assert_eq!(e.code, "AccessDeniedException");
    assert_eq!(e.status, 400);
    assert!(
        e.message
            .contains("cannot invoke the specified Lambda function"),
        "{}",
        e.message
    );
    let d = describe(&h, &arn).await;
    for field in [
        "RotationEnabled",
        "RotationLambdaARN",
        "RotationRules",
        "NextRotationDate",
    ] {
        assert!(d.get(field).is_none(), "{field} in {d}");
    }
    assert_eq!(d["VersionIdsToStages"].as_object().unwrap().len(), 1);
    // With no function configured at all, AWS's own message.
    let e = err(&h.svc, &h.admin, "RotateSecret", json!({"SecretId": arn})).await;
    assert_eq!(
        (&*e.code, e.message.as_str()),
        (
            "InvalidRequestException",
            "No Lambda rotation function ARN is associated with this secret."
        )
    );
}
