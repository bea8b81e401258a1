//! `rampart identity`: the user pools' local tooling. `outbox` prints the messages the pools
//! would have sent (confirmation and reset codes, invitations), so local development and tests
//! can complete sign-up and reset flows without an email or SMS provider. It opens the store
//! with the root key, as `rampart keys` does: only who holds the key reads the codes.

use std::io::Write as _;

use clap::{Args, Subcommand};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli::{RootKeyArgs, StoreArgs};

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Print the undelivered messages of the user pools' outbox (codes and temporary
    /// passwords not yet expired), oldest first: pool, user, destination, code, expiry.
    Outbox(OutboxArgs),
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
    }
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
