//! The IAM API under concurrent writers, against a real SQLite store: quotas and counts hold
//! because every mutation is one optimistic commit that re-reads and retries on conflict, and
//! a write acts only on the state of its entity that authorization read.

use std::sync::Arc;

use rampart_core::{CallerIdentity, PrincipalType, RootKeyring};
use rampart_iam::{bootstrap, ChangeHook, IamService};
use rampart_store::{SqliteStore, Store};
use rampart_wire::protocol::query::QueryParams;
use rampart_wire::{
    Input, OperationContext, OperationSpec, Output, PreparedOperation, Service, ServiceError,
};

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
    let key = RootKeyring::ephemeral();
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

/// The spec of `action`, as the pipeline looks it up.
fn spec(h: &Harness, action: &str) -> &'static OperationSpec {
    h.iam
        .operations()
        .iter()
        .find(|op| op.name == action)
        .unwrap_or_else(|| panic!("no operation {action}"))
}

/// The context the pipeline hands IAM for `action`, called by the admin.
fn context<'a>(h: &'a Harness, spec: &'a OperationSpec) -> OperationContext<'a> {
    OperationContext {
        request_id: "test",
        caller: Some(&h.admin),
        region: "us-east-1",
        operation: spec,
        verdicts: &[],
    }
}

/// Decodes `action` and runs its checks (reading what it names), as the pipeline does before
/// authorizing; the result may be held while other requests run.
async fn prepare<'h>(
    h: &'h Harness,
    action: &str,
    form: &str,
) -> Result<Box<dyn PreparedOperation + 'h>, ServiceError> {
    let params = QueryParams::parse(&[form.as_bytes()]).expect("form");
    h.iam
        .prepare(&context(h, spec(h, action)), Input::Query(params))
        .await
}

/// Runs a prepared `action`, as the pipeline does once every check is allowed.
async fn run(
    h: &Harness,
    action: &str,
    prepared: Box<dyn PreparedOperation + '_>,
) -> Result<String, ServiceError> {
    let mut output = prepared.execute(context(h, spec(h, action))).await?;
    // Policy writes may carry lint findings in a header; the XML is what matters here.
    if let Output::Annotated { output: inner, .. } = output {
        output = *inner;
    }
    match output {
        Output::Query(xml) => Ok(xml.unwrap_or_default()),
        other => panic!("unexpected output {other:?}"),
    }
}

/// Calls `action` with form parameters, as the pipeline would after authorizing.
async fn call(h: &Harness, action: &str, form: &str) -> Result<String, ServiceError> {
    let prepared = prepare(h, action, form).await?;
    run(h, action, prepared).await
}

/// Percent-encodes a form value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<element>` in `xml`.
fn element<'x>(xml: &'x str, element: &str) -> &'x str {
    xml.split(&format!("<{element}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</{element}>")).next())
        .unwrap_or_else(|| panic!("no <{element}> in {xml}"))
}

