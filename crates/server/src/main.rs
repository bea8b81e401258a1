//! `rampart`: a self-hosted, secure-by-default serverless platform that speaks the AWS APIs.

use clap::Parser;
use rampart_server::{
    audit_cmd, cli, identity_cmd, keys_cmd, logs_cmd, policy_cmd, root_key, serve,
};

/// mimalloc rather than glibc's malloc: a request allocates and frees many small buffers
/// (headers, the audit record, the answer) across worker threads, and glibc's arenas spent ~14 %
/// of a signed request's instructions on it (BENCHMARKS.md). The benchmark floor uses the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before any thread exists: read RAMPART_ROOT_KEY and take it out of the environment, so
    // nothing this process starts inherits it.
    root_key::source::capture_environment();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Serve(args) => serve::run(*args).await,
            cli::Command::Audit(args) => audit_cmd::run(args).await,
            cli::Command::Policy(command) => policy_cmd::run(command),
            cli::Command::Keys(command) => keys_cmd::run(command).await,
            cli::Command::Identity(command) => identity_cmd::run(command).await,
            cli::Command::Logs(args) => logs_cmd::run(*args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
