//! `rampart keys`: rotating the root key, staging a new one, and showing what it seals.
//!
//! Rotation never stops a server. `rotate-root` first makes the new key available (a keyring
//! file keeps the old keys beside it) and announces it in the store's root-key record; every
//! running server re-reads its key source for it and reports holding it, and the rotation
//! waits for all of them. Only then does it record the new key as the store's (servers follow
//! within seconds and seal under it) and re-wrap every sealed value under it, record by
//! record. Should a server still meet a value under a key it does not hold (one started
//! meanwhile), it re-reads its key source before failing. `--retire-previous`, later, drops
//! the old keys once no running server seals under them and nothing in the store is sealed
//! under them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use rampart_core::{AuditCheck, AuditRecord, RootKey, RootKeyId};
use rampart_store::{Expect, Store, StoreError, Write};
use time::OffsetDateTime;

use crate::cli::{RootKeyArgs, StoreArgs};
use crate::root_key::record::{self, RootKeyRecord, Rotation};
use crate::root_key::rewrap::{self, Mode};
use crate::root_key::source::{self, SourceSpec};
use crate::root_key::{self, Custody, Opener};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate the root key without downtime: add a new key, make it the store's, re-wrap
    /// every sealed value (KMS backing keys, access-key secrets) under it.
    ///
    /// With a keyring file (the default <DATA_DIR>/root.key or --root-key-file) the new key
    /// is generated, or taken from --new-root-key-file, and added in front of the old ones.
    /// With RAMPART_ROOT_KEY or --root-key-cmd, the source must already yield the new key
    /// first (then the old ones), on every node. Safe to interrupt: run it again to finish.
    RotateRoot(RotateRootArgs),
    /// Add a root key to this node's keyring file without using it yet, so this node opens
    /// values sealed under it. On several nodes with their own keyring files, stage the new
    /// key on each before `rotate-root --new-root-key-file` on one of them.
    AddRoot(AddRootArgs),
    /// Show the store's root key, the keys this process holds, how many sealed values each
    /// key seals, and which root key each running server seals under.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct RotateRootArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub root_key: RootKeyArgs,
    /// The new root key (32 raw bytes, or base64), instead of a generated one.
    #[arg(long, value_name = "FILE", conflicts_with = "retire_previous")]
    pub new_root_key_file: Option<PathBuf>,
    /// Instead of rotating: re-wrap any value still under an old key, then drop the previous
    /// root keys from the keyring file. Refused while a running server seals under one.
    #[arg(long)]
    pub retire_previous: bool,
    /// How long to wait for every running server to hold the new key (rotating) or to seal
    /// under it (--retire-previous).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub wait_seconds: u64,
}

#[derive(Debug, Args)]
pub struct AddRootArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub root_key: RootKeyArgs,
    /// The key to add (32 raw bytes, or base64).
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub root_key: RootKeyArgs,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    crate::telemetry::init(crate::cli::LogFormat::Pretty, "warn");
    match command {
        KeysCommand::RotateRoot(args) => {
            let (store, custody) = open(&args.store, &args.root_key).await?;
            let result = if args.retire_previous {
                retire(
                    store.as_ref(),
                    &custody,
                    Duration::from_secs(args.wait_seconds),
                )
                .await
            } else {
                rotate(
                    store.as_ref(),
                    &custody,
                    args.new_root_key_file.as_deref(),
                    Duration::from_secs(args.wait_seconds),
                )
                .await
            };
            store.close().await;
            result
        }
        KeysCommand::AddRoot(args) => add_root(&args),
        KeysCommand::Status(args) => {
            let (store, custody) = open(&args.store, &args.root_key).await?;
            let result = status(store.as_ref(), &custody, args.json).await;
            store.close().await;
            result
        }
    }
}

