//! `/v1/keys`, `/v1/agreements` and `/v1/audit`: an agency administrator's
//! keys and sharing agreements, and its auditor's view of the audit log.
//! Agencies themselves are registered by the operator (`casetrace
//! agencies add`), not over the API.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use casetrace_engine::access::Action;
use casetrace_engine::audit::AuditQuery;

use super::resource;
use crate::audit_trail::{note, AuditDetail};
use crate::auth::Caller;
use crate::dto::{
    AgreementDto, AuditQueryDto, AuditRecordDto, ErrorDto, IssuedKeyDto, KeyDto, NewAgreementDto,
    NewKeyDto,
};
use crate::error::ApiError;
use crate::state::AppState;

/// Issue a key for the caller's agency. The key is in this answer only.
#[utoipa::path(
    post, path = "/v1/keys", tag = "access", request_body = NewKeyDto,
    responses(
        (status = 201, description = "Key issued; shown once", body = IssuedKeyDto),
        (status = 400, description = "Bad roles or lifetime", body = ErrorDto),
        (status = 403, description = "Not an admin", body = ErrorDto),
    )
)]
pub async fn issue_key(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewKeyDto>,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::ManageKeys)?;
    let roles = body.roles()?;
    let issued = state
        .engine
        .issue_key(
            caller.principal(),
            &body.holder,
            roles,
            body.days.unwrap_or(365),
        )
        .await?;
    // What was issued, for the audit record; never the secret.
    let detail = AuditDetail::default()
        .with("key_id", issued.record.id.as_str())
        .with("holder", issued.record.holder.as_str())
        .with("roles", serde_json::json!(issued.record.roles))
        .with("expires_at", issued.record.expires_at.as_str());
    let mut res = HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(IssuedKeyDto::from(issued));
    note(&mut res, detail);
    Ok(res)
}

/// The caller's agency's keys (never their secrets).
#[utoipa::path(
    get, path = "/v1/keys", tag = "access",
    responses((status = 200, description = "Keys", body = [KeyDto]), (status = 403, description = "Not an admin", body = ErrorDto))
)]
pub async fn list_keys(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<Vec<KeyDto>>, ApiError> {
    let keys = state.engine.keys(caller.principal()).await?;
    Ok(web::Json(keys.into_iter().map(Into::into).collect()))
}

/// Revoke one of the caller's agency's keys, from now on.
#[utoipa::path(
    delete, path = "/v1/keys/{id}", tag = "access",
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The revoked key", body = KeyDto),
        (status = 403, description = "Not an admin", body = ErrorDto),
        (status = 404, description = "No such key in the agency", body = ErrorDto),
    )
)]
pub async fn revoke_key(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<KeyDto>, ApiError> {
    let key = state.engine.revoke_key(caller.principal(), &id).await?;
    Ok(web::Json(key.into()))
}

/// Let another agency use the caller's agency's records.
#[utoipa::path(
    post, path = "/v1/agreements", tag = "access", request_body = NewAgreementDto,
    responses(
        (status = 201, description = "Agreement in force", body = AgreementDto),
        (status = 400, description = "Bad scope", body = ErrorDto),
        (status = 403, description = "Not an admin", body = ErrorDto),
        (status = 404, description = "No such agency", body = ErrorDto),
    )
)]
pub async fn grant(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewAgreementDto>,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::ManageAgreements)?;
    let agreement = state
        .engine
        .grant(caller.principal(), &body.grantee, body.scope()?)
        .await?;
    let detail = AuditDetail::default()
        .with("grantee", agreement.grantee.as_str())
        .with("scope", agreement.scope.as_str());
    let mut res = HttpResponse::Created().json(AgreementDto::from(agreement));
    note(&mut res, detail);
    Ok(res)
}

/// End an agreement the caller's agency granted.
#[utoipa::path(
    delete, path = "/v1/agreements/{grantee}/{scope}", tag = "access",
    params(("grantee" = String, Path), ("scope" = String, Path)),
    responses(
        (status = 200, description = "Ended", body = AgreementDto),
        (status = 404, description = "No such agreement", body = ErrorDto),
    )
)]
pub async fn revoke_agreement(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::ManageAgreements)?;
    let (grantee, scope) = path.into_inner();
    let agreement = state
        .engine
        .end_agreement(caller.principal(), &grantee, scope.parse()?)
        .await?;
    let detail = AuditDetail::default()
        .with("grantee", agreement.grantee.as_str())
        .with("scope", agreement.scope.as_str());
    let mut res = HttpResponse::Ok().json(AgreementDto::from(agreement));
    note(&mut res, detail);
    Ok(res)
}

/// Agreements the caller's agency is party to, either way.
#[utoipa::path(
    get, path = "/v1/agreements", tag = "access",
    responses((status = 200, description = "Agreements", body = [AgreementDto]))
)]
pub async fn list_agreements(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<Vec<AgreementDto>>, ApiError> {
    let all = state.engine.agreements(caller.principal()).await?;
    Ok(web::Json(all.into_iter().map(Into::into).collect()))
}

/// The audit records of the caller's agency, and of other agencies' calls
/// on records it owns, oldest first.
#[utoipa::path(
    get, path = "/v1/audit", tag = "access", params(AuditQueryDto),
    responses(
        (status = 200, description = "Records", body = [AuditRecordDto]),
        (status = 403, description = "Not an auditor", body = ErrorDto),
    )
)]
pub async fn audit_records(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<AuditQueryDto>,
) -> Result<web::Json<Vec<AuditRecordDto>>, ApiError> {
    let q = query.into_inner();
    let query = AuditQuery {
        agency: Some(caller.agency().to_string()),
        include_owned: true,
        resource: q.resource,
        action: q.action,
        from: q.from,
        to: q.to,
        after_seq: q.after,
        limit: q.limit.unwrap_or(100),
    };
    let records = state
        .engine
        .audit_records(caller.principal(), query)
        .await?;
    Ok(web::Json(records.into_iter().map(Into::into).collect()))
}

pub fn config_access(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/keys")
            .route(web::post().to(issue_key))
            .route(web::get().to(list_keys)),
    )
    .service(resource("/v1/keys/{id}").route(web::delete().to(revoke_key)))
    .service(
        resource("/v1/agreements")
            .route(web::post().to(grant))
            .route(web::get().to(list_agreements)),
    )
    .service(resource("/v1/agreements/{grantee}/{scope}").route(web::delete().to(revoke_agreement)))
    .service(resource("/v1/audit").route(web::get().to(audit_records)));
}
