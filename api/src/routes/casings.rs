//! `/v1/casings`: submit a casing, read it back, rank its candidates.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::upload::{parse_metadata, read_upload};
use super::{resolve_limit, resource};
use crate::audit_trail::{note, AuditDetail, AuditEvidence};
use crate::auth::Caller;
use crate::dto::{
    CandidateDto, CandidateListDto, CandidatesQuery, CasingDto, CasingQuery, ErrorDto,
    SubmissionMetadataDto, SubmitForm, SubmitQuery, SubmitResponseDto,
};
use crate::error::ApiError;
use crate::state::AppState;
use casetrace_engine::access::Action;

/// Submit a casing: an `image` file part and a `metadata` JSON part.
///
/// All or nothing: a refused submission stores no row, no evidence file and
/// no index entry. Resubmitting the same file under the same id is
/// idempotent (200, `created: false`); another file under a used id is a
/// 409. The new casing's candidates come back with it.
#[utoipa::path(
    post,
    path = "/v1/casings",
    tag = "casings",
    params(SubmitQuery),
    request_body(content = inline(SubmitForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Casing stored", body = SubmitResponseDto),
        (status = 200, description = "Same file already on file; nothing written", body = SubmitResponseDto),
        (status = 400, description = "Missing part, bad metadata or query", body = ErrorDto),
        (status = 409, description = "Casing id used by another file", body = ErrorDto),
        (status = 413, description = "Upload over the size limit", body = ErrorDto),
        (status = 415, description = "Not multipart/form-data", body = ErrorDto),
        (status = 422, description = "Image unreadable or unusable", body = ErrorDto),
        (status = 500, description = "Internal error", body = ErrorDto),
    )
)]
pub async fn submit_casing(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SubmitQuery>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::SubmitCasing)?;
    // Checked first so a bad query costs no upload.
    let limit = resolve_limit(query.limit, 0)?;
    let upload = read_upload(&req, payload, state.max_upload_bytes).await?;
    let image = upload
        .image
        .ok_or_else(|| ApiError::missing_part("image"))?;
    let metadata = upload
        .metadata
        .ok_or_else(|| ApiError::missing_part("metadata"))?;
    let mut metadata: SubmissionMetadataDto = parse_metadata(&metadata)?;
    metadata.agency = Some(caller.own_agency(metadata.agency.as_deref())?);
    let submission = metadata.into_submission(image.file_name, image.bytes, caller.holder());
    let outcome = state.engine.submit(caller.principal(), submission).await?;
    let casing = outcome.casing;
    // The casing is stored by now: if ranking fails the client gets the
    // error, and a retry answers 200 with the list.
    let candidates: Vec<CandidateDto> = if limit == 0 {
        Vec::new()
    } else {
        let list = state
            .engine
            .candidates(
                caller.principal(),
                Some(&casing.agency),
                &casing.casing_id,
                limit,
            )
            .await?;
        list.candidates
            .into_iter()
            .map(CandidateDto::from)
            .collect()
    };
    tracing::info!(casing = %casing.casing_id, agency = %casing.agency, created = outcome.created, candidates = candidates.len(), "submission answered");
    let evidence = AuditEvidence(casing.sha256.clone());
    let detail = AuditDetail::default()
        .with("casing_id", casing.casing_id.as_str())
        .with("created", outcome.created)
        .with("evidence_sha256", casing.sha256.as_str());
    let body = SubmitResponseDto {
        created: outcome.created,
        casing: casing.into(),
        candidates,
    };
    if body.created {
        let location = format!("/v1/casings/{}", body.casing.casing_id);
        let mut res = HttpResponse::Created()
            .insert_header((header::LOCATION, location))
            .json(body);
        res.extensions_mut().insert(evidence);
        note(&mut res, detail);
        Ok(res)
    } else {
        let mut res = HttpResponse::Ok().json(body);
        res.extensions_mut().insert(evidence);
        note(&mut res, detail);
        Ok(res)
    }
}

/// A casing on file.
#[utoipa::path(
    get,
    path = "/v1/casings/{casing_id}",
    tag = "casings",
    params(("casing_id" = String, Path, description = "The casing's id"), CasingQuery),
    responses(
        (status = 200, description = "The casing", body = CasingDto),
        (status = 404, description = "No such casing", body = ErrorDto),
    )
)]
pub async fn get_casing(
    state: web::Data<AppState>,
    caller: Caller,
    casing_id: web::Path<String>,
    query: web::Query<CasingQuery>,
) -> Result<HttpResponse, ApiError> {
    let record = state
        .engine
        .casing(caller.principal(), query.agency.as_deref(), &casing_id)
        .await?;
    let evidence = AuditEvidence(record.sha256.clone());
    // The owner's auditors see who read their casing.
    let detail = AuditDetail::default().owned_by(&record.agency);
    let mut res = HttpResponse::Ok().json(CasingDto::from(record));
    res.extensions_mut().insert(evidence);
    note(&mut res, detail);
    Ok(res)
}

/// Candidates for a casing on file, best first, never the casing itself.
#[utoipa::path(
    get,
    path = "/v1/casings/{casing_id}/candidates",
    tag = "casings",
    params(("casing_id" = String, Path, description = "The casing's id"), CandidatesQuery),
    responses(
        (status = 200, description = "Ranked candidates", body = CandidateListDto),
        (status = 400, description = "Bad query", body = ErrorDto),
        (status = 404, description = "No such casing", body = ErrorDto),
    )
)]
pub async fn get_candidates(
    state: web::Data<AppState>,
    caller: Caller,
    casing_id: web::Path<String>,
    query: web::Query<CandidatesQuery>,
) -> Result<web::Json<CandidateListDto>, ApiError> {
    let limit = resolve_limit(query.limit, 1)?;
    let list = state
        .engine
        .candidates(
            caller.principal(),
            query.agency.as_deref(),
            &casing_id,
            limit,
        )
        .await?;
    Ok(web::Json(CandidateListDto::new(
        Some(casing_id.into_inner()),
        list,
    )))
}

pub fn config_casings(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/casings").route(web::post().to(submit_casing)))
        .service(resource("/v1/casings/{casing_id}").route(web::get().to(get_casing)))
        .service(
            resource("/v1/casings/{casing_id}/candidates").route(web::get().to(get_candidates)),
        );
}
