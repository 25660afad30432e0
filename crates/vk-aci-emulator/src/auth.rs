//! Token endpoints (Entra ID v2/v1 client credentials, IMDS) and bearer checks.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::apierror::ApiError;
use crate::route::parse_query;
use crate::server::Shared;
use crate::state::{now_unix, random_hex};

/// Issues a bearer token; returns it with its expiry (Unix seconds).
pub(crate) fn issue_token(shared: &Shared) -> (String, i64) {
    let token = format!("aciemu.{}", random_hex(24));
    let lifetime = i64::try_from(shared.cfg.token_lifetime.as_secs()).unwrap_or(i64::MAX / 4);
    let expires = now_unix().saturating_add(lifetime);
    shared.lock().tokens.insert(token.clone(), expires);
    shared.changed();
    (token, expires)
}

/// Checks the `Authorization` header of an ARM request.
pub(crate) fn check(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    if !shared.cfg.require_auth {
        return Ok(());
    }
    let Some(value) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ));
    };
    if shared.cfg.static_token.as_deref() == Some(token) {
        return Ok(());
    }
    let expiry = shared.lock().tokens.get(token).copied();
    match expiry {
        Some(exp) if exp > now_unix() => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
        )),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )),
    }
}

fn aad_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({
            "error": error,
            "error_description": description,
            "error_codes": [],
            "timestamp": crate::state::now(),
            "trace_id": crate::state::random_uuid(),
            "correlation_id": crate::state::random_uuid(),
        })),
    )
        .into_response()
}

fn form(body: &Bytes) -> Vec<(String, String)> {
    parse_query(Some(&String::from_utf8_lossy(body)))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn check_client(form: &[(String, String)], headers: &HeaderMap) -> Result<(), Response> {
    if field(form, "grant_type") != Some("client_credentials") {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type. Only 'client_credentials' is supported by the emulator.",
        ));
    }
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Basic "));
    if field(form, "client_id").is_none() && !basic {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        ));
    }
    if field(form, "client_secret").is_none() && field(form, "client_assertion").is_none() && !basic
    {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        ));
    }
    Ok(())
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token_v2(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _span = tracing::debug_span!("token_v2", %tenant).entered();
    let form = form(&body);
    if let Err(r) = check_client(&form, &headers) {
        return r;
    }
    match field(&form, "scope") {
        Some(s) if s.split(' ').count() == 1 && s.ends_with("/.default") => {}
        _ => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope must be a single '<resource>/.default' scope.",
            );
        }
    }
    let (token, expires) = issue_token(&shared);
    let expires_in = (expires - now_unix()).max(0);
    Json(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": token,
    }))
    .into_response()
}

/// `POST /{tenant}/oauth2/token` (v1, `resource` form).
pub(crate) async fn token_v1(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form(&body);
    if let Err(r) = check_client(&form, &headers) {
        return r;
    }
    let Some(resource) = field(&form, "resource").map(str::to_owned) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS50001: The request body must contain the following parameter: 'resource'.",
        );
    };
    let (token, expires) = issue_token(&shared);
    let now = now_unix();
    Json(json!({
        "token_type": "Bearer",
        "expires_in": (expires - now).max(0).to_string(),
        "ext_expires_in": (expires - now).max(0).to_string(),
        "expires_on": expires.to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "access_token": token,
    }))
    .into_response()
}

/// `GET /metadata/identity/oauth2/token?api-version=...&resource=...` (IMDS).
pub(crate) async fn imds(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let imds_err = |error: &str, desc: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error, "error_description": desc})),
        )
            .into_response()
    };
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return imds_err("invalid_request", "Required metadata header not specified");
    }
    let q = parse_query(query.as_deref());
    if field(&q, "api-version").is_none() {
        return imds_err(
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = field(&q, "resource").map(str::to_owned) else {
        return imds_err(
            "invalid_resource",
            "Required query variable 'resource' is missing",
        );
    };
    let client_id = field(&q, "client_id")
        .map(str::to_owned)
        .unwrap_or_else(|| "00000000-0000-0000-0000-0000000c11e7".to_owned());
    let (token, expires) = issue_token(&shared);
    let now = now_unix();
    Json(json!({
        "access_token": token,
        "refresh_token": "",
        "client_id": client_id,
        "expires_in": (expires - now).max(0).to_string(),
        "expires_on": expires.to_string(),
        "ext_expires_in": (expires - now).max(0).to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}
