//! The embedded audit trail: one row per group commit.
//!
//! The writer thread commits every record queued at the same moment in one transaction. Stored
//! one row per record, that transaction executed a statement, a table insert and an index insert
//! per record; stored as one row per batch it executes one, whatever the batch's size. A batch is
//! its records encoded together ([`encode`]: a format byte, then postcard — a compact serde
//! format made for this kind of record — of the records without their seqs; format 2 adds each
//! record's access detail, format 1 batches read back without it), the seqs they were
//! given (`first_seq ..= last_seq`, consecutive) and the time range they span. Queries read the
//! batches a filter can concern (by time range through the index, by seq through the primary
//! key), decode them and apply the rest of the filter to each record ([`Matcher`]).
//!
//! Rows of the table before (`audit_records`, schema version 1–5) stay where they are; their
//! seqs are all lower than any batch's, since a batch's first seq follows both tables' last.

use std::borrow::Cow;

use rampart_core::audit::{AccessDetail, AuditCheck, AuditOutcome, AuditQuery, AuditRecord};
use rusqlite::{named_params, Connection};
use serde::{Deserialize, Serialize};

use super::writer::map_err;
use crate::rows::{from_unix_micros, unix_micros};
use crate::StoreError;

/// The first byte of every encoded batch; a new layout gets a new value and a decoder for it.
/// Version 1: [`Stored`] records.
const FORMAT_V1: u8 = 1;
/// Version 2 (what is written): [`StoredV2`] records, version 1's and the access detail.
const FORMAT_V2: u8 = 2;

/// One record as encoded, its seq aside (implied by its place in the batch). Borrowed when
/// encoding, owned when decoding. The field order is the format: append only, behind a new
/// [`FORMAT_V1`]-like byte.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    time_us: i64,
    #[serde(borrow)]
    request_id: Cow<'a, str>,
    #[serde(borrow)]
    principal_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source_ip: Cow<'a, str>,
    tls: bool,
    #[serde(borrow)]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    service: Cow<'a, str>,
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(borrow)]
    outcome: Cow<'a, str>,
    #[serde(borrow)]
    error_code: Option<Cow<'a, str>>,
    http_status: u16,
    #[serde(borrow)]
    decision: Option<Cow<'a, str>>,
    matched_statements: Vec<Cow<'a, str>>,
    checks: Vec<StoredCheck<'a>>,
}

/// A record of format 2: format 1's, then its access detail.
#[derive(Serialize, Deserialize)]
struct StoredV2<'a> {
    #[serde(borrow)]
    record: Stored<'a>,
    access: Option<StoredAccess<'a>>,
}

/// [`AccessDetail`] as encoded: every field always present (postcard is not self-describing,
/// so the detail's own skipped-when-empty fields cannot be encoded as they serialise).
#[derive(Serialize, Deserialize)]
struct StoredAccess<'a> {
    #[serde(borrow)]
    api_id: Cow<'a, str>,
    #[serde(borrow)]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow)]
    route_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    http_method: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(borrow)]
    protocol: Cow<'a, str>,
    response_latency_ms: u64,
    integration_latency_ms: Option<u64>,
}

impl<'a> StoredAccess<'a> {
    fn of(a: &'a AccessDetail) -> Self {
        StoredAccess {
            api_id: borrowed(&a.api_id),
            stage: a.stage.as_deref().map(borrowed),
            route_key: a.route_key.as_deref().map(borrowed),
            http_method: borrowed(&a.http_method),
            path: borrowed(&a.path),
            protocol: borrowed(&a.protocol),
            response_latency_ms: a.response_latency_ms,
            integration_latency_ms: a.integration_latency_ms,
        }
    }

