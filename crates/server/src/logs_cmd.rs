//! `rampart logs`: a function's log (`rampart logs FUNCTION`), as `aws logs tail
//! /aws/lambda/FUNCTION` prints it, or a deployed API's access log (`rampart logs --api ID`),
//! read from the store; `--follow` keeps printing new events until interrupted.
//!
//! Function logs are sealed through KMS, so the command opens the store with the root key, as
//! `rampart identity outbox` does: only who holds the key reads what functions printed. The
//! access log is the gateway's records in the audit trail, which `rampart audit` reads
//! without it. `--retention-days` sets a function's own retention (audited under the local
//! operator, as `rampart keys` is).

use std::io::Write as _;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{ArgGroup, Args, ValueEnum};
use rampart_core::{AuditQuery, AuditRecord};
use rampart_functions::logs::read::LogCursor;
use rampart_functions::logs::retention::{self, MAX_RETENTION_DAYS};
use rampart_functions::logs::{unix_micros, LogEvent};
use rampart_kms::KmsService;
use rampart_store::Store;
use serde::Serialize;
use time::OffsetDateTime;

use crate::cli::{RootKeyArgs, StoreArgs};

/// How often `--follow` looks for new events.
const POLL: Duration = Duration::from_secs(1);
/// Audit records read per query.
const AUDIT_PAGE: usize = 1000;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["function", "api"])))]
pub struct LogsArgs {
    /// The function whose log to print (its name): its output and Lambda's START, END and
    /// REPORT lines, one event a line.
    #[arg(value_name = "FUNCTION")]
    pub function: Option<String>,
    /// Print the access log of this deployed API (its id) instead: one line per request.
    #[arg(long, value_name = "API_ID", conflicts_with = "function")]
    pub api: Option<String>,
    /// With --api: only the requests its stage STAGE served.
    #[arg(long, requires = "api")]
    pub stage: Option<String>,
    /// Events at or after this time: RFC 3339 (2026-11-26T10:00:00Z) or an age (90s, 15m, 2h,
    /// 7d). As `aws logs tail`, the last 10 minutes by default.
    #[arg(long, default_value = "10m")]
    pub since: String,
    /// Keep printing new events as they arrive, until interrupted (Ctrl-C).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// `detailed`: time, log stream and message; `short`: time to the second and message.
    #[arg(long, value_enum, default_value = "detailed")]
    pub format: LogsFormat,
    /// Instead of printing: keep FUNCTION's log this many days (1 to 3653), or 0 for the
    /// server's --functions-log-retention-days again.
    #[arg(
        long,
        value_name = "DAYS",
        requires = "function",
        conflicts_with = "follow"
    )]
    pub retention_days: Option<u32>,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub root_key: RootKeyArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogsFormat {
    Detailed,
    Short,
}