/// Opens the store named by `store_args` with the root key `key_args` names, proved to be the
/// store's (the store must exist).
pub(crate) async fn open(
    store_args: &StoreArgs,
    key_args: &RootKeyArgs,
) -> anyhow::Result<(Arc<dyn Store>, Custody)> {
    if store_args.store.is_none() && !store_args.data_dir.join("rampart.db").exists() {
        bail!(
            "no Rampart store in {} (no rampart.db); pass --data-dir or --store",
            store_args.data_dir.display()
        );
    }
    let url = store_args.store_url();
    let store = rampart_store::open(&url)
        .await
        .with_context(|| format!("cannot open the store {}", crate::serve::redact_url(&url)))?;
    let source = key_args.source(&store_args.data_dir)?;
    let custody =
        root_key::open(store.as_ref(), source, &store_args.data_dir, Opener::Tool).await?;
    Ok((store, custody))
}

async fn load_record(store: &dyn Store) -> anyhow::Result<(RootKeyRecord, i64)> {
    record::load(store)
        .await?
        .context("the store has no root-key record")
}

fn ids(ids: impl IntoIterator<Item = RootKeyId>) -> String {
    ids.into_iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a single root key from `path` (private, like every key file).
fn read_key_file(path: &std::path::Path) -> anyhow::Result<RootKey> {
    let spec = SourceSpec::File {
        path: path.to_owned(),
        adopted_legacy: false,
    };
    let mut keys = spec
        .load()?
        .with_context(|| format!("{} does not exist", path.display()))?;
    if keys.len() != 1 {
        bail!("{} holds {} keys; expected one", path.display(), keys.len());
    }
    Ok(keys.remove(0))
}

/// The key to rotate to.
fn new_root_key(
    custody: &Custody,
    new_key_file: Option<&std::path::Path>,
    current: RootKeyId,
) -> anyhow::Result<RootKey> {
    let key = match (new_key_file, &custody.source) {
        (Some(path), _) => read_key_file(path)?,
        (None, SourceSpec::File { .. }) => RootKey::generate(),
        (None, source) => {
            // The source names the new key by putting it first.
            let mut keys = source.load()?.unwrap_or_default();
            if keys.is_empty() || keys[0].id() == current {
                bail!(
                    "the first key {} yields is already the store's root key {current}; to rotate, \
                     make it yield the new key first and the old one after it, on every node, or pass --new-root-key-file",
                    source.describe()
                );
            }
            keys.remove(0)
        }
    };
    if key.id() == current {
        bail!("root key {current} already seals this store");
    }
    if !matches!(custody.source, SourceSpec::File { .. }) && !custody.keyring.holds(key.id()) {
        bail!(
            "{} does not yield the new root key {}: give every node's key source the new key first \
             (servers must be able to open values sealed under it before any is), then run this again",
            custody.source.describe(),
            key.id()
        );
    }
    Ok(key)
}

async fn rotate(
    store: &dyn Store,
    custody: &Custody,
    new_key_file: Option<&std::path::Path>,
    wait: Duration,
) -> anyhow::Result<()> {
    let keyring = &custody.keyring;
    let (record, version) = load_record(store).await?;
    let target = match &record.rotation {
        Some(rotation) => {
            println!(
                "Finishing the rotation from root key {} to {}.",
                rotation.from, record.root_key_id
            );
            record.root_key_id
        }
        None => {
            // A rotation interrupted before the switch: carry on with the key it announced.
            let staged = record
                .next_root_key_id
                .filter(|id| new_key_file.is_none() && keyring.holds(*id));
            let id = match staged {
                Some(id) => {
                    println!("Resuming the rotation to root key {id}.");
                    id
                }
                None => stage(store, custody, new_key_file, &record, version).await?,
            };
            // Every running server must hold the new key before any value is sealed under
            // it: that is what makes the rotation invisible to them.
            wait_for_nodes(
                store,
                wait,
                |node| node.holds.contains(&id),
                &format!("hold root key {id}"),
            )
            .await?;
            let (record, version) = load_record(store).await?;
            if record.next_root_key_id != Some(id) {
                bail!("the store's root-key record changed meanwhile (another rotation?); run this again");
            }
            let mut next = RootKeyRecord::new(keyring, id, record.legacy_migrated);
            next.rotation = Some(Rotation {
                from: record.root_key_id,
                started_at: OffsetDateTime::now_utc(),
            });
            commit_record(
                store,
                &next,
                version,
                custody_change("SwitchRootKey", id, record.root_key_id),
            )
            .await?;
            println!(
                "The store is now sealed under root key {id} (was {}); running servers follow within seconds.",
                record.root_key_id
            );
            id
        }
    };
    keyring.set_sealing(target)?;
    let report = rewrap::walk(
        store,
        keyring,
        &rewrap::sealed_namespaces(),
        Mode::RewrapTo(target),
    )
    .await?;
    loop {
        let (mut record, version) = load_record(store).await?;
        if record.root_key_id != target {
            bail!(
                "another rotation made root key {} the store's meanwhile",
                record.root_key_id
            );
        }
        let Some(rotation) = record.rotation.take() else {
            break;
        };
        record.updated_at = OffsetDateTime::now_utc();
        let audit = custody_change("FinishRootKeyRotation", target, rotation.from);
        match store
            .commit_audited(vec![record.write(Expect::Version(version))], &audit)
            .await
        {
            Ok(_) => break,
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "Re-wrapped {} sealed values in {} records under root key {target}.",
        report.resealed, report.records_rewritten
    );
    let previous: Vec<RootKeyId> = keyring
        .key_ids()
        .into_iter()
        .filter(|k| *k != target)
        .collect();
    if !previous.is_empty() {
        println!(
            "Previous root keys {} stay in {} so servers that have not switched keep working; once every \
             node holds root key {target}, run `rampart keys rotate-root --retire-previous`.",
            ids(previous),
            custody.source.describe()
        );
    }
    Ok(())
}

/// Makes the new key available — in the keyring file, or checked to be in the key source —
/// and announces it in the store, so running servers re-read their key source for it.
async fn stage(
    store: &dyn Store,
    custody: &Custody,
    new_key_file: Option<&std::path::Path>,
    record: &RootKeyRecord,
    version: i64,
) -> anyhow::Result<RootKeyId> {
    let keyring = &custody.keyring;
    let key = new_root_key(custody, new_key_file, record.root_key_id)?;
    let id = key.id();
    keyring.add(key);
    if let SourceSpec::File { path, .. } = &custody.source {
        // The new key first; the old ones stay so every value keeps opening.
        let keys = keyring.keys();
        let ordered = keys
            .iter()
            .filter(|k| k.id() == id)
            .chain(keys.iter().filter(|k| k.id() != id))
            .map(|k| k.as_ref());
        source::write_keyring_file(path, ordered)?;
        println!("Added root key {id} to {}.", path.display());
    }
    let mut announced = record.clone();
    announced.next_root_key_id = Some(id);
    announced.updated_at = OffsetDateTime::now_utc();
    commit_record(
        store,
        &announced,
        version,
        custody_change("StageRootKey", id, record.root_key_id),
    )
    .await?;
    Ok(id)
}

/// Commits the store's root-key record with the audit record of the change, so every step
/// of a rotation is in the trail with the change it made.
async fn commit_record(
    store: &dyn Store,
    record: &RootKeyRecord,
    version: i64,
    audit: AuditRecord,
) -> anyhow::Result<()> {
    match store
        .commit_audited(vec![record.write(Expect::Version(version))], &audit)
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::Conflict { .. }) => bail!(
            "the store's root-key record changed meanwhile (another rotation?); run this again"
        ),
        Err(e) => Err(e.into()),
    }
}