    fn into_detail(self) -> AccessDetail {
        AccessDetail {
            api_id: self.api_id.into_owned(),
            stage: self.stage.map(Cow::into_owned),
            route_key: self.route_key.map(Cow::into_owned),
            http_method: self.http_method.into_owned(),
            path: self.path.into_owned(),
            protocol: self.protocol.into_owned(),
            response_latency_ms: self.response_latency_ms,
            integration_latency_ms: self.integration_latency_ms,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredCheck<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    resource: Cow<'a, str>,
    #[serde(borrow)]
    decision: Cow<'a, str>,
}

fn borrowed(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

impl<'a> Stored<'a> {
    fn of(r: &'a AuditRecord) -> Self {
        Stored {
            time_us: unix_micros(r.time),
            request_id: borrowed(&r.request_id),
            principal_arn: r.principal_arn.as_deref().map(borrowed),
            access_key_id: r.access_key_id.as_deref().map(borrowed),
            source_ip: borrowed(&r.source_ip),
            tls: r.tls,
            user_agent: r.user_agent.as_deref().map(borrowed),
            service: borrowed(&r.service),
            operation: borrowed(&r.operation),
            outcome: borrowed(r.outcome.as_str()),
            error_code: r.error_code.as_deref().map(borrowed),
            http_status: r.http_status,
            decision: r.decision.as_deref().map(borrowed),
            matched_statements: r.matched_statements.iter().map(|s| borrowed(s)).collect(),
            checks: r
                .checks
                .iter()
                .map(|c| StoredCheck {
                    action: borrowed(&c.action),
                    resource: borrowed(&c.resource),
                    decision: borrowed(&c.decision),
                })
                .collect(),
        }
    }

    fn into_record(self, seq: i64) -> Result<AuditRecord, StoreError> {
        let outcome = AuditOutcome::parse(&self.outcome).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "audit record {seq}: unknown outcome {:?}",
                self.outcome
            ))
        })?;
        Ok(AuditRecord {
            seq,
            time: from_unix_micros(self.time_us)?,
            request_id: self.request_id.into_owned(),
            principal_arn: self.principal_arn.map(Cow::into_owned),
            access_key_id: self.access_key_id.map(Cow::into_owned),
            source_ip: self.source_ip.into_owned(),
            tls: self.tls,
            user_agent: self.user_agent.map(Cow::into_owned),
            service: self.service.into_owned(),
            operation: self.operation.into_owned(),
            outcome,
            error_code: self.error_code.map(Cow::into_owned),
            http_status: self.http_status,
            decision: self.decision.map(Cow::into_owned),
            matched_statements: self
                .matched_statements
                .into_iter()
                .map(Cow::into_owned)
                .collect(),
            checks: self
                .checks
                .into_iter()
                .map(|c| AuditCheck {
                    action: c.action.into_owned(),
                    resource: c.resource.into_owned(),
                    decision: c.decision.into_owned(),
                })
                .collect(),
            access: None,
        })
    }
}

/// A batch's stored form (format 2).
pub(crate) fn encode(records: &[AuditRecord]) -> Result<Vec<u8>, StoreError> {
    let stored: Vec<StoredV2<'_>> = records
        .iter()
        .map(|r| StoredV2 {
            record: Stored::of(r),
            access: r.access.as_ref().map(StoredAccess::of),
        })
        .collect();
    postcard::to_extend(&stored, vec![FORMAT_V2])
        .map_err(|e| StoreError::Corrupt(format!("audit batch not encodable: {e}")))
}

/// A decoded record and its access detail (none in format 1).
type Decoded<'a> = (Stored<'a>, Option<AccessDetail>);

/// The records of a batch's body in `format` (1 or 2), and what follows them.
fn take_records(format: u8, body: &[u8]) -> Result<(Vec<Decoded<'_>>, &[u8]), String> {
    match format {
        FORMAT_V1 => {
            let (stored, rest): (Vec<Stored<'_>>, &[u8]) =
                postcard::take_from_bytes(body).map_err(|e| e.to_string())?;
            Ok((stored.into_iter().map(|s| (s, None)).collect(), rest))
        }
        FORMAT_V2 => {
            let (stored, rest): (Vec<StoredV2<'_>>, &[u8]) =
                postcard::take_from_bytes(body).map_err(|e| e.to_string())?;
            let records = stored
                .into_iter()
                .map(|s| (s.record, s.access.map(StoredAccess::into_detail)))
                .collect();
            Ok((records, rest))
        }
        other => Err(format!("unknown format {other}")),
    }
}

/// The records of the batch whose first seq is `first_seq`, in order. Damaged bytes are
/// `Corrupt`, never a panic.
pub(crate) fn decode(first_seq: i64, blob: &[u8]) -> Result<Vec<AuditRecord>, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("audit batch {first_seq}: {what}"));
    let Some((&format, body)) = blob.split_first() else {
        return Err(corrupt("empty".into()));
    };
    let (stored, rest) = take_records(format, body).map_err(corrupt)?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{} bytes after the records", rest.len())));
    }
    stored
        .into_iter()
        .enumerate()
        .map(|(i, (s, access))| {
            let seq = i64::try_from(i)
                .ok()
                .and_then(|i| first_seq.checked_add(i))
                .ok_or_else(|| corrupt("seq out of range".into()))?;
            let mut record = s.into_record(seq)?;
            record.access = access;
            Ok(record)
        })
        .collect()
}

/// The seq after the last one either table holds: batches continue the trail of single rows.
const NEXT_SEQ: &str = "SELECT MAX( \
     COALESCE((SELECT last_seq FROM audit_batches ORDER BY first_seq DESC LIMIT 1), 0), \
     COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit_records'), 0)) + 1";