pub async fn run(args: LogsArgs) -> anyhow::Result<()> {
    let since = crate::audit_cmd::parse_since(&args.since)?;
    let outcome = match (&args.function, &args.api) {
        (Some(function), _) => {
            let (store, custody) = crate::keys_cmd::open(&args.store, &args.root_key).await?;
            let result = match args.retention_days {
                Some(days) => set_retention(store.as_ref(), function, days).await,
                None => {
                    let account = rampart_iam::Account::load(store.as_ref())
                        .await?
                        .context("the store has no account")?;
                    // Region: only ARNs of new keys use it, and this makes none.
                    let kms =
                        KmsService::new(store.clone(), custody.keyring, account.account_id, "-");
                    function_log(store.as_ref(), &kms, function, since, &args).await
                }
            };
            store.close().await;
            result
        }
        (None, Some(api)) => {
            let store = crate::audit_cmd::open_store(&args.store).await?;
            let result = access_log(store.as_ref(), api, since, &args).await;
            store.close().await;
            result
        }
        (None, None) => bail!("name a FUNCTION or --api API_ID"),
    };
    match outcome {
        // `rampart logs … | head` stops reading: not a failure.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Ctrl-C (or SIGTERM) while following: listened for from the start, so one that arrives
/// while the store is being read is not missed.
struct Interrupt {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Interrupt {
            int: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// Waits `POLL`; false once interrupted.
    async fn wait(&mut self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => true,
            _ = self.int.recv() => false,
            _ = self.term.recv() => false,
        }
    }
}

/// `2024-05-01T12:34:56.789000+00:00`, as `aws logs tail` writes times.
fn detailed_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// `2024-05-01T12:34:56`, `aws logs tail --format short`.
fn short_time(t: OffsetDateTime) -> String {
    detailed_time(t)[..19].to_owned()
}

fn event_line(e: &LogEvent, format: LogsFormat) -> String {
    match format {
        LogsFormat::Detailed => format!("{} {} {}", detailed_time(e.time()), e.stream, e.message),
        LogsFormat::Short => format!("{} {}", short_time(e.time()), e.message),
    }
}

async fn function_log(
    store: &dyn Store,
    kms: &KmsService,
    function: &str,
    since: OffsetDateTime,
    args: &LogsArgs,
) -> anyhow::Result<()> {
    if rampart_functions::records::load_function(store, function)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .is_none()
    {
        eprintln!("rampart: no function named {function} (printing what its log still holds)");
    }
    let mut cursor = LogCursor::new(function, unix_micros(since));
    let mut interrupt = args.follow.then(Interrupt::listen).transpose()?;
    loop {
        let poll = cursor
            .poll(store, kms)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the log of {function}: {e}"))?;
        for (key, why) in &poll.unreadable {
            eprintln!("rampart: a log batch of {function} ({key}) cannot be read: {why}");
        }
        let mut out = std::io::stdout().lock();
        for e in &poll.events {
            writeln!(out, "{}", event_line(e, args.format))?;
        }
        out.flush()?;
        drop(out);
        let go_on = match interrupt.as_mut() {
            Some(interrupt) => interrupt.wait().await,
            None => false,
        };
        if !go_on {
            return Ok(());
        }
    }
}

async fn set_retention(store: &dyn Store, function: &str, days: u32) -> anyhow::Result<()> {
    if days > MAX_RETENTION_DAYS {
        bail!("--retention-days {days}: at most {MAX_RETENTION_DAYS} (ten years)");
    }
    let f = rampart_functions::records::load_function(store, function)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_context(|| format!("no function named {function}"))?;
    let now = OffsetDateTime::now_utc();
    let operation = if days == 0 {
        "DeleteRetentionPolicy"
    } else {
        "PutRetentionPolicy"
    };
    // The log group's ARN, in the function's region and account.
    let parts: Vec<&str> = f.record.arn.split(':').collect();
    let (region, account) = (parts.get(3).copied(), parts.get(4).copied());
    let log_group = format!(
        "arn:aws:logs:{}:{}:log-group:/aws/lambda/{function}",
        region.unwrap_or("-"),
        account.unwrap_or("-")
    );
    let mut record = AuditRecord::service_action(
        now,
        &crate::keys_cmd::operator(),
        "logs",
        operation,
        &log_group,
    );
    record.user_agent = Some("rampart logs".to_owned());
    store
        .commit_audited(
            vec![retention::retention_write(
                function,
                (days > 0).then_some(days),
            )],
            &record,
        )
        .await?;
    match days {
        0 => println!(
            "{function}: logs kept as long as the server's --functions-log-retention-days."
        ),
        n => println!("{function}: logs kept {n} days."),
    }
    Ok(())
}

/// One access-log line, in the names of API Gateway's `$context` variables (the fields of
/// its suggested JSON access-log format, and what Rampart adds: who, and the authorizer's
/// decision).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessLine<'a> {
    request_id: &'a str,
    ip: &'a str,
    request_time: String,
    http_method: &'a str,
    route_key: &'a str,
    path: &'a str,
    protocol: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    integration_latency: Option<u64>,
    response_latency: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// `01/May/2024:12:34:56 +0000`, `$context.requestTime`.
fn request_time(t: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The access-log line of `r`, if it is a request to `api` (and `stage`, when given).
fn access_line(
    r: &AuditRecord,
    api: &str,
    stage: Option<&str>,
    format: LogsFormat,
) -> Option<String> {
    let access = r.access.as_ref()?;
    if access.api_id != api || stage.is_some_and(|s| access.stage.as_deref() != Some(s)) {
        return None;
    }
    let line = AccessLine {
        request_id: &r.request_id,
        ip: &r.source_ip,
        request_time: request_time(r.time),
        http_method: &access.http_method,
        route_key: access.route_key.as_deref().unwrap_or("-"),
        path: &access.path,
        protocol: &access.protocol,
        status: r.http_status,
        integration_latency: access.integration_latency_ms,
        response_latency: access.response_latency_ms,
        principal: r.principal_arn.as_deref(),
        authorizer: r.decision.as_deref(),
        error: r.error_code.as_deref(),
    };
    let json = serde_json::to_string(&line).ok()?;
    Some(match format {
        LogsFormat::Detailed => format!(
            "{} {api}/{} {json}",
            detailed_time(r.time),
            access.stage.as_deref().unwrap_or("-")
        ),
        LogsFormat::Short => format!("{} {json}", short_time(r.time)),
    })
}

async fn access_log(
    store: &dyn Store,
    api: &str,
    since: OffsetDateTime,
    args: &LogsArgs,
) -> anyhow::Result<()> {
    let mut after_seq: Option<i64> = None;
    let mut interrupt = args.follow.then(Interrupt::listen).transpose()?;
    loop {
        let query = AuditQuery {
            since: Some(since),
            service: Some("execute-api".to_owned()),
            operation: Some("Invoke".to_owned()),
            after_seq,
            limit: Some(AUDIT_PAGE),
            ..AuditQuery::default()
        };
        let records = store.query_audit(&query).await?;
        let mut out = std::io::stdout().lock();
        for r in &records {
            if let Some(line) = access_line(r, api, args.stage.as_deref(), args.format) {
                writeln!(out, "{line}")?;
            }
        }
        out.flush()?;
        drop(out);
        if let Some(last) = records.last() {
            after_seq = Some(last.seq);
        }
        if records.len() == AUDIT_PAGE {
            continue; // more already there
        }
        let go_on = match interrupt.as_mut() {
            Some(interrupt) => interrupt.wait().await,
            None => false,
        };
        if !go_on {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::{AccessDetail, AuditOutcome};
    use time::format_description::well_known::Rfc3339;

    fn at() -> OffsetDateTime {
        OffsetDateTime::parse("2024-05-01T02:03:04.005006Z", &Rfc3339).unwrap()
    }

    #[test]
    fn times_as_aws_writes_them() {
        assert_eq!(detailed_time(at()), "2024-05-01T02:03:04.005006+00:00");
        assert_eq!(short_time(at()), "2024-05-01T02:03:04");
        assert_eq!(request_time(at()), "01/May/2024:02:03:04 +0000");
    }

    #[test]
    fn function_events_as_aws_logs_tail_prints_them() {
        let e = LogEvent {
            time_us: unix_micros(at()),
            stream: "2024/05/01/[$LATEST]abc".into(),
            message: "hello".into(),
        };
        assert_eq!(
            event_line(&e, LogsFormat::Detailed),
            "2024-05-01T02:03:04.005006+00:00 2024/05/01/[$LATEST]abc hello"
        );
        assert_eq!(
            event_line(&e, LogsFormat::Short),
            "2024-05-01T02:03:04 hello"
        );
    }

    #[test]
    fn access_lines_name_the_request() {
        let mut r = AuditRecord::service_action(at(), "p", "execute-api", "Invoke", "arn");
        r.request_id = "req-1".into();
        r.source_ip = "127.0.0.1".into();
        r.principal_arn = None;
        r.outcome = AuditOutcome::Success;
        r.access = Some(AccessDetail {
            api_id: "a1".into(),
            stage: Some("$default".into()),
            route_key: Some("GET /items/{id}".into()),
            http_method: "GET".into(),
            path: "/items/7".into(),
            protocol: "HTTP/1.1".into(),
            response_latency_ms: 12,
            integration_latency_ms: Some(9),
        });
        let line = access_line(&r, "a1", None, LogsFormat::Detailed).unwrap();
        assert_eq!(
            line,
            r#"2024-05-01T02:03:04.005006+00:00 a1/$default {"requestId":"req-1","ip":"127.0.0.1","requestTime":"01/May/2024:02:03:04 +0000","httpMethod":"GET","routeKey":"GET /items/{id}","path":"/items/7","protocol":"HTTP/1.1","status":200,"integrationLatency":9,"responseLatency":12}"#
        );
        assert!(access_line(&r, "a2", None, LogsFormat::Detailed).is_none());
        assert!(access_line(&r, "a1", Some("prod"), LogsFormat::Detailed).is_none());
        assert!(access_line(&r, "a1", Some("$default"), LogsFormat::Short).is_some());
        r.access = None;
        assert!(access_line(&r, "a1", None, LogsFormat::Detailed).is_none());
    }
}
