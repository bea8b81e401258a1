//! `rampart serve`: open the store, bootstrap the account, listen.

use std::collections::HashMap;
use std::io::{IsTerminal, Write as _};
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum_server::accept::DefaultAcceptor;
use rampart_iam::{
    bootstrap, Authorizer, BootstrapOutcome, ChangeHook, CredentialResolver, IamService, StsService,
};
use rampart_user_pools::source_limit::{SourceLimiter, SourceRateLimit};

use crate::audit::AuditWriter;
use crate::cli::ServeArgs;
use crate::front::data_plane::DataPlanes;
use crate::front::limits::{self, ConnectionLimits, LimitedAcceptor};
use crate::front::{self, MainListener};
use crate::functions_roles::IamRoles;
use crate::pipeline::{Pipeline, SourceAdmission};
use crate::registry::Registry;
use crate::root_key::{self, watch::Watch};
use crate::telemetry;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    telemetry::init(args.log_format, &args.log);
    create_private_dir(&args.store.data_dir)?;

    // Bind first so the banner can name the real port (the listen port may be 0).
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let metrics_listener = match args.metrics_listen {
        Some(addr) => {
            let l = std::net::TcpListener::bind(addr)
                .with_context(|| format!("cannot listen on {addr} for metrics"))?;
            l.set_nonblocking(true)?;
            Some(l)
        }
        None => None,
    };
    let metrics_endpoint = match &metrics_listener {
        Some(l) => Some(format!("http://{}/metrics", display_addr(l.local_addr()?))),
        None => None,
    };
    let tls = args.tls_cert.is_some();
    let endpoint = format!(
        "{}://{}",
        if tls { "https" } else { "http" },
        display_addr(local)
    );

    let store_url = args.store.store_url();
    let key_source = args.root_key.source(&args.store.data_dir)?;
    let store = rampart_store::open(&store_url)
        .await
        .with_context(|| format!("cannot open the store {}", redact_url(&store_url)))?;
    // The root key is proved to be the store's before anything is written.
    let custody = root_key::open(
        store.as_ref(),
        key_source,
        &args.store.data_dir,
        root_key::Opener::Serve,
    )
    .await;
    let root_keys = match custody {
        Ok(custody) => custody.keyring,
        Err(e) => {
            // Refused: leave the store as it was (SQLite removes the WAL it opened on close).
            store.close().await;
            return Err(e);
        }
    };
    let custody_watch = Watch::start(store.clone(), root_keys.clone());

    let outcome = bootstrap(store.as_ref(), &root_keys)
        .await
        .context("bootstrap failed")?;
    let account_id = outcome.account().account_id.clone();
    let credentials_path = args.store.data_dir.join("admin-credentials");
    if let BootstrapOutcome::Created {
        admin_arn,
        access_key_id,
        secret_access_key,
        ..
    } = &outcome
    {
        write_admin_profile(
            &credentials_path,
            access_key_id,
            secret_access_key,
            &args.region,
            &endpoint,
        )?;
        tracing::info!(account = %account_id, admin = %admin_arn, access_key_id = %access_key_id, "bootstrapped a new account");
        // The secret goes to an interactive terminal only, never into logs or a pipe.
        if std::io::stdout().is_terminal() {
            println!(
                "\nNew account {account_id}. Administrator {admin_arn}\n  aws_access_key_id     = {access_key_id}\n  aws_secret_access_key = {secret_access_key}\nThis secret is shown once. It is also in {} (mode 0600).\n",
                credentials_path.display()
            );
        }
    }

    let metrics_handle = crate::metrics::install().map_err(anyhow::Error::msg)?;
    crate::metrics::spawn_upkeep(metrics_handle.clone());
    let mut registry = Registry::default();
    registry.register(Arc::new(StsService::new(
        store.clone(),
        root_keys.clone(),
        args.test_min_session_seconds.unwrap_or(900),
    )));
    let iam_changes = ChangeHook::default();
    registry.register(Arc::new(IamService::new(
        store.clone(),
        root_keys.clone(),
        account_id.clone(),
        iam_changes.clone(),
    )));
    // One KMS serves both its own API and the services that seal through it.
    let kms = Arc::new(rampart_kms::KmsService::new(
        store.clone(),
        root_keys.clone(),
        account_id.clone(),
        args.region.clone(),
    ));
    registry.register(kms.clone());
    let (python, interpreter_paths) = resolve_python(&args.functions_python);
    // Functions run on this node under <data-dir>/functions, each environment under its own
    // role's credentials, calling back into this endpoint.
    let functions = Arc::new(
        rampart_functions::FunctionsService::start(
            store.clone(),
            kms.clone(),
            Arc::new(IamRoles {
                store: store.clone(),
                root_keys: root_keys.clone(),
                account_id: account_id.clone(),
                region: args.region.clone(),
            }),
            account_id.clone(),
            args.region.clone(),
            rampart_functions::HostConfig {
                root: args.store.data_dir.join("functions"),
                endpoint: endpoint.clone(),
                python,
                interpreter_paths,
                max_environments: args.functions_max_environments.max(1),
                account_concurrency: match args.functions_account_concurrency {
                    0 => args.functions_max_environments.max(1),
                    n => n,
                }
                .try_into()
                .unwrap_or(u32::MAX),
                async_retry_base: std::time::Duration::from_millis(
                    args.functions_async_retry_base_ms,
                ),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("the functions service cannot start: {e}"))?,
    );
    let function_invoker = functions.invoker();
    registry.register(functions.clone());
    // Rotation functions run on this node's functions service, as secretsmanager.amazonaws.com.
    let rotation = crate::rotation_functions::RotationFunctions {
        invoker: function_invoker.clone(),
        account_id: account_id.clone(),
    };
    let secrets = Arc::new(
        rampart_secrets::SecretsService::new(
            store.clone(),
            kms.clone(),
            account_id.clone(),
            args.region.clone(),
        )
        .with_rotation_invoker(Arc::new(rotation)),
    );
    rampart_secrets::rotation::spawn_scheduler(&secrets, std::time::Duration::from_secs(60));
    registry.register(secrets.clone());
    let user_pools = rampart_user_pools::UserPoolsService::new(
        store.clone(),
        root_keys.clone(),
        account_id.clone(),
        args.region.clone(),
    )
    .context("the user-pool service cannot start")?
    .with_public_url(args.public_url.clone().unwrap_or_else(|| endpoint.clone()));
    let user_pools = Arc::new(match args.test_min_token_validity_seconds {
        Some(seconds) => {
            user_pools.with_min_token_validity(time::Duration::seconds(seconds.into()))
        }
        None => user_pools,
    });
    registry.register(user_pools.clone());
    // Email messages also go out over SMTP when configured; the outbox keeps them either way.
    if let Some(url) = &args.smtp_url {
        let sender = crate::mail::SmtpSender::new(url, &args.smtp_from)?;
        rampart_user_pools::mail_relay::spawn(
            user_pools.clone(),
            Arc::new(sender),
            std::time::Duration::from_secs(1),
        );
    }
    // The API gateway: its management API beside the others, its data plane on the main
    // listener, Rampart's own pools as issuers whose keys come from the store.
    let gateway = Arc::new(rampart_gateway::GatewayService::new(
        store.clone(),
        account_id.clone(),
        args.region.clone(),
        args.public_url.clone().unwrap_or_else(|| endpoint.clone()),
        function_invoker,
        Arc::new(crate::gateway_plane::PoolIssuers {
            user_pools: user_pools.clone(),
        }),
    ));
    registry.register(gateway.clone());
    let mut data_planes = DataPlanes::default();
    data_planes.register_every_api(Arc::new(crate::gateway_plane::GatewayPlane {
        gateway: gateway.clone(),
        https: tls,
    }));
    crate::maintenance::spawn(
        kms,
        secrets,
        user_pools.clone(),
        functions.clone(),
        std::time::Duration::from_secs(u64::from(args.functions_log_retention_days) * 24 * 3600),
        std::time::Duration::from_secs(args.maintenance_interval_secs.max(1)),
    );
    let pipeline = Arc::new(Pipeline {
        registry,
        resolver: CredentialResolver::new(store.clone(), root_keys.clone()),
        authorizer: Authorizer,
        audit: AuditWriter::start(store.clone()),
        max_body_bytes: args.max_body_bytes,
        tls,
        region: args.region.clone(),
        source_admission: source_admission(&args),
    });
    // `AWS_IAM` routes are decided as signed AWS API requests are.
    gateway.set_iam(Arc::new(crate::gateway_plane::PipelineIam {
        pipeline: Arc::downgrade(&pipeline),
    }));
    // An IAM change made on this node takes effect at once: drop the credentials (and the
    // policies they carry) that the request path cached. Other nodes catch up within the TTL.
    let weak = Arc::downgrade(&pipeline);
    iam_changes.connect(move || {
        if let Some(pipeline) = weak.upgrade() {
            pipeline.resolver.invalidate_all();
        }
    });

    // The main listener: the AWS API, and the data plane of deployed APIs. With --metrics-listen, /metrics lives on the internal listener only; here it
    // falls through to the AWS pipeline like any other path.
    let (aws_api_metrics, internal) = match &metrics_listener {
        Some(_) => (None, Some(front::internal::front(metrics_handle))),
        None => (Some(metrics_handle), None),
    };
    let main = MainListener::new(
        front::aws_api::front_with(
            pipeline,
            store.backend(),
            aws_api_metrics,
            front::discovery::routes(user_pools),
        ),
        front::data_plane::front(Arc::new(data_planes)),
    );

    print_banner(
        &endpoint,
        metrics_endpoint.as_deref(),
        &account_id,
        &credentials_path,
        store.backend(),
    );
    let handle = axum_server::Handle::new();
    let internal_handle = axum_server::Handle::new();
    tokio::spawn(shutdown_on_signal(vec![
        handle.clone(),
        internal_handle.clone(),
    ]));
    let service = main.into_make_service();
    let limits = ConnectionLimits {
        max_connections: args.max_connections.max(1),
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_secs.max(1)),
    };
    let main_server = async {
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .context("cannot load the TLS certificate/key")?;
                let tls = axum_server::tls_rustls::RustlsAcceptor::new(config)
                    .acceptor(LimitedAcceptor::new(DefaultAcceptor, limits));
                limits::apply(axum_server::from_tcp(listener)?.acceptor(tls), limits)
                    .handle(handle)
                    .serve(service)
                    .await?;
            }
            _ => {
                limits::apply(axum_server::from_tcp(listener)?, limits)
                    .acceptor(LimitedAcceptor::new(DefaultAcceptor, limits))
                    .handle(handle)
                    .serve(service)
                    .await?
            }
        }
        anyhow::Ok(())
    };
    let internal_server = async {
        if let (Some(listener), Some(internal)) = (metrics_listener, internal) {
            limits::apply(axum_server::from_tcp(listener)?, limits)
                .acceptor(LimitedAcceptor::new(DefaultAcceptor, limits))
                .handle(internal_handle)
                .serve(internal.into_make_service())
                .await
                .context("the internal listener failed")?;
        }
        anyhow::Ok(())
    };
    tokio::try_join!(main_server, internal_server)?;
    custody_watch.stop().await;
    // What functions printed last is stored before the store closes.
    if let Err(e) = functions.flush_logs().await {
        tracing::warn!(error = %e, "the last function log lines could not be stored");
    }
    // Lets SQLite checkpoint and remove its WAL: a stopped server leaves one database file.
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn print_banner(
    endpoint: &str,
    metrics: Option<&str>,
    account_id: &str,
    credentials: &Path,
    backend: &str,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Rampart listening on {endpoint} (account {account_id}, {backend} store)"
    );
    if let Some(metrics) = metrics {
        let _ = writeln!(out, "Prometheus metrics on {metrics}");
    }
    let _ = writeln!(
        out,
        "Point the AWS CLI and SDKs at it:\n  \
         export AWS_ENDPOINT_URL={endpoint}\n  \
         export AWS_CONFIG_FILE={}  AWS_PROFILE=rampart\n  \
         aws sts get-caller-identity",
        credentials.display()
    );
    let _ = out.flush();
}

