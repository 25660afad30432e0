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

/// Principal of the static token.
pub(crate) const STATIC_PRINCIPAL: &str = "static-token";
/// Principal of tokens issued through the admin API.
pub(crate) const ADMIN_PRINCIPAL: &str = "emulator-admin";
/// Principal of unauthenticated requests (`require_auth` off).
pub(crate) const ANONYMOUS_PRINCIPAL: &str = "anonymous";
/// Principal of tokens loaded from a state file that did not record one.
pub(crate) const UNKNOWN_PRINCIPAL: &str = "unknown";

/// Issues a bearer token for `principal` (the client id ARM throttles by);
/// returns it with its expiry (Unix seconds).
/// The audience of Azure Monitor's metrics data plane (`metrics:getBatch`).
pub(crate) const METRICS_AUDIENCE: &str = "https://metrics.monitor.azure.com";

fn is_metrics_audience(resource: &str) -> bool {
    resource
        .trim_end_matches('/')
        .eq_ignore_ascii_case(METRICS_AUDIENCE)
}

/// Issues a token for `resource` (a scope without `/.default`, or a v1
/// resource): tokens for Azure Monitor's metrics plane are refused by ARM and
/// the other way round, as Entra ID audiences are.
pub(crate) fn issue_token_for(shared: &Shared, principal: &str, resource: &str) -> (String, i64) {
    let (token, expires) = issue_token(shared, principal);
    if is_metrics_audience(resource) {
        shared
            .lock()
            .token_audiences
            .insert(token.clone(), METRICS_AUDIENCE.to_owned());
    }
    (token, expires)
}

/// Whether `headers` carry a token issued for Azure Monitor's metrics plane.
pub(crate) fn has_metrics_audience(shared: &Shared, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| shared.lock().token_audiences.contains_key(t))
}

fn wrong_audience(expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationTokenAudience",
        format!(
            "The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences '{expected}'."
        ),
    )
}

/// Authenticates a request to Azure Monitor's metrics plane: like [`check`],
/// with a token issued for [`METRICS_AUDIENCE`].
pub(crate) fn check_metrics(shared: &Shared, headers: &HeaderMap) -> Result<String, ApiError> {
    let principal = check_token(shared, headers)?;
    if shared.cfg.require_auth && !has_metrics_audience(shared, headers) {
        return Err(wrong_audience(METRICS_AUDIENCE));
    }
    Ok(principal)
}

pub(crate) fn issue_token(shared: &Shared, principal: &str) -> (String, i64) {
    let token = format!("aciemu.{}", random_hex(24));
    let lifetime = i64::try_from(shared.cfg.token_lifetime.as_secs()).unwrap_or(i64::MAX / 4);
    let expires = now_unix().saturating_add(lifetime);
    {
        let mut st = shared.lock();
        st.tokens.insert(token.clone(), expires);
        st.token_principals
            .insert(token.clone(), principal.to_owned());
    }
    shared.changed();
    (token, expires)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// The principal of a known token.
fn principal_of(shared: &Shared, token: &str) -> Option<String> {
    if shared.cfg.static_token.as_deref() == Some(token) {
        return Some(STATIC_PRINCIPAL.to_owned());
    }
    let st = shared.lock();
    st.tokens.get(token)?;
    Some(
        st.token_principals
            .get(token)
            .cloned()
            .unwrap_or_else(|| UNKNOWN_PRINCIPAL.to_owned()),
    )
}

/// Checks the `Authorization` header of an ARM request; returns the
/// principal (the token's client id) ARM throttles the request by.
pub(crate) fn check(shared: &Shared, headers: &HeaderMap) -> Result<String, ApiError> {
    let principal = check_token(shared, headers)?;
    if shared.cfg.require_auth && has_metrics_audience(shared, headers) {
        return Err(wrong_audience("https://management.azure.com/"));
    }
    Ok(principal)
}

fn check_token(shared: &Shared, headers: &HeaderMap) -> Result<String, ApiError> {
    if !shared.cfg.require_auth {
        return Ok(bearer(headers)
            .and_then(|t| principal_of(shared, t))
            .unwrap_or_else(|| ANONYMOUS_PRINCIPAL.to_owned()));
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
        return Ok(STATIC_PRINCIPAL.to_owned());
    }
    let expiry = shared.lock().tokens.get(token).copied();
    match expiry {
        Some(exp) if exp > now_unix() => {
            Ok(principal_of(shared, token).unwrap_or_else(|| UNKNOWN_PRINCIPAL.to_owned()))
        }
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

/// Checks a client-credentials request; returns the client id (from the
/// form, or the user name of HTTP Basic authentication).
fn check_client(form: &[(String, String)], headers: &HeaderMap) -> Result<String, Response> {
    if field(form, "grant_type") != Some("client_credentials") {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type. Only 'client_credentials' is supported by the emulator.",
        ));
    }
    // HTTP Basic: `client_id:client_secret`, base64.
    let basic_user = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|raw| String::from_utf8(raw).ok())
                .and_then(|s| s.split_once(':').map(|(u, _)| u.to_owned()))
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| UNKNOWN_PRINCIPAL.to_owned())
        });
    let basic = basic_user.is_some();
    let Some(client_id) = field(form, "client_id").map(str::to_owned).or(basic_user) else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        ));
    };
    if field(form, "client_secret").is_none() && field(form, "client_assertion").is_none() && !basic
    {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        ));
    }
    Ok(client_id)
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
    let client_id = match check_client(&form, &headers) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let resource = match field(&form, "scope") {
        Some(s) if s.split(' ').count() == 1 && s.ends_with("/.default") => {
            s.trim_end_matches("/.default").to_owned()
        }
        _ => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope must be a single '<resource>/.default' scope.",
            );
        }
    };
    let (token, expires) = issue_token_for(&shared, &client_id, &resource);
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
    let client_id = match check_client(&form, &headers) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(resource) = field(&form, "resource").map(str::to_owned) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS50001: The request body must contain the following parameter: 'resource'.",
        );
    };
    let (token, expires) = issue_token_for(&shared, &client_id, &resource);
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
    let (token, expires) = issue_token_for(&shared, &client_id, &resource);
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
