//! Decision speed. Targets: one decision against a 10-statement policy with conditions
//! under 1 µs; an account-wide decision over 100 statements (identity policies, a
//! boundary, a resource policy) for scale. Parsing/compiling and building the context are
//! measured separately: the server compiles policies once and builds one context per
//! request.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, criterion_main, Criterion};
use rampart_policy::{
    evaluate, CompiledPolicy, Decision, EvaluationContext, PolicyKind, RequestPrincipal,
};

/// Ten statements with a mix of conditions; the request is allowed by the last one and
/// has to get past every deny first.
fn ten_statement_policy() -> String {
    r#"{
      "Version": "2012-10-17",
      "Statement": [
        {"Sid": "S0", "Effect": "Allow", "Action": ["ec2:Describe*", "ec2:Get*"], "Resource": "*"},
        {"Sid": "S1", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "S2", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]}}},
        {"Sid": "S3", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:*:111122223333:table/*",
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message"]}}},
        {"Sid": "S4", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::bucket/locked/*"},
        {"Sid": "S5", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket",
         "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}},
        {"Sid": "S6", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}},
        {"Sid": "S7", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111122223333:*",
         "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}}},
        {"Sid": "S8", "Effect": "Deny", "NotAction": ["s3:*", "sts:*", "ec2:*", "dynamodb:*", "sqs:*"], "Resource": "*"},
        {"Sid": "S9", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::bucket/home/${aws:username}/*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"},
                       "NumericLessThanEquals": {"s3:max-keys": "1000"}}}
      ]
    }"#
    .to_owned()
}

fn context() -> EvaluationContext {
    let alice = RequestPrincipal::user("arn:aws:iam::111122223333:user/alice", "AIDAALICE")
        .with_tags([("team", "blue")]);
    EvaluationContext::new(
        alice,
        "s3:GetObject",
        "arn:aws:s3:::bucket/home/alice/notes.txt",
    )
    .with_source_ip("10.1.2.3".parse::<IpAddr>().unwrap())
    .with_secure_transport(true)
    .with_current_time(1_717_243_200)
    .with("s3:max-keys", "100")
}

/// 100 statements across an account's policies: eight identity policies of ten
/// statements, a ten-statement boundary and a ten-statement resource policy, none of them
/// written to fail fast.
fn account_policies() -> Vec<CompiledPolicy> {
    let mut policies = Vec::new();
    for p in 0..8 {
        let mut statements = Vec::new();
        for s in 0..10 {
            statements.push(format!(
                r#"{{"Sid": "P{p}S{s}", "Effect": "Allow",
                    "Action": ["svc{p}:Get{s}*", "s3:List{s}*"],
                    "Resource": "arn:aws:s3:::bucket-{p}-{s}/*",
                    "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": ["red", "blue"]}},
                                   "IpAddress": {{"aws:SourceIp": "10.0.0.0/8"}}}}}}"#
            ));
        }
        let doc = format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            statements.join(",")
        );
        policies.push(
            CompiledPolicy::parse(&format!("identity-{p}"), PolicyKind::Identity, &doc).unwrap(),
        );
    }
    // The request is allowed by the boundary's and the resource policy's last statements.
    let mut boundary = Vec::new();
    let mut resource = Vec::new();
    for s in 0..9 {
        boundary.push(format!(
            r#"{{"Effect": "Allow", "Action": "svc{s}:*", "Resource": "*"}}"#
        ));
        resource.push(format!(
            r#"{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111122223333:user/u{s}"}},
                "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/*"}}"#
        ));
    }
    boundary.push(r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#.to_owned());
    resource.push(
        r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/home/${aws:username}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}"#
            .to_owned(),
    );
    let wrap = |statements: Vec<String>| {
        format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
            statements.join(",")
        )
    };
    policies
        .push(CompiledPolicy::parse("boundary", PolicyKind::Boundary, &wrap(boundary)).unwrap());
    policies.push(CompiledPolicy::parse("bucket", PolicyKind::Resource, &wrap(resource)).unwrap());
    policies
}

fn benches(c: &mut Criterion) {
    let policy =
        CompiledPolicy::parse("ten", PolicyKind::Identity, &ten_statement_policy()).unwrap();
    let ctx = context();
    assert_eq!(evaluate([&policy], &ctx).decision, Decision::Allowed);
    c.bench_function("decision/10 statements with conditions", |b| {
        b.iter(|| evaluate([black_box(&policy)], black_box(&ctx)))
    });

    let account = account_policies();
    let statements: usize = account.iter().map(CompiledPolicy::statement_count).sum();
    assert_eq!(statements, 100);
    assert_eq!(evaluate(&account, &ctx).decision, Decision::Allowed);
    c.bench_function("decision/account-wide, 100 statements", |b| {
        b.iter(|| evaluate(black_box(&account), black_box(&ctx)))
    });

    let text = ten_statement_policy();
    c.bench_function("compile/10 statements", |b| {
        b.iter(|| CompiledPolicy::parse("ten", PolicyKind::Identity, black_box(&text)).unwrap())
    });
    c.bench_function("context/build with principal and 5 keys", |b| {
        b.iter(context)
    });
}

/// The same decision made by Cedar (`--features cedar-bench`): the ten statements above as
/// Cedar policies, evaluated by `cedar_policy::Authorizer` in the same run. See
/// `BENCHMARKS.md` for what the translation cannot express.
#[cfg(feature = "cedar-bench")]
mod cedar {
    use cedar_policy::{
        Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, Response,
    };
    use serde_json::json;

    /// Statement by statement. IAM actions are case-insensitive, Cedar's `==` and `like` are
    /// not: action names go into the context lower-cased and the patterns are written
    /// lower-case. Wildcard actions and ARN patterns become `like` on strings (Cedar has no
    /// action wildcard). An operator on a missing key is false (true when negated), so every
    /// condition checks `has` first, as IAM's "key not present" rule does.
    pub const POLICIES: &str = r#"
        @id("S0") permit(principal, action, resource) when {
            context.action like "ec2:describe*" || context.action like "ec2:get*" };
        @id("S1") forbid(principal, action, resource) when {
            context.action like "s3:*" && context has secure_transport && !context.secure_transport };
        @id("S2") forbid(principal, action, resource) when {
            !(context has source_ip) || !(context.source_ip.isInRange(ip("10.0.0.0/8"))
              || context.source_ip.isInRange(ip("192.0.2.0/24"))
              || context.source_ip.isInRange(ip("2001:db8::/32"))) };
        @id("S3") permit(principal, action, resource) when {
            context.action like "dynamodb:*"
            && context.resource like "arn:aws:dynamodb:*:111122223333:table/*"
            && (!(context has attributes) || ["ID", "Message"].containsAll(context.attributes)) };
        @id("S4") forbid(principal, action, resource) when {
            context.action == "s3:deleteobject" && context.resource like "arn:aws:s3:::bucket/locked/*" };
        @id("S5") permit(principal, action, resource) when {
            context.action == "s3:listbucket" && context.resource == "arn:aws:s3:::bucket"
            && context has prefix
            && (context.prefix == "" || context.prefix == "home/" || context.prefix like "home/alice/*") };
        @id("S6") forbid(principal, action, resource) when {
            context has current_time && context.current_time > datetime("2030-01-01T00:00:00Z") };
        @id("S7") permit(principal, action, resource) when {
            context.action == "sqs:sendmessage"
            && context.resource like "arn:aws:sqs:us-east-1:111122223333:*"
            && context has source_arn && context.source_arn like "arn:aws:sns:*:111122223333:*" };
        @id("S8") forbid(principal, action, resource) unless {
            context.action like "s3:*" || context.action like "sts:*" || context.action like "ec2:*"
            || context.action like "dynamodb:*" || context.action like "sqs:*" };
        @id("S9") permit(principal, action, resource) when {
            (context.action == "s3:getobject" || context.action == "s3:putobject")
            && context.resource like "arn:aws:s3:::bucket/home/alice/*"
            && principal has tags && principal.tags has team && principal.tags.team == "blue"
            && context has max_keys && context.max_keys <= 1000 };
    "#;

    /// What one decision needs, built once (as the IAM side builds its context once).
    pub struct Setup {
        pub authorizer: Authorizer,
        pub policies: PolicySet,
        pub request: Request,
        pub entities: Entities,
    }

    pub fn setup() -> Setup {
        let policies: PolicySet = POLICIES.parse().expect("Cedar policies parse");
        assert_eq!(policies.policies().count(), 10);
        let principal: EntityUid = r#"User::"alice""#.parse().unwrap();
        let action: EntityUid = r#"Action::"s3:GetObject""#.parse().unwrap();
        let resource: EntityUid = r#"Resource::"arn:aws:s3:::bucket/home/alice/notes.txt""#
            .parse()
            .unwrap();
        let context = Context::from_json_value(
            json!({
                "action": "s3:getobject",
                "resource": "arn:aws:s3:::bucket/home/alice/notes.txt",
                "source_ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}},
                "secure_transport": true,
                "current_time": {"__extn": {"fn": "datetime", "arg": "2024-06-01T12:00:00Z"}},
                "max_keys": 100
            }),
            None,
        )
        .expect("context");
        let request = Request::new(principal, action, resource, context, None).expect("request");
        let entities = Entities::from_json_value(
            json!([{"uid": {"type": "User", "id": "alice"},
                    "attrs": {"username": "alice", "tags": {"team": "blue"}},
                    "parents": []}]),
            None,
        )
        .expect("entities");
        let setup = Setup {
            authorizer: Authorizer::new(),
            policies,
            request,
            entities,
        };
        let response = decide(&setup);
        assert_eq!(response.decision(), Decision::Allow, "{response:?}");
        let reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        // Allowed by S9 alone (Cedar names parsed policies `policy0`…, in order).
        assert_eq!(reasons, ["policy9"]);
        setup
    }

    pub fn decide(setup: &Setup) -> Response {
        setup
            .authorizer
            .is_authorized(&setup.request, &setup.policies, &setup.entities)
    }
}

#[cfg(feature = "cedar-bench")]
fn cedar_benches(c: &mut Criterion) {
    let setup = cedar::setup();
    c.bench_function("cedar/10 statements with conditions", |b| {
        b.iter(|| cedar::decide(black_box(&setup)))
    });
}

#[cfg(not(feature = "cedar-bench"))]
fn cedar_benches(_: &mut Criterion) {}

criterion_group!(evaluate_benches, benches, cedar_benches);
criterion_main!(evaluate_benches);
