//! Sealing what user pools keep secret, under the root key's custody: each value bound to its
//! purpose and to the record it belongs to (the pool and the user's `sub`, the client id, the
//! key id, the message id), so a value copied elsewhere does not open. The server's re-sealing
//! walk (root key rotation) finds them through [`sealed_records`].

use rampart_core::seal::{HoldsSealed, SealedNamespace, SealedSlot};
use rampart_core::{RootKeyring, SealPurpose};
use zeroize::Zeroizing;

use crate::error::UserPoolsError;
use crate::records::client::ClientRecord;
use crate::records::ns;
use crate::records::outbox::OutboxMessage;
use crate::records::signing_keys::SigningKeysRecord;
use crate::records::user::{CodeKind, UserRecord};

/// The context of a user's password hash, SRP verifier and TOTP secret.
pub fn user_context(pool_id: &str, sub: &str) -> String {
    format!("{pool_id}/{sub}")
}

/// The context of a user's pending code of `kind`.
pub fn code_context(pool_id: &str, sub: &str, kind: CodeKind) -> String {
    format!("{pool_id}/{sub}/{}", kind.label())
}

/// The context of an app client's secret.
pub fn client_context(pool_id: &str, client_id: &str) -> String {
    format!("{pool_id}/{client_id}")
}

/// The context of a pool's signing key `kid`.
pub fn signing_key_context(pool_id: &str, kid: &str) -> String {
    format!("{pool_id}/{kid}")
}

/// The context of an outbox message's secret.
pub fn outbox_context(pool_id: &str, message_id: &str) -> String {
    format!("{pool_id}/{message_id}")
}

/// Seals `plaintext` for `purpose` bound to `context`.
pub fn seal(
    keyring: &RootKeyring,
    purpose: SealPurpose,
    context: &str,
    plaintext: &[u8],
) -> String {
    keyring.seal(purpose, context, plaintext)
}

/// Opens a value sealed by [`seal`]. A value that does not open is never the caller's fault:
/// the store was tampered with or the root key is wrong.
pub fn open(
    keyring: &RootKeyring,
    purpose: SealPurpose,
    context: &str,
    sealed: &str,
) -> Result<Zeroizing<Vec<u8>>, UserPoolsError> {
    keyring.open(sealed, purpose, context).map_err(|e| {
        tracing::error!(purpose = purpose.label(), context, error = %e, "a sealed user-pool value does not open");
        UserPoolsError::Internal("A stored secret could not be opened.".into())
    })
}

/// Opens a sealed UTF-8 value (a PHC string, a code, a client secret).
pub fn open_text(
    keyring: &RootKeyring,
    purpose: SealPurpose,
    context: &str,
    sealed: &str,
) -> Result<Zeroizing<String>, UserPoolsError> {
    let bytes = open(keyring, purpose, context, sealed)?;
    String::from_utf8(bytes.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| UserPoolsError::Internal("A stored secret is not text.".into()))
}

impl HoldsSealed for UserRecord {
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        let user = user_context(&self.pool_id, &self.sub);
        let mut slots = Vec::new();
        if let Some(password) = &mut self.password {
            slots.push(SealedSlot {
                purpose: SealPurpose::UserPasswordHash,
                context: user.clone(),
                sealed: &mut password.sealed_hash,
            });
            slots.push(SealedSlot {
                purpose: SealPurpose::UserSrpVerifier,
                context: user.clone(),
                sealed: &mut password.sealed_srp_verifier,
            });
        }
        if let Some(token) = &mut self.software_token {
            slots.push(SealedSlot {
                purpose: SealPurpose::UserTotpSecret,
                context: user.clone(),
                sealed: &mut token.sealed_secret,
            });
        }
        for code in &mut self.codes {
            slots.push(SealedSlot {
                purpose: SealPurpose::UserCode,
                context: code_context(&self.pool_id, &self.sub, code.kind),
                sealed: &mut code.sealed_code,
            });
        }
        slots
    }
}