/// Creates a customer-managed policy and answers its ARN.
async fn create_policy(h: &Harness, name: &str) -> String {
    let doc = encode(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    );
    let created = call(
        h,
        "CreatePolicy",
        &format!("PolicyName={name}&PolicyDocument={doc}"),
    )
    .await
    .unwrap();
    element(&created, "Arn").to_owned()
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

/// A delegated administrator may be allowed to attach policies only to users whose boundary
/// is X. The attach was authorized while the user's boundary was X; if the boundary is
/// swapped before it runs, it must not act on the user as it now is.
#[tokio::test]
async fn an_attachment_is_bound_to_the_boundary_it_was_authorized_on() {
    let h = harness().await;
    let x = create_policy(&h, "boundary-x").await;
    let y = create_policy(&h, "boundary-y").await;
    let granted = create_policy(&h, "granted").await;
    call(
        &h,
        "CreateUser",
        &format!("UserName=bob&PermissionsBoundary={x}"),
    )
    .await
    .unwrap();

    let attach = format!("UserName=bob&PolicyArn={granted}");
    let prepared = prepare(&h, "AttachUserPolicy", &attach).await.unwrap();
    assert!(
        prepared.checks()[0]
            .condition_keys
            .contains(&("iam:PermissionsBoundary".into(), x.clone())),
        "{:?}",
        prepared.checks()
    );
    call(
        &h,
        "PutUserPermissionsBoundary",
        &format!("UserName=bob&PermissionsBoundary={y}"),
    )
    .await
    .unwrap();
    let err = run(&h, "AttachUserPolicy", prepared).await.unwrap_err();
    assert_eq!(
        (err.code.as_ref(), err.status),
        ("ConcurrentModification", 409),
        "{err}"
    );

    let attached = call(&h, "ListAttachedUserPolicies", "UserName=bob")
        .await
        .unwrap();
    assert!(!attached.contains("<PolicyArn>"), "{attached}");
    let policy = call(&h, "GetPolicy", &format!("PolicyArn={granted}"))
        .await
        .unwrap();
    assert!(
        policy.contains("<AttachmentCount>0</AttachmentCount>"),
        "{policy}"
    );

    // The client's retry is authorized afresh, on boundary Y, and then runs.
    let prepared = prepare(&h, "AttachUserPolicy", &attach).await.unwrap();
    assert!(prepared.checks()[0]
        .condition_keys
        .contains(&("iam:PermissionsBoundary".into(), y.clone())));
    run(&h, "AttachUserPolicy", prepared).await.unwrap();
    let attached = call(&h, "ListAttachedUserPolicies", "UserName=bob")
        .await
        .unwrap();
    assert_eq!(element(&attached, "PolicyArn"), granted);
}

/// A change to what authorization did not read (another attachment) does not void it.
#[tokio::test]
async fn an_unrelated_change_leaves_the_authorized_write_alone() {
    let h = harness().await;
    let x = create_policy(&h, "boundary-x").await;
    let first = create_policy(&h, "first").await;
    let second = create_policy(&h, "second").await;
    call(
        &h,
        "CreateUser",
        &format!("UserName=bob&PermissionsBoundary={x}"),
    )
    .await
    .unwrap();
    let prepared = prepare(
        &h,
        "AttachUserPolicy",
        &format!("UserName=bob&PolicyArn={first}"),
    )
    .await
    .unwrap();
    call(
        &h,
        "AttachUserPolicy",
        &format!("UserName=bob&PolicyArn={second}"),
    )
    .await
    .unwrap();
    run(&h, "AttachUserPolicy", prepared).await.unwrap();
    let attached = call(&h, "ListAttachedUserPolicies", "UserName=bob")
        .await
        .unwrap();
    assert_eq!(attached.matches("<PolicyArn>").count(), 2, "{attached}");
}

/// A role tagged after its deletion was authorized (say, `protected=true`, which a policy
/// denies deleting) survives the authorized delete.
#[tokio::test]
async fn a_delete_is_bound_to_the_tags_it_was_authorized_on() {
    let h = harness().await;
    let trust = encode(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    call(
        &h,
        "CreateRole",
        &format!("RoleName=worker&AssumeRolePolicyDocument={trust}"),
    )
    .await
    .unwrap();

    let prepared = prepare(&h, "DeleteRole", "RoleName=worker").await.unwrap();
    assert!(!prepared.checks()[0]
        .condition_keys
        .iter()
        .any(|(k, _)| k.starts_with("aws:ResourceTag/")));
    call(
        &h,
        "TagRole",
        "RoleName=worker&Tags.member.1.Key=protected&Tags.member.1.Value=true",
    )
    .await
    .unwrap();
    let err = run(&h, "DeleteRole", prepared).await.unwrap_err();
    assert_eq!(
        (err.code.as_ref(), err.status),
        ("ConcurrentModification", 409),
        "{err}"
    );
    let role = call(&h, "GetRole", "RoleName=worker").await.unwrap();
    assert_eq!(element(&role, "RoleName"), "worker");

    // Authorized afresh, the retry sees the tag (and here is allowed, and deletes).
    let prepared = prepare(&h, "DeleteRole", "RoleName=worker").await.unwrap();
    assert!(prepared.checks()[0]
        .condition_keys
        .contains(&("aws:ResourceTag/protected".into(), "true".into())));
    run(&h, "DeleteRole", prepared).await.unwrap();
    let err = call(&h, "GetRole", "RoleName=worker").await.unwrap_err();
    assert_eq!(err.code, "NoSuchEntity");
}