async fn shutdown_on_signal(handles: Vec<axum_server::Handle<SocketAddr>>) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return,
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
    for handle in handles {
        handle.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    }
}

/// The interpreter `python` stands for, as the interpreter itself reports it
/// (`sys.executable`: functions run with a cleared environment, where a version manager's
/// shim found in PATH would not work), and where it is installed (`sys.prefix` and the
/// others: what its environments may read). As given, with nothing, if it cannot be asked.
fn resolve_python(python: &Path) -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    let asked = std::process::Command::new(python)
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.prefix); print(sys.base_prefix); print(sys.exec_prefix); print(sys.base_exec_prefix)",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match asked {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let executable = lines
                .next()
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| python.to_path_buf());
            let mut paths: Vec<std::path::PathBuf> = lines.map(std::path::PathBuf::from).collect();
            paths.sort();
            paths.dedup();
            (executable, paths)
        }
        _ => {
            tracing::warn!(python = %python.display(), "no Python interpreter: python3.x functions will not start");
            (python.to_path_buf(), Vec::new())
        }
    }
}

fn display_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    }
}

/// Hides a password in a store URL before it is printed.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))?;
    Ok(())
}

fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// The administrator's profile, in AWS config-file syntax.
fn write_admin_profile(
    path: &Path,
    access_key_id: &str,
    secret: &str,
    region: &str,
    endpoint: &str,
) -> anyhow::Result<()> {
    let profile = format!(
        "# Rampart administrator credentials, created at first start. Keep this file private.\n\
         # Use: AWS_CONFIG_FILE={} AWS_PROFILE=rampart aws sts get-caller-identity\n\
         [profile rampart]\n\
         aws_access_key_id = {access_key_id}\n\
         aws_secret_access_key = {secret}\n\
         region = {region}\n\
         endpoint_url = {endpoint}\n",
        path.display()
    );
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    write_private_file(path, profile.as_bytes())
}

/// The per-source limits on unsigned requests: the user pools' sign-in and sign-up endpoints
/// (`--auth-requests-per-source` per `--auth-rate-window-secs`), unless turned off.
fn source_admission(args: &ServeArgs) -> HashMap<&'static str, Arc<dyn SourceAdmission>> {
    let mut admission: HashMap<&'static str, Arc<dyn SourceAdmission>> = HashMap::new();
    if args.auth_requests_per_source > 0 {
        let limiter = SourceLimiter::new(SourceRateLimit {
            burst: args.auth_requests_per_source,
            window: std::time::Duration::from_secs(args.auth_rate_window_secs),
        });
        admission.insert("cognito-idp", Arc::new(limiter));
    }
    admission
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///x/y.db"), "sqlite:///x/y.db");
    }
}
