//! Arbitrary form bodies through the typed decode of every IAM operation and of STS
//! `AssumeRole` — the only code that reads a request's members, and so the code every
//! confused, oversized or malicious parameter meets first. Nothing may panic; every input
//! either decodes or is refused with an error.
//!
//! Input layout: byte 0 picks the IAM operation (index into the operation table, modulo its
//! length); byte 1 bit 0 picks the caller (an IAM user, or a role session with a source
//! identity and transitive tags, which changes how `UserName` defaults and how `AssumeRole`
//! chains); the rest is an `application/x-www-form-urlencoded` body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_core::{CallerIdentity, PrincipalType, SessionLineage};
use rampart_wire::protocol::query::QueryParams;

fn caller(session: bool) -> CallerIdentity {
    CallerIdentity {
        account_id: "123456789012".into(),
        arn: if session {
            "arn:aws:sts::123456789012:assumed-role/r/s".into()
        } else {
            "arn:aws:iam::123456789012:user/fuzz".into()
        },
        user_id: "AIDAFUZZ".into(),
        principal_type: if session {
            PrincipalType::AssumedRole
        } else {
            PrincipalType::User
        },
        name: "fuzz".into(),
        access_key_id: "AKIAFUZZ".into(),
        temporary: session,
        session_name: session.then(|| "s".into()),
        token_issue_time: None,
        source_ip: [127, 0, 0, 1].into(),
        secure_transport: false,
        mfa_present: false,
        lineage: if session {
            SessionLineage {
                source_identity: Some("alice".into()),
                transitive_tags: vec![("team".into(), "blue".into())],
            }
        } else {
            SessionLineage::default()
        },
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let operations = rampart_iam::api::operations();
    let operation = operations[usize::from(data[0]) % operations.len()].name;
    let caller = caller(data[1] & 1 == 1);
    let Ok(params) = QueryParams::parse(&[&data[2..]]) else {
        return;
    };
    let _ = rampart_iam::api::decode_request(operation, &params, Some(&caller));
    let _ = rampart_iam::api::decode_request(operation, &params, None);
    let _ = rampart_iam::sts::decode_assume_role(&params, &caller);
});
