//! The user pools' public documents on the AWS API listener, unsigned as on AWS:
//! `GET /<poolId>/.well-known/jwks.json` and `GET /<poolId>/.well-known/openid-configuration`.
//! An unknown pool is a 404 in Cognito's JSON error shape.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rampart_user_pools::UserPoolsService;

/// The routes, for any router state (they carry their own).
pub fn routes<S: Clone + Send + Sync + 'static>(user_pools: Arc<UserPoolsService>) -> Router<S> {
    Router::new()
        .route("/{pool_id}/.well-known/jwks.json", get(jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .with_state(user_pools)
}

async fn jwks(State(svc): State<Arc<UserPoolsService>>, Path(pool_id): Path<String>) -> Response {
    answer(
        &pool_id,
        svc.jwks(&pool_id)
            .await
            .map(|o| o.map(|set| serde_json::json!(set))),
    )
}

async fn openid_configuration(
    State(svc): State<Arc<UserPoolsService>>,
    Path(pool_id): Path<String>,
) -> Response {
    answer(&pool_id, svc.openid_configuration(&pool_id).await)
}

fn answer(
    pool_id: &str,
    document: Result<Option<serde_json::Value>, rampart_user_pools::UserPoolsError>,
) -> Response {
    match document {
        Ok(Some(doc)) => axum::Json(doc).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("User pool {pool_id} does not exist."),
        ),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalErrorException",
            &e.to_string(),
        ),
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("x-amzn-ErrorType", code)],
        axum::Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}