const INSERT_BATCH: &str = "INSERT INTO audit_batches \
     (first_seq, last_seq, time_from_us, time_to_us, records) \
     VALUES (:first, :last, :from, :to, :records)";

/// Appends `records` as one batch in the current transaction; their seqs, ascending.
pub(crate) fn insert(conn: &Connection, records: &[AuditRecord]) -> Result<Vec<i64>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let first: i64 = conn
        .prepare_cached(NEXT_SEQ)
        .and_then(|mut s| s.query_row([], |row| row.get(0)))
        .map_err(map_err)?;
    let count = i64::try_from(records.len())
        .map_err(|_| StoreError::Corrupt("audit batch too large".into()))?;
    let last = first + count - 1;
    let times = records.iter().map(|r| unix_micros(r.time));
    let from = times.clone().min().unwrap_or(0);
    let to = times.max().unwrap_or(0);
    let blob = encode(records)?;
    conn.prepare_cached(INSERT_BATCH)
        .and_then(|mut s| {
            s.execute(named_params! {
                ":first": first, ":last": last, ":from": from, ":to": to, ":records": blob,
            })
        })
        .map_err(map_err)?;
    Ok((first..=last).collect())
}

/// Whether a decoded record passes the parts of a query that SQL could not apply to its batch.
pub(crate) struct Matcher<'q> {
    query: &'q AuditQuery,
    since: Option<i64>,
    until: Option<i64>,
}

impl<'q> Matcher<'q> {
    pub(crate) fn new(query: &'q AuditQuery) -> Self {
        Matcher {
            query,
            since: query.since.map(unix_micros),
            until: query.until.map(unix_micros),
        }
    }

    pub(crate) fn matches(&self, r: &AuditRecord) -> bool {
        let q = self.query;
        let time = unix_micros(r.time);
        let eq = |want: Option<&str>, have: &str| want.is_none_or(|w| w == have);
        self.since.is_none_or(|s| time >= s)
            && self.until.is_none_or(|u| time <= u)
            && q.principal.as_deref().is_none_or(|p| {
                r.principal_arn.as_deref() == Some(p) || r.access_key_id.as_deref() == Some(p)
            })
            && eq(q.service.as_deref(), &r.service)
            && eq(q.operation.as_deref(), &r.operation)
            && eq(q.outcome.map(AuditOutcome::as_str), r.outcome.as_str())
            && q.decision
                .as_deref()
                .is_none_or(|d| r.decision.as_deref() == Some(d))
            && q.after_seq.is_none_or(|a| r.seq > a)
    }
}

/// Batches read per round trip while a query walks the trail.
const PAGE: i64 = 64;