impl HoldsSealed for ClientRecord {
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        let context = client_context(&self.pool_id, &self.client_id);
        self.sealed_secret
            .as_mut()
            .map(|sealed| SealedSlot {
                purpose: SealPurpose::UserPoolClientSecret,
                context,
                sealed,
            })
            .into_iter()
            .collect()
    }
}

impl HoldsSealed for SigningKeysRecord {
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        let pool_id = &self.pool_id;
        self.keys
            .iter_mut()
            .map(|k| SealedSlot {
                purpose: SealPurpose::UserPoolSigningKey,
                context: signing_key_context(pool_id, &k.kid),
                sealed: &mut k.sealed_pkcs8,
            })
            .collect()
    }
}

impl HoldsSealed for OutboxMessage {
    fn sealed_slots(&mut self) -> Vec<SealedSlot<'_>> {
        vec![SealedSlot {
            purpose: SealPurpose::UserPoolOutboxMessage,
            context: outbox_context(&self.pool_id, &self.id),
            sealed: &mut self.sealed_secret,
        }]
    }
}

/// The stored records of this crate that hold sealed values, for the server's re-sealing walk
/// (migration, root key rotation). A record type that gains a sealed value (TOTP secrets,
/// refresh-token hashes) lists it in its `HoldsSealed` impl; a new namespace joins here.
pub fn sealed_records() -> Vec<SealedNamespace> {
    vec![
        SealedNamespace::of::<UserRecord>(ns::USERS),
        SealedNamespace::of::<ClientRecord>(ns::CLIENTS),
        SealedNamespace::of::<SigningKeysRecord>(ns::SIGNING_KEYS),
        SealedNamespace::of::<OutboxMessage>(ns::OUTBOX),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::user::{PasswordSecrets, PendingCode, UserStatus};
    use time::OffsetDateTime;

    #[test]
    fn every_user_secret_is_found_and_bound_to_its_user() {
        let keyring = RootKeyring::ephemeral();
        let now = OffsetDateTime::now_utc();
        let (pool, sub) = ("eu-west-1_abc", "sub-1");
        let ctx = user_context(pool, sub);
        let mut user = UserRecord {
            pool_id: pool.into(),
            username: "alice".into(),
            sub: sub.into(),
            attributes: Vec::new(),
            status: UserStatus::Confirmed,
            enabled: true,
            created_at: now,
            last_modified_at: now,
            password: Some(PasswordSecrets {
                sealed_hash: seal(
                    &keyring,
                    SealPurpose::UserPasswordHash,
                    &ctx,
                    b"$argon2id$x",
                ),
                sealed_srp_verifier: seal(&keyring, SealPurpose::UserSrpVerifier, &ctx, b"v"),
                set_at: now,
                temporary_until: None,
            }),
            codes: vec![PendingCode {
                kind: CodeKind::SignUp,
                sealed_code: seal(
                    &keyring,
                    SealPurpose::UserCode,
                    &code_context(pool, sub, CodeKind::SignUp),
                    b"123456",
                ),
                expires_at: now,
                failed_attempts: 0,
            }],
            software_token: None,
        };
        let slots = user.sealed_slots();
        assert_eq!(slots.len(), 3);
        for slot in slots {
            keyring
                .open(slot.sealed, slot.purpose, &slot.context)
                .expect("each slot opens with the purpose and context it names");
        }
        // The same sealed hash copied onto another user does not open there.
        let sealed = user.password.as_ref().unwrap().sealed_hash.clone();
        assert!(open(
            &keyring,
            SealPurpose::UserPasswordHash,
            &user_context(pool, "sub-2"),
            &sealed
        )
        .is_err());
        assert_eq!(
            open_text(&keyring, SealPurpose::UserPasswordHash, &ctx, &sealed)
                .unwrap()
                .as_str(),
            "$argon2id$x"
        );
    }

    #[test]
    fn the_walk_knows_every_namespace_holding_secrets() {
        let names: Vec<_> = sealed_records().iter().map(|n| n.namespace).collect();
        for ns in [ns::USERS, ns::CLIENTS, ns::SIGNING_KEYS, ns::OUTBOX] {
            assert!(names.contains(&ns), "{ns}");
        }
    }
}
