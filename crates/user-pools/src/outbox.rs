//! Reading the delivery outbox (`rampart identity outbox`): the messages not yet expired,
//! oldest first, with the code or temporary password opened — for local development and
//! tests, which complete sign-up and reset flows with them. Only a holder of the root key can
//! read them.

use rampart_core::{RootKeyring, SealPurpose};
use rampart_store::Store;
use serde::Serialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::UserPoolsError;
use crate::records::outbox::OutboxMessage;
use crate::records::{self, ns, pool_prefix};
use crate::sealing::{self, outbox_context};

/// One message with what it carries.
#[derive(Debug, Serialize)]
pub struct PendingMessage {
    /// The message's id (time-ordered) within its pool.
    pub message_id: String,
    pub pool_id: String,
    pub username: String,
    pub sub: String,
    /// `sign-up`, `forgot-password`, `verify-email`, `verify-phone_number` or `invitation`.
    pub kind: &'static str,
    /// `EMAIL` or `SMS`.
    pub medium: &'static str,
    pub destination: String,
    /// The code, or the invitation's temporary password.
    #[serde(serialize_with = "expose")]
    pub code: Zeroizing<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

fn expose<S: serde::Serializer>(v: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

/// The messages of `pool_id` (or of every pool) that have not expired at `now`.
pub async fn pending(
    store: &dyn Store,
    keyring: &RootKeyring,
    pool_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<PendingMessage>, UserPoolsError> {
    pending_where(store, keyring, pool_id, now, |_, _| true).await
}

/// [`pending`], opening only the messages `wanted` accepts (by outbox key and record) (the mail relay
/// skips those it sent without opening them again).
pub async fn pending_where(
    store: &dyn Store,
    keyring: &RootKeyring,
    pool_id: Option<&str>,
    now: OffsetDateTime,
    wanted: impl Fn(&str, &OutboxMessage) -> bool,
) -> Result<Vec<PendingMessage>, UserPoolsError> {
    let prefix = pool_id.map(pool_prefix).unwrap_or_default();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, more) =
            records::list::<OutboxMessage>(store, ns::OUTBOX, &prefix, after.as_deref(), 200)
                .await?;
        for (key, message) in page {
            let m = message.record;
            let skip = m.expires_at <= now || !wanted(&key, &m);
            after = Some(key);
            if skip {
                continue;
            }
            let code = sealing::open_text(
                keyring,
                SealPurpose::UserPoolOutboxMessage,
                &outbox_context(&m.pool_id, &m.id),
                &m.sealed_secret,
            )?;
            out.push(PendingMessage {
                message_id: m.id,
                pool_id: m.pool_id,
                username: m.username,
                sub: m.sub,
                kind: m.kind.label(),
                medium: m.medium.as_str(),
                destination: m.destination,
                code,
                created_at: m.created_at,
                expires_at: m.expires_at,
            });
        }
        if !more {
            break;
        }
    }
    // Keys order by pool, then by time within it; show the whole outbox by time.
    out.sort_by_key(|m| m.created_at);
    Ok(out)
}
