//! What a signed-in user does with its tokens: GetUser and GlobalSignOut with an access token
//! (public: the token is the credential; GetUser shows what the token's app client may read),
//! RevokeToken with a refresh token and the client's credentials (an ID or access token is not
//! a token it revokes: `UnsupportedTokenTypeException`), and AdminUserGlobalSignOut (SigV4,
//! authorized on the pool's ARN).

use base64::Engine as _;
use rampart_core::SealPurpose;
use rampart_wire::Check;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::user_shapes::{self, AdminUser, AdminUserInput};
use super::wire;
use super::{Call, Reply, UserPoolsOperation};
use crate::auth::tokens::{self, refresh_token_digest};
use crate::auth::AuthClient;
use crate::error::UserPoolsError;
use crate::records::auth::{family_key, RefreshTokenRecord, TokenFamilyRecord};
use crate::records::user::UserRecord;
use crate::records::{self, ns, pool_key};
use crate::sealing::{self, client_context};
use crate::service::now;
use crate::UserPoolsService;

/// An `AccessToken` member: present, and never echoed.
fn token_member(value: String, field: &str) -> Result<Zeroizing<String>, UserPoolsError> {
    if value.is_empty() || value.len() > 16 * 1024 {
        return Err(UserPoolsError::secret_constraint(
            field,
            "Member must satisfy regular expression pattern: [A-Za-z0-9-_=.]+",
        ));
    }
    Ok(Zeroizing::new(value))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccessTokenInput {
    access_token: String,
}

pub(crate) struct GetUser {
    token: Zeroizing<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for GetUser {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AccessTokenInput = wire::decode(body)?;
        Ok(GetUser {
            token: token_member(input.access_token, "accessToken")?,
        })
    }

    async fn checks(
        &mut self,
        _: &UserPoolsService,
        _: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(Vec::new())
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let grant = tokens::accept_access_token(svc, &self.token).await?;
        let u = &grant.user.record;
        let mut out = json!({
            "Username": u.username,
            "UserAttributes": readable_attributes(u, &grant.client.record.read_attributes),
        });
        if u.totp_enabled() {
            out["UserMFASettingList"] = json!(["SOFTWARE_TOKEN_MFA"]);
            if u.software_token.as_ref().is_some_and(|t| t.preferred) {
                out["PreferredMfaSetting"] = json!("SOFTWARE_TOKEN_MFA");
            }
        }
        wire::reply(&out)
    }
}

/// The user's attributes the app client may read: all of them when it names no
/// ReadAttributes (Cognito's default), else `sub` (the user's identity, in every token) and
/// the attributes it names.
fn readable_attributes(user: &UserRecord, read_attributes: &[String]) -> Vec<serde_json::Value> {
    if read_attributes.is_empty() {
        return user_shapes::attribute_list(user, None);
    }
    let mut names = Vec::with_capacity(read_attributes.len() + 1);
    names.push("sub".to_owned());
    names.extend(read_attributes.iter().cloned());
    user_shapes::attribute_list(user, Some(&names))
}

pub(crate) struct GlobalSignOut {
    token: Zeroizing<String>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for GlobalSignOut {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AccessTokenInput = wire::decode(body)?;
        Ok(GlobalSignOut {
            token: token_member(input.access_token, "accessToken")?,
        })
    }

    async fn checks(
        &mut self,
        _: &UserPoolsService,
        _: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(Vec::new())
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let grant = tokens::accept_access_token(svc, &self.token).await?;
        let writes =
            tokens::revoke_all(svc, &grant.pool.record.id, &grant.user.record.sub, now()).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}

pub(crate) struct AdminUserGlobalSignOut {
    user: AdminUser,
}

#[async_trait::async_trait]
impl UserPoolsOperation for AdminUserGlobalSignOut {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: AdminUserInput = wire::decode(body)?;
        Ok(AdminUserGlobalSignOut {
            user: AdminUser::parse(input.user_pool_id, input.username)?,
        })
    }

    async fn checks(
        &mut self,
        svc: &UserPoolsService,
        call: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        self.user.check(svc, call).await
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let (pool, user) = self.user.load(svc).await?;
        let writes = tokens::revoke_all(svc, &pool.record.id, &user.record.sub, now()).await?;
        rampart_store::request_audit::commit(svc.store.as_ref(), writes).await?;
        Ok(b"{}".to_vec())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RevokeTokenInput {
    token: String,
    client_id: String,
    client_secret: Option<String>,
}

pub(crate) struct RevokeToken {
    token: Zeroizing<String>,
    client_id: String,
    client_secret: Option<Zeroizing<String>>,
}

#[async_trait::async_trait]
impl UserPoolsOperation for RevokeToken {
    fn decode(body: &[u8]) -> Result<Self, UserPoolsError> {
        let input: RevokeTokenInput = wire::decode(body)?;
        if !crate::ids::is_client_id_shaped(&input.client_id) {
            return Err(UserPoolsError::constraint(
                &input.client_id,
                "clientId",
                "Member must satisfy regular expression pattern: [\\w+]+",
            ));
        }
        Ok(RevokeToken {
            token: token_member(input.token, "token")?,
            client_id: input.client_id,
            client_secret: input.client_secret.map(Zeroizing::new),
        })
    }

    async fn checks(
        &mut self,
        _: &UserPoolsService,
        _: &Call<'_>,
    ) -> Result<Vec<Check>, UserPoolsError> {
        Ok(Vec::new())
    }

    async fn execute(self, svc: &UserPoolsService, _: &Call<'_>) -> Reply {
        let client = AuthClient::public(svc, &self.client_id).await?;
        let c = client.client();
        if let Some(sealed) = &c.sealed_secret {
            let secret = sealing::open(
                &svc.keyring,
                SealPurpose::UserPoolClientSecret,
                &client_context(&c.pool_id, &c.client_id),
                sealed,
            )?;
            let given = self
                .client_secret
                .as_deref()
                .map(String::as_bytes)
                .unwrap_or(b"");
            if !bool::from(secret.as_slice().ct_eq(given)) {
                return Err(UserPoolsError::Unauthorized("invalid_client".into()));
            }
        }
        if is_jwt(&self.token) {
            return Err(UserPoolsError::UnsupportedTokenType(
                "Only refresh tokens can be revoked; the token given is an ID or access token."
                    .into(),
            ));
        }
        if !c.enable_token_revocation {
            return Err(UserPoolsError::UnsupportedOperation(
                "Token revocation is not enabled for this app client.".into(),
            ));
        }
        let pool_id = &client.pool().id;
        let Some(record) = records::load::<RefreshTokenRecord>(
            svc.store.as_ref(),
            ns::REFRESH_TOKENS,
            &pool_key(pool_id, &refresh_token_digest(&self.token)),
        )
        .await?
        else {
            // RFC 7009: a token the server does not know is not an error.
            return Ok(b"{}".to_vec());
        };
        if record.record.client_id != c.client_id {
            return Err(UserPoolsError::Unauthorized(
                "The token was not issued to this client.".into(),
            ));
        }
        let key = family_key(pool_id, &record.record.sub, &record.record.origin_jti);
        if let Some(family) =
            records::load::<TokenFamilyRecord>(svc.store.as_ref(), ns::TOKEN_FAMILIES, &key).await?
        {
            if family.record.revoked_at.is_none() {
                rampart_store::request_audit::commit(
                    svc.store.as_ref(),
                    vec![tokens::revoke(key, family, now())],
                )
                .await?;
            }
        }
        Ok(b"{}".to_vec())
    }
}

/// Whether `token` is a JWT (an ID or access token): three base64url parts whose first is a
/// JSON header naming an algorithm. Rampart's refresh tokens are opaque, without dots.
fn is_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|h| h.get("alg").is_some_and(serde_json::Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::is_jwt;

    #[test]
    fn jwts_are_told_from_refresh_tokens() {
        // {"alg":"RS256","kid":"k"}.{}.sig
        assert!(is_jwt("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30.c2ln"));
        assert!(!is_jwt("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e30"));
        assert!(!is_jwt("e30.e30.c2ln"));
        assert!(!is_jwt("a.b.c.d"));
        assert!(!is_jwt(
            "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFy"
        ));
    }
}
