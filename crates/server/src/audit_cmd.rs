//! `rampart audit`: read the audit trail.

use anyhow::{bail, Context};
use rampart_core::{AuditOutcome, AuditQuery};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::cli::{AuditArgs, StoreArgs};

/// Opens the store `args` names, which must exist (the trail needs no root key).
pub(crate) async fn open_store(
    args: &StoreArgs,
) -> anyhow::Result<std::sync::Arc<dyn rampart_store::Store>> {
    if args.store.is_none() && !args.data_dir.join("rampart.db").exists() {
        bail!(
            "no Rampart data in {} (use --data-dir or --store)",
            args.data_dir.display()
        );
    }
    rampart_store::open(&args.store_url())
        .await
        .context("cannot open the store")
}

pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store).await?;
    let (service, operation) = match &args.action {
        Some(action) => match action.split_once(':') {
            Some((service, operation)) => (Some(service.to_owned()), Some(operation.to_owned())),
            None => bail!("--action {action:?}: expected service:Operation, e.g. iam:CreateRole"),
        },
        None => (args.service, args.operation),
    };
    let query = AuditQuery {
        since: args.since.as_deref().map(parse_since).transpose()?,
        principal: args.principal,
        service,
        operation,
        outcome: args.outcome.as_deref().and_then(AuditOutcome::parse),
        decision: args.decision,
        limit: args.limit,
        ..AuditQuery::default()
    };
    let records = store.query_audit(&query).await?;
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    for r in &records {
        // The record serialises whole, `checks` included.
        if args.json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else {
            writeln!(
                out,
                "{:>6}  {}  {:<8} {:<24} {:<7} {:<3} {:<28} {:<15} {}",
                r.seq,
                r.time.format(&Rfc3339).unwrap_or_default(),
                r.service,
                r.operation,
                r.outcome.as_str(),
                r.http_status,
                r.error_code.as_deref().unwrap_or("-"),
                r.source_ip,
                r.principal_arn
                    .as_deref()
                    .or(r.access_key_id.as_deref())
                    .unwrap_or("-"),
            )?;
            // The resources it acted on, one authorization check a line under the record.
            for check in &r.checks {
                writeln!(
                    out,
                    "        {} {} {}",
                    check.action, check.resource, check.decision
                )?;
            }
        }
    }
    Ok(())
}

/// RFC 3339, or an age such as `90s`, `15m`, `2h`, `7d`.
pub(crate) fn parse_since(s: &str) -> anyhow::Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let (number, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .with_context(|| format!("--since {s:?}: expected RFC 3339 or an age like 15m"))?;
    let age = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => bail!("--since {s:?}: the unit must be s, m, h or d"),
    };
    Ok(OffsetDateTime::now_utc() - age)
}
