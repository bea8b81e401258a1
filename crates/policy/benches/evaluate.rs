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

criterion_group!(evaluate_benches, benches);
criterion_main!(evaluate_benches);
