//! An invocation's `Duration` (its `REPORT` line) is the time the runtime held it — from the
//! Runtime API handing it the event to the Runtime API having its answer — however late the
//! invoking task looks: on a busy host it may see both only after the answer, and once read 0.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use rampart_functions::environment::sandbox::Limits;
use rampart_functions::environment::{ExecutionEnvironment, Launch};
use zeroize::Zeroizing;

/// A runtime loop that holds every invocation 200 ms before answering it.
const RUNTIME: &str = r#"
import http.client, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    time.sleep(0.2)
    conn.request("POST", f"/2018-06-01/runtime/invocation/{rid}/response", body=b"{}")
    conn.getresponse().read()
"#;

/// The interpreter `python3` runs and the directories it reads from.
fn python() -> Option<(PathBuf, Vec<PathBuf>)> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.prefix); print(sys.base_prefix)",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines().map(PathBuf::from);
    Some((lines.next()?, lines.collect()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_is_the_runtimes_hold_even_when_the_invoker_looks_late() {
    let Some((program, read_only)) = python() else {
        eprintln!("no python3: skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (code_dir, tmp_dir, jail_dir) = (
        dir.path().join("code"),
        dir.path().join("tmp"),
        dir.path().join("jail"),
    );
    for d in [&code_dir, &tmp_dir, &jail_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let launch = Launch {
        program,
        args: vec!["-c".into(), RUNTIME.into()],
        code_dir: code_dir.clone(),
        tmp_dir,
        variables: vec![("PATH".into(), Zeroizing::new("/usr/bin:/bin".into()))],
        limits: Limits::for_memory(512),
        read_only: [vec![code_dir], read_only].concat(),
        tcp_connect: Vec::new(),
        identity: None,
        jail_dir,
        log_stream: None,
    };
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let Ok(mut env) = ExecutionEnvironment::start(
        launch,
        "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        "k".into(),
        512,
        expires,
    )
    .await
    else {
        panic!("the environment did not start");
    };
    let first = env.invoke("r-1", Bytes::from_static(b"{}"), None, 5).await;
    assert!(first.function_error.is_none(), "{:?}", first.payload);
    assert!(
        first.duration >= Duration::from_millis(200),
        "{:?}",
        first.duration
    );

    // Handed over, then not looked at until well after the runtime answered.
    let mut second = Box::pin(env.invoke("r-2", Bytes::from_static(b"{}"), None, 5));
    let _ = tokio::time::timeout(Duration::from_millis(1), second.as_mut()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = second.await;
    assert!(second.function_error.is_none(), "{:?}", second.payload);
    assert!(
        second.duration >= Duration::from_millis(200)
            && second.duration < Duration::from_millis(1000),
        "the runtime held it 200 ms, the invoker looked after 1.5 s: {:?}",
        second.duration
    );
}