/// The records of the batches that match `query`, in seq order, at most `limit` of them.
pub(crate) fn query(
    conn: &Connection,
    query: &AuditQuery,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut found = Vec::new();
    if limit == 0 {
        return Ok(found);
    }
    let matcher = Matcher::new(query);
    // The batch holding the seq right after `after_seq` may start at or before it.
    let mut cursor = match query.after_seq {
        None => i64::MIN,
        Some(after) => conn
            .prepare_cached("SELECT MAX(first_seq) FROM audit_batches WHERE first_seq <= :after")
            .and_then(|mut s| {
                s.query_row(named_params! {":after": after}, |row| {
                    row.get::<_, Option<i64>>(0)
                })
            })
            .map_err(map_err)?
            .map_or(i64::MIN, |first| first - 1),
    };
    let mut page = conn
        .prepare_cached(
            "SELECT first_seq, records FROM audit_batches \
             WHERE first_seq > :cursor AND time_to_us >= :since AND time_from_us <= :until \
             ORDER BY first_seq LIMIT :page",
        )
        .map_err(map_err)?;
    let since = matcher.since.unwrap_or(i64::MIN);
    let until = matcher.until.unwrap_or(i64::MAX);
    loop {
        let batches: Vec<(i64, Vec<u8>)> = page
            .query_map(
                named_params! {":cursor": cursor, ":since": since, ":until": until, ":page": PAGE},
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .and_then(Iterator::collect)
            .map_err(map_err)?;
        let Some(&(last_first, _)) = batches.last() else {
            return Ok(found);
        };
        for (first_seq, blob) in &batches {
            for record in decode(*first_seq, blob)? {
                if matcher.matches(&record) {
                    found.push(record);
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
        }
        cursor = last_first;
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn record(n: u8) -> AuditRecord {
        AuditRecord {
            seq: 0,
            time: OffsetDateTime::from_unix_timestamp(1_700_000_000 + i64::from(n)).unwrap(),
            request_id: format!("req-{n}"),
            principal_arn: (n.is_multiple_of(2))
                .then(|| "arn:aws:iam::000000000000:user/alice".into()),
            access_key_id: Some("AKIAEXAMPLE".into()),
            source_ip: "192.0.2.1".into(),
            tls: n.is_multiple_of(3),
            user_agent: None,
            service: "iam".into(),
            operation: "GetUser".into(),
            outcome: if n.is_multiple_of(2) {
                AuditOutcome::Success
            } else {
                AuditOutcome::Failure
            },
            error_code: (!n.is_multiple_of(2)).then(|| "AccessDenied".into()),
            http_status: if n.is_multiple_of(2) { 200 } else { 403 },
            decision: Some("allowed".into()),
            matched_statements: vec!["Stmt1".into(), "é ünïcode".into()],
            checks: vec![AuditCheck {
                action: "iam:GetUser".into(),
                resource: "arn:aws:iam::000000000000:user/alice".into(),
                decision: "allowed".into(),
            }],
            access: n.is_multiple_of(2).then(|| AccessDetail {
                api_id: "a1b2c3".into(),
                stage: n.is_multiple_of(4).then(|| "$default".into()),
                route_key: Some("GET /items/{id}".into()),
                http_method: "GET".into(),
                path: "/items/7".into(),
                protocol: "HTTP/1.1".into(),
                response_latency_ms: u64::from(n),
                integration_latency_ms: n.is_multiple_of(4).then_some(3),
            }),
        }
    }

    #[test]
    fn batches_round_trip_with_consecutive_seqs() {
        let records: Vec<_> = (0..5).map(record).collect();
        let blob = encode(&records).unwrap();
        let back = decode(41, &blob).unwrap();
        let want: Vec<_> = records
            .into_iter()
            .zip(41..)
            .map(|(mut r, seq)| {
                r.seq = seq;
                r
            })
            .collect();
        assert_eq!(back, want);
    }

    #[test]
    fn format_1_batches_still_read_without_access() {
        let records: Vec<_> = (0..3).map(record).collect();
        let v1: Vec<Stored<'_>> = records.iter().map(Stored::of).collect();
        let blob = postcard::to_extend(&v1, vec![FORMAT_V1]).unwrap();
        let back = decode(7, &blob).unwrap();
        assert_eq!(back.len(), 3);
        for ((b, mut r), seq) in back.into_iter().zip(records).zip(7..) {
            r.seq = seq;
            r.access = None;
            assert_eq!(b, r);
        }
    }

    #[test]
    fn damaged_batches_are_corrupt_not_panics() {
        let blob = encode(&[record(1), record(2)]).unwrap();
        let mut cases: Vec<Vec<u8>> = vec![Vec::new(), vec![3], vec![FORMAT_V2, 0xff, 0xff]];
        for cut in 1..blob.len() {
            cases.push(blob[..cut].to_vec());
        }
        let mut trailing = blob.clone();
        trailing.push(0);
        cases.push(trailing);
        // A length prefix claiming far more records than bytes.
        cases.push(vec![FORMAT_V2, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        cases.push(vec![FORMAT_V1, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        for case in cases {
            assert!(
                matches!(decode(1, &case), Err(StoreError::Corrupt(_))),
                "{case:?}"
            );
        }
        // Flipping any single byte never panics (it may still decode to other text).
        for i in 0..blob.len() {
            let mut flipped = blob.clone();
            flipped[i] ^= 0x5a;
            let _ = decode(1, &flipped);
        }
        assert!(matches!(
            decode(i64::MAX, &blob),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn the_matcher_applies_every_filter() {
        let mut r = record(2);
        r.seq = 10;
        let all = AuditQuery::default();
        assert!(Matcher::new(&all).matches(&r));
        let by = |f: &dyn Fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            Matcher::new(&q).matches(&r)
        };
        assert!(by(&|q| q.principal = Some("AKIAEXAMPLE".into())));
        assert!(by(&|q| q.principal = r.principal_arn.clone()));
        assert!(!by(&|q| q.principal = Some("someone".into())));
        assert!(!by(&|q| q.service = Some("sts".into())));
        assert!(!by(&|q| q.operation = Some("GetRole".into())));
        assert!(!by(&|q| q.outcome = Some(AuditOutcome::Failure)));
        assert!(!by(&|q| q.decision = Some("explicitDeny".into())));
        assert!(by(&|q| q.after_seq = Some(9)));
        assert!(!by(&|q| q.after_seq = Some(10)));
        assert!(by(&|q| q.since = Some(r.time)));
        assert!(!by(
            &|q| q.since = Some(r.time + time::Duration::microseconds(1))
        ));
        assert!(by(&|q| q.until = Some(r.time)));
        assert!(!by(
            &|q| q.until = Some(r.time - time::Duration::microseconds(1))
        ));
    }
}
