//! `rampart identity`: the user pools' local tooling. `outbox` prints the messages the pools
//! would have sent (confirmation and reset codes, invitations), so local development and tests
//! can complete sign-up and reset flows without an email or SMS provider. `rotate-keys` rotates
//! a pool's token signing keys (`rampart_user_pools::signing_keys`), audited under the operator
//! who ran it as `rampart keys` audits the root key's custody. Both open the store with the root
//! key, as `rampart keys` does: only who holds the key reads the codes or makes keys.

use std::io::Write as _;

use clap::{Args, Subcommand};
use rampart_core::{AuditCheck, AuditRecord};
use rampart_user_pools::signing_keys;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli::{RootKeyArgs, StoreArgs};

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Print the undelivered messages of the user pools' outbox (codes and temporary
    /// passwords not yet expired), oldest first: pool, user, destination, code, expiry.
    Outbox(OutboxArgs),
    /// Rotate a user pool's token signing keys: new ID- and access-token keys sign every token
    /// from now on; the retired keys stay in the pool's JWKS, and tokens they signed keep
    /// verifying, until no such token can be valid (the longest ID/access token validity of
    /// the pool's app clients, plus 30 s), then the servers drop them.
    RotateKeys(RotateKeysArgs),
}

#[derive(Debug, Args)]
pub struct RotateKeysArgs {
    /// The user pool (`<region>_<id>`).
    #[arg(value_name = "POOL_ID")]
    pub pool: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub root_key: RootKeyArgs,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub root_key: RootKeyArgs,
    /// Only the messages of this user pool.
    #[arg(long, value_name = "POOL_ID")]
    pub pool: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(command: IdentityCommand) -> anyhow::Result<()> {
    match command {
        IdentityCommand::Outbox(args) => {
            let (store, custody) = crate::keys_cmd::open(&args.store, &args.root_key).await?;
            let result = outbox(store.as_ref(), &custody.keyring, &args).await;
            store.close().await;
            result
        }
        IdentityCommand::RotateKeys(args) => {
            let (store, custody) = crate::keys_cmd::open(&args.store, &args.root_key).await?;
            let result = rotate_keys(store.as_ref(), &custody.keyring, &args).await;
            store.close().await;
            result
        }
    }
}

async fn rotate_keys(
    store: &dyn rampart_store::Store,
    keyring: &rampart_core::RootKeyring,
    args: &RotateKeysArgs,
) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let rotation = signing_keys::rotate(store, keyring, &args.pool, now, |r| {
        key_rotation_audit(r, now)
    })
    .await
    .map_err(|e| anyhow::anyhow!("cannot rotate the signing keys of {}: {e}", args.pool))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&rotation)?)?;
    } else {
        writeln!(
            out,
            "Pool {}: new signing keys {}; retired {} (published until {}){}.",
            rotation.pool_id,
            rotation.new_kids.join(", "),
            rotation.retired_kids.join(", "),
            rotation
                .retired_published_until
                .format(&Rfc3339)
                .unwrap_or_default(),
            if rotation.dropped_kids.is_empty() {
                String::new()
            } else {
                format!("; dropped {}", rotation.dropped_kids.join(", "))
            },
        )?;
    }
    Ok(())
}

/// The audit record of a rotation: no AWS principal is involved, so the principal is the local
/// account that ran the command (as for `rampart keys`), and the checks name every key the
/// rotation made, retired or dropped, with the decision `operator`.
fn key_rotation_audit(rotation: &signing_keys::KeyRotation, now: OffsetDateTime) -> AuditRecord {
    let mut record = AuditRecord::service_action(
        now,
        &crate::keys_cmd::operator(),
        "cognito-idp",
        "RotateSigningKeys",
        &rotation.pool_arn,
    );
    record.user_agent = Some("rampart identity".to_owned());
    record.checks = rotation
        .new_kids
        .iter()
        .chain(&rotation.retired_kids)
        .chain(&rotation.dropped_kids)
        .map(|kid| AuditCheck {
            action: "rampart:RotateSigningKeys".to_owned(),
            resource: signing_keys::key_resource(&rotation.pool_arn, kid),
            decision: "operator".to_owned(),
        })
        .collect();
    record
}

async fn outbox(
    store: &dyn rampart_store::Store,
    keyring: &rampart_core::RootKeyring,
    args: &OutboxArgs,
) -> anyhow::Result<()> {
    let messages = rampart_user_pools::outbox::pending(
        store,
        keyring,
        args.pool.as_deref(),
        OffsetDateTime::now_utc(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot read the outbox: {e}"))?;
    let mut out = std::io::stdout().lock();
    for m in &messages {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(m)?)?;
        } else {
            writeln!(
                out,
                "{:<24} {:<36} {:<19} {:<5} {:<32} {:<12} {}",
                m.pool_id,
                m.username,
                m.kind,
                m.medium,
                m.destination,
                m.code.as_str(),
                m.expires_at.format(&Rfc3339).unwrap_or_default(),
            )?;
        }
    }
    Ok(())
}
