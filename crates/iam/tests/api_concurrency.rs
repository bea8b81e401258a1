//! The IAM API under concurrent writers, against a real SQLite store: quotas and counts hold
//! because every mutation is one optimistic commit that re-reads and retries on conflict.

use std::sync::Arc;

use rampart_core::{CallerIdentity, MasterKey, PrincipalType};
use rampart_iam::{bootstrap, ChangeHook, IamService};
use rampart_store::{SqliteStore, Store};
use rampart_wire::protocol::query::QueryParams;
use rampart_wire::{Input, OperationContext, OperationSpec, Output, Service, ServiceError};

struct Harness {
    _dir: tempfile::TempDir,
    iam: Arc<IamService>,
    admin: CallerIdentity,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("rampart.db"))
            .await
            .expect("open store"),
    );
    let (key, _) = MasterKey::generate();
    let key = Arc::new(key);
    let account = bootstrap(store.as_ref(), &key)
        .await
        .expect("bootstrap")
        .account()
        .account_id
        .clone();
    let admin = CallerIdentity {
        account_id: account.clone(),
        arn: format!("arn:aws:iam::{account}:user/admin"),
        user_id: "AIDAADMIN".into(),
        principal_type: PrincipalType::User,
        name: "admin".into(),
        access_key_id: "AKIAADMIN".into(),
        temporary: false,
        session_name: None,
        token_issue_time: None,
        source_ip: [127, 0, 0, 1].into(),
        secure_transport: false,
        mfa_present: false,
        lineage: Default::default(),
    };
    let iam = Arc::new(IamService::new(store, key, account, ChangeHook::default()));
    Harness {
        _dir: dir,
        iam,
        admin,
    }
}

/// Calls `action` with form parameters, as the pipeline would after authorizing.
async fn call(h: &Harness, action: &'static str, form: &str) -> Result<String, ServiceError> {
    let spec = h
        .iam
        .operations()
        .iter()
        .find(|op| op.name == action)
        .copied()
        .unwrap_or(OperationSpec::signed(action));
    let ctx = OperationContext {
        request_id: "test",
        caller: Some(&h.admin),
        region: "us-east-1",
        operation: &spec,
    };
    let params = QueryParams::parse(&[form.as_bytes()]).expect("form");
    let prepared = h.iam.prepare(&ctx, Input::Query(params)).await?;
    let mut output = prepared.execute(ctx).await?;
    // Policy writes may carry lint findings in a header; the XML is what matters here.
    if let Output::Annotated { output: inner, .. } = output {
        output = *inner;
    }
    match output {
        Output::Query(xml) => Ok(xml.unwrap_or_default()),
        other => panic!("unexpected output {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_access_key_creation_respects_the_quota() {
    let h = Arc::new(harness().await);
    call(&h, "CreateUser", "UserName=racer").await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { call(&h, "CreateAccessKey", "UserName=racer").await })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert!(
                e.code == "LimitExceeded" || e.code == "ConcurrentModification",
                "{e}"
            ),
        }
    }
    assert_eq!(created, 2);
    let listed = call(&h, "ListAccessKeys", "UserName=racer").await.unwrap();
    assert_eq!(listed.matches("<AccessKeyId>").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attachments_keep_the_count_right() {
    let h = Arc::new(harness().await);
    let doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
    let created = call(
        &h,
        "CreatePolicy",
        &format!("PolicyName=shared&PolicyDocument={doc}"),
    )
    .await
    .unwrap();
    let arn = created
        .split("<Arn>")
        .nth(1)
        .and_then(|s| s.split("</Arn>").next())
        .unwrap()
        .to_owned();
    for i in 0..6 {
        call(&h, "CreateUser", &format!("UserName=u{i}"))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (h, arn) = (h.clone(), arn.clone());
            tokio::spawn(async move {
                call(
                    &h,
                    "AttachUserPolicy",
                    &format!("UserName=u{i}&PolicyArn={arn}"),
                )
                .await
            })
        })
        .collect();
    let mut attached = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => attached += 1,
            Err(e) => assert_eq!(e.code, "ConcurrentModification", "{e}"),
        }
    }
    let policy = call(&h, "GetPolicy", &format!("PolicyArn={arn}"))
        .await
        .unwrap();
    assert!(
        policy.contains(&format!("<AttachmentCount>{attached}</AttachmentCount>")),
        "{policy}"
    );
    let entities = call(&h, "ListEntitiesForPolicy", &format!("PolicyArn={arn}"))
        .await
        .unwrap();
    assert_eq!(entities.matches("<UserName>").count(), attached);
    // Attached somewhere: the policy cannot go.
    let err = call(&h, "DeletePolicy", &format!("PolicyArn={arn}"))
        .await
        .unwrap_err();
    assert_eq!((err.code.as_ref(), err.status), ("DeleteConflict", 409));
}

#[tokio::test]
async fn bad_input_is_a_client_error_never_a_500() {
    let h = harness().await;
    for (action, form) in [
        ("CreateUser", ""),
        ("CreateUser", "UserName=a%20b"),
        ("CreateUser", "UserName=x&Path=nope"),
        ("ListUsers", "MaxItems=0"),
        ("ListUsers", "MaxItems=abc"),
        ("ListUsers", "Marker=%21%21"),
        ("GetPolicy", "PolicyArn=zzz"),
        ("CreatePolicy", "PolicyName=p&PolicyDocument=%7B"),
        ("CreateRole", "RoleName=r&AssumeRolePolicyDocument=%7B%7D"),
        (
            "CreateRole",
            "RoleName=r&AssumeRolePolicyDocument=x&MaxSessionDuration=1",
        ),
        ("UpdateAccessKey", "AccessKeyId=%2F..%2F&Status=Active"),
        ("UpdateAccessKey", "AccessKeyId=AKIAX&Status=Maybe"),
        (
            "GetPolicyVersion",
            "PolicyArn=arn:aws:iam::aws:policy/AdministratorAccess&VersionId=1",
        ),
        ("GetAccountAuthorizationDetails", "Filter.member.1=Nope"),
        (
            "ListEntitiesForPolicy",
            "PolicyArn=arn:aws:iam::1:policy/none",
        ),
        ("TagUser", "UserName=admin&Tags.member.1.Key="),
    ] {
        let err = call(&h, action, form).await.unwrap_err();
        assert!(
            (400..500).contains(&err.status),
            "{action} {form}: {} {}",
            err.status,
            err
        );
    }
}
