//! `rampart-floor`: the floor of `bench/load.py`.
//!
//! A bare HTTP server that answers every request with the same small XML body (the size of a
//! `GetCallerIdentity` answer) and checks nothing. It runs on the same stack as `rampart serve`
//! — axum on hyper via `axum_server::from_tcp`, a default multi-thread tokio runtime (one worker
//! per core), the same allocator (mimalloc) — so that the benchmark can state what Rampart's checks cost
//! as a fraction of what this machine can serve at all.

use std::io::Write;
use std::net::SocketAddr;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use bytes::Bytes;
use clap::Parser;

/// The allocator `rampart` uses (crates/server/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A `GetCallerIdentity` answer of the size Rampart sends (about 400 bytes).
const BODY: &str =
    "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
<GetCallerIdentityResult>\
<Arn>arn:aws:iam::000000000000:user/admin</Arn>\
<UserId>AIDAAAAAAAAAAAAAAAAAA</UserId>\
<Account>000000000000</Account>\
</GetCallerIdentityResult>\
<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>\
</GetCallerIdentityResponse>";

#[derive(Parser)]
#[command(
    name = "rampart-floor",
    about = "Constant-answer HTTP server: the floor of bench/load.py"
)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the banner says which).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    // The same runtime as `rampart` (crates/server/src/main.rs): multi-thread, defaults.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart-floor: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart-floor: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(args.listen)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Floor listening on http://{local}")?;
        out.flush()?;
    }
    let app = axum::Router::new().fallback(answer);
    axum_server::from_tcp(listener)?
        .serve(app.into_make_service())
        .await?;
    Ok(())
}

/// Reads the request body (as Rampart must) and answers the constant body.
async fn answer(_body: Bytes) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/xml")], BODY)
}
