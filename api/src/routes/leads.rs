//! `/v1/leads` and `/v1/cases`: examiners' leads and case histories.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::resource;
use crate::audit_trail::{note, AuditDetail};
use crate::auth::Caller;
use crate::dto::{
    CaseHistoryDto, ErrorDto, LeadDecisionDto, LeadDto, LeadListDto, LeadsQuery, NewConclusionDto,
    NewLeadDto,
};
use crate::error::ApiError;
use crate::state::AppState;

/// Take up a candidate as a lead. The pair may be taken up once (in either
/// order); asking again answers 200 with the lead on file.
#[utoipa::path(
    post,
    path = "/v1/leads",
    tag = "traces",
    request_body = NewLeadDto,
    responses(
        (status = 201, description = "Lead stored", body = LeadDto),
        (status = 200, description = "The pair was already a lead", body = LeadDto),
        (status = 400, description = "Bad JSON, or a casing paired with itself", body = ErrorDto),
        (status = 404, description = "No such casing", body = ErrorDto),
    )
)]
pub async fn create_lead(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewLeadDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.own_agency(body.agency.as_deref())?;
    let (lead, created) = state
        .engine
        .mark_lead(
            caller.principal(),
            (&body.query.agency, &body.query.casing_id),
            (&body.candidate.agency, &body.candidate.casing_id),
            body.comment.as_deref(),
        )
        .await?;
    let dto = LeadDto::from(lead);
    let detail = AuditDetail::default()
        .with("lead_id", dto.id)
        .with("created", created)
        .with(
            "query",
            format!("{}/{}", body.query.agency, body.query.casing_id),
        )
        .with(
            "candidate",
            format!("{}/{}", body.candidate.agency, body.candidate.casing_id),
        )
        .owned_by(body.candidate.agency.as_str());
    let mut res = if created {
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/v1/leads/{}", dto.id)))
            .json(dto)
    } else {
        HttpResponse::Ok().json(dto)
    };
    note(&mut res, detail);
    Ok(res)
}

/// The caller's agency's leads, best first, with counts by status and
/// verification for the filter without its status.
#[utoipa::path(
    get,
    path = "/v1/leads",
    tag = "traces",
    params(LeadsQuery),
    responses(
        (status = 200, description = "One page of the agency's leads", body = LeadListDto),
        (status = 400, description = "Bad query", body = ErrorDto),
        (status = 403, description = "Not an examiner", body = ErrorDto),
    )
)]
pub async fn list_leads(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<LeadsQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.into_inner().into_filter()?;
    let page = state.engine.leads(caller.principal(), &filter).await?;
    let ids: Vec<i64> = page.leads.iter().map(|v| v.lead.id).collect();
    let detail = AuditDetail::default().with("lead_ids", ids);
    let mut res = HttpResponse::Ok().json(LeadListDto::from(page));
    note(&mut res, detail);
    Ok(res)
}

/// Record the caller's AFTE conclusion on a lead of its agency. The first
/// is the primary examination, later ones verifications (the engine
/// assigns the role); a key concludes once per lead. The lead's status
/// changes only when two conclusions agree in family.
#[utoipa::path(
    post,
    path = "/v1/leads/{id}/conclusions",
    tag = "traces",
    params(("id" = i64, Path, description = "The lead's id")),
    request_body = NewConclusionDto,
    responses(
        (status = 201, description = "Conclusion recorded; the lead", body = LeadDto),
        (status = 400, description = "Bad JSON", body = ErrorDto),
        (status = 403, description = "Not an examiner", body = ErrorDto),
        (status = 404, description = "No such lead", body = ErrorDto),
        (status = 409, description = "This key already concluded on the lead, or the lead is concluded", body = ErrorDto),
    )
)]
pub async fn record_conclusion(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<NewConclusionDto>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let lead = state
        .engine
        .record_conclusion(
            caller.principal(),
            *id,
            body.conclusion.into(),
            body.notes.as_deref(),
        )
        .await?;
    let dto = LeadDto::from(lead);
    let detail = AuditDetail::default()
        .with("lead_id", dto.id)
        .with("conclusion", serde_json::json!(body.conclusion))
        .with("lead_status", serde_json::json!(dto.status));
    let mut res = HttpResponse::Created().json(dto);
    note(&mut res, detail);
    Ok(res)
}

/// A lead on file.
#[utoipa::path(
    get,
    path = "/v1/leads/{id}",
    tag = "traces",
    params(("id" = i64, Path, description = "The lead's id")),
    responses(
        (status = 200, description = "The lead", body = LeadDto),
        (status = 404, description = "No such lead", body = ErrorDto),
    )
)]
pub async fn get_lead(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<web::Json<LeadDto>, ApiError> {
    let lead = state.engine.lead(caller.principal(), *id).await?;
    Ok(web::Json(lead.into()))
}

/// Confirm a lead (a hit: same firearm) or exclude it. A hit links the
/// two casings' cases, and a test fire's firearm to both.
#[utoipa::path(
    post,
    path = "/v1/leads/{id}/decision",
    tag = "traces",
    params(("id" = i64, Path, description = "The lead's id")),
    request_body = LeadDecisionDto,
    responses(
        (status = 200, description = "The decided lead", body = LeadDto),
        (status = 400, description = "Bad JSON", body = ErrorDto),
        (status = 404, description = "No such lead", body = ErrorDto),
    )
)]
pub async fn decide_lead(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<LeadDecisionDto>,
) -> Result<web::Json<LeadDto>, ApiError> {
    // Only the agency that took up the lead decides it (the engine's rule).
    let body = body.into_inner();
    let lead = state
        .engine
        .decide_lead(
            caller.principal(),
            *id,
            body.decision.into(),
            body.comment.as_deref(),
        )
        .await?;
    Ok(web::Json(lead.into()))
}

/// Everything known about a case: its casings, their leads and hits, the
/// cases they link to and the firearms those lead to.
#[utoipa::path(
    get,
    path = "/v1/cases/{case_number}/history",
    tag = "traces",
    params(("case_number" = String, Path, description = "The case number")),
    responses(
        (status = 200, description = "The case's history", body = CaseHistoryDto),
        (status = 404, description = "No casing has this case number", body = ErrorDto),
    )
)]
pub async fn case_history(
    state: web::Data<AppState>,
    caller: Caller,
    case_number: web::Path<String>,
) -> Result<web::Json<CaseHistoryDto>, ApiError> {
    let history = state
        .engine
        .case_history(caller.principal(), &case_number)
        .await?;
    Ok(web::Json(history.into()))
}

pub fn config_leads(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/leads")
            .route(web::post().to(create_lead))
            .route(web::get().to(list_leads)),
    )
    .service(resource("/v1/leads/{id}").route(web::get().to(get_lead)))
    .service(resource("/v1/leads/{id}/decision").route(web::post().to(decide_lead)))
    .service(resource("/v1/leads/{id}/conclusions").route(web::post().to(record_conclusion)))
    .service(resource("/v1/cases/{case_number}/history").route(web::get().to(case_history)));
}