/// The audit record of a change to the key custody made by `rampart keys`: no AWS principal is
/// involved, so the principal is the local account that ran the command, and the checks name
/// the key the change is about and the one it follows, with the decision `operator`.
fn custody_change(operation: &str, key: RootKeyId, previous: RootKeyId) -> AuditRecord {
    let mut record = AuditRecord::service_action(
        OffsetDateTime::now_utc(),
        &operator(),
        "rampart",
        operation,
        &format!("root-key/{key}"),
    );
    record.user_agent = Some("rampart keys".to_owned());
    let action = format!("rampart:{operation}");
    record.checks = [key, previous]
        .into_iter()
        .map(|id| AuditCheck {
            action: action.clone(),
            resource: format!("root-key/{id}"),
            decision: "operator".to_owned(),
        })
        .collect();
    record
}

/// Who ran the command: the local account (`USER`, else the numeric uid of the process).
pub(crate) fn operator() -> String {
    use std::os::unix::fs::MetadataExt;
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && u.len() <= 64)
        .or_else(|| {
            std::fs::metadata("/proc/self")
                .ok()
                .map(|m| format!("uid-{}", m.uid()))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!("local-operator/{user}")
}

/// Waits until every running server (a node record seen recently) satisfies `ready`.
async fn wait_for_nodes(
    store: &dyn Store,
    wait: Duration,
    ready: impl Fn(&record::NodeRecord) -> bool,
    what: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let now = OffsetDateTime::now_utc();
        let lagging: Vec<String> = record::nodes(store)
            .await?
            .into_iter()
            .map(|(node, _)| node)
            .filter(|n| n.is_live(now) && !ready(n))
            .map(|n| {
                format!(
                    "{} pid {} (node {}, seals under {}, holds {}, seen {} s ago)",
                    n.host,
                    n.pid,
                    n.node_id,
                    n.sealing,
                    ids(n.holds.iter().copied()),
                    (now - n.seen_at).whole_seconds()
                )
            })
            .collect();
        if lagging.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "running servers do not {what} after {} s: {}; give their key source the key \
                 (they re-read it within seconds), then run this again",
                wait.as_secs(),
                lagging.join("; ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn retire(store: &dyn Store, custody: &Custody, wait: Duration) -> anyhow::Result<()> {
    let keyring = &custody.keyring;
    let (record, _) = load_record(store).await?;
    if let Some(rotation) = &record.rotation {
        bail!(
            "the rotation from root key {} to {} is unfinished; run `rampart keys rotate-root` to finish it first",
            rotation.from,
            record.root_key_id
        );
    }
    let current = record.root_key_id;
    keyring.set_sealing(current)?;

    // No running server may still seal under an old key: what it sealed after this check
    // would be lost with the key.
    wait_for_nodes(
        store,
        wait,
        |n| n.sealing == current && n.holds.contains(&current),
        &format!("seal under root key {current}"),
    )
    .await?;

    let namespaces = rewrap::sealed_namespaces();
    let stragglers = rewrap::walk(store, keyring, &namespaces, Mode::RewrapTo(current)).await?;
    let left = rewrap::walk(store, keyring, &namespaces, Mode::Count).await?;
    if left.not_under(current) > 0 {
        bail!(
            "{} sealed values are still under other root keys than {current}; run this again",
            left.not_under(current)
        );
    }
    if stragglers.resealed > 0 {
        println!(
            "Re-wrapped {} values sealed under a previous key since the rotation.",
            stragglers.resealed
        );
    }
    prune_stopped_nodes(store).await?;

    match &custody.source {
        SourceSpec::File { path, .. } => {
            let in_file = custody.source.load()?.unwrap_or_default();
            let Some(keep) = in_file.iter().find(|k| k.id() == current) else {
                bail!(
                    "{} does not hold the store's root key {current}; not rewriting it",
                    path.display()
                );
            };
            let dropped: Vec<RootKeyId> = in_file
                .iter()
                .map(|k| k.id())
                .filter(|id| *id != current)
                .collect();
            if dropped.is_empty() {
                println!(
                    "{} holds only root key {current}; nothing to retire.",
                    path.display()
                );
            } else {
                source::write_keyring_file(path, [keep])?;
                let retired: Vec<_> = dropped
                    .iter()
                    .map(|old| custody_change("RetireRootKey", *old, current))
                    .collect();
                store.append_audit(&retired).await?;
                println!(
                    "Retired root keys {} from {}: nothing in the store is sealed under them and no running server seals under them.",
                    ids(dropped),
                    path.display()
                );
            }
        }
        other => {
            let previous: Vec<RootKeyId> = keyring
                .key_ids()
                .into_iter()
                .filter(|k| *k != current)
                .collect();
            if previous.is_empty() {
                println!(
                    "{} yields only root key {current}; nothing to retire.",
                    other.describe()
                );
            } else {
                println!(
                    "Nothing in the store is sealed under root keys {} any more: remove them from {} on every node.",
                    ids(previous),
                    other.describe()
                );
            }
        }
    }
    Ok(())
}

/// Node records of servers not heard from for a while (killed, not shut down).
async fn prune_stopped_nodes(store: &dyn Store) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    for (node, version) in record::nodes(store).await? {
        if !node.is_live(now) {
            let write = Write::Delete {
                ns: record::NODES_NS.into(),
                key: node.node_id,
                expect: Expect::Version(version),
            };
            // A node that came back meanwhile keeps its record.
            let _ = store.commit(vec![write]).await;
        }
    }
    Ok(())
}

fn add_root(args: &AddRootArgs) -> anyhow::Result<()> {
    let source = args.root_key.source(&args.store.data_dir)?;
    let SourceSpec::File { path, .. } = &source else {
        bail!(
            "add-root adds to a keyring file; with {}, make the source yield the key",
            source.describe()
        );
    };
    let mut keys = source
        .load()?
        .with_context(|| format!("{} does not exist", path.display()))?;
    let key = read_key_file(&args.key_file)?;
    let id = key.id();
    if keys.iter().any(|k| k.id() == id) {
        println!("{} already holds root key {id}.", path.display());
        return Ok(());
    }
    keys.push(key);
    source::write_keyring_file(path, keys.iter())?;
    println!(
        "Added root key {id} to {}; servers using it open values sealed under that key from now on.",
        path.display()
    );
    Ok(())
}

async fn status(store: &dyn Store, custody: &Custody, json: bool) -> anyhow::Result<()> {
    let (record, _) = load_record(store).await?;
    let report = rewrap::walk(
        store,
        &custody.keyring,
        &rewrap::sealed_namespaces(),
        Mode::Count,
    )
    .await?;
    let now = OffsetDateTime::now_utc();
    let nodes: Vec<_> = record::nodes(store)
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.is_live(now))
        .collect();
    let holds: Vec<String> = custody
        .keyring
        .key_ids()
        .iter()
        .map(|id| id.to_string())
        .collect();
    if json {
        let out = serde_json::json!({
            "root_key_id": record.root_key_id,
            "rotation": record.rotation.as_ref().map(|r| serde_json::json!({"from": r.from})),
            "legacy_migrated": record.legacy_migrated,
            "holds": holds,
            "source": custody.source.describe(),
            "sealed_values": report.found,
            "nodes": nodes.iter().map(|n| serde_json::json!({
                "node_id": n.node_id, "host": n.host, "pid": n.pid,
                "sealing": n.sealing, "holds": n.holds,
            })).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(());
    }
    println!("Store sealed under root key {}", record.root_key_id);
    if let Some(rotation) = &record.rotation {
        println!(
            "  rotation from {} unfinished (run `rampart keys rotate-root`)",
            rotation.from
        );
    }
    println!(
        "This process holds {} ({})",
        holds.join(", "),
        custody.source.describe()
    );
    println!("Sealed values:");
    for (key, n) in &report.found {
        println!("  {key}: {n}");
    }
    println!("Running servers:");
    for n in &nodes {
        println!(
            "  {} pid {} (node {}): seals under {}",
            n.host, n.pid, n.node_id, n.sealing
        );
    }
    Ok(())
}
