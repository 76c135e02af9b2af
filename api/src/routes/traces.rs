//! `/v1/traces`: field trace requests, one at a time or a file of them.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use casetrace_engine::bulk::table::MAX_TABLE_BYTES;
use casetrace_engine::bulk::TableFormat;

use super::resource;
use super::upload::read_body;
use crate::auth::Caller;
use crate::dto::{ErrorDto, TraceImportDto, TraceOutcomeDto, TraceRequestDto};
use crate::error::ApiError;
use crate::state::AppState;
use casetrace_engine::access::Action;

/// Submit a trace request for a recovered firearm: the firearm (matched by
/// serial and make to one on file, or recorded new) and its recovery, in
/// one transaction.
#[utoipa::path(
    post,
    path = "/v1/traces",
    tag = "traces",
    request_body = TraceRequestDto,
    responses(
        (status = 201, description = "Trace recorded", body = TraceOutcomeDto),
        (status = 200, description = "Trace number already on file; nothing written", body = TraceOutcomeDto),
        (status = 400, description = "Bad JSON or fields", body = ErrorDto),
    )
)]
pub async fn submit_trace(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TraceRequestDto>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    body.agency = Some(caller.own_agency(body.agency.as_deref())?);
    let submission = body.into_submission(caller.holder());
    let outcome = state
        .engine
        .submit_trace(caller.principal(), submission)
        .await?;
    let location = format!("/v1/firearms/{}/history", outcome.firearm.id);
    let body = TraceOutcomeDto::from(outcome);
    let mut response = if body.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header((header::LOCATION, location))
        .json(body))
}

/// Load a file of traces: CSV (`Content-Type: text/csv`) or JSON lines
/// (`application/x-ndjson`), one trace per row keyed by its trace number
/// (columns in docs/traces.md). Rows load one by one: the answer lists the
/// rows that failed and why, and posting the file again records only rows
/// not yet on file. A file that cannot be read as a whole records nothing.
#[utoipa::path(
    post,
    path = "/v1/traces/imports",
    tag = "traces",
    params(("agency" = Option<String>, Query, description = "Agency of rows that name none (default `local`)")),
    request_body(content = String, content_type = "text/csv", description = "The trace file (or application/x-ndjson)"),
    responses(
        (status = 200, description = "Rows recorded, duplicates and failures", body = TraceImportDto),
        (status = 422, description = "Unreadable header, CSV or encoding, or an unknown column", body = ErrorDto),
        (status = 413, description = "File over 64 MiB", body = ErrorDto),
        (status = 415, description = "Neither CSV nor JSON lines", body = ErrorDto),
    )
)]
pub async fn import_traces(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    query: web::Query<ImportTracesQuery>,
    payload: web::Payload,
) -> Result<web::Json<TraceImportDto>, ApiError> {
    caller.may(Action::ImportTraces)?;
    caller.own_agency(query.agency.as_deref())?;
    let format = table_format(&req)?;
    let bytes = read_body(payload, "the trace file", MAX_TABLE_BYTES as usize).await?;
    let report = state
        .engine
        .import_traces(caller.principal(), "request body", &bytes, format)
        .await?;
    Ok(web::Json(report.into()))
}

/// `?agency=` on trace imports.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportTracesQuery {
    pub agency: Option<String>,
}

fn table_format(req: &HttpRequest) -> Result<TableFormat, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" => Ok(TableFormat::Csv),
        "application/x-ndjson"
        | "application/jsonl"
        | "application/jsonlines"
        | "application/x-jsonlines" => Ok(TableFormat::JsonLines),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "a trace file is text/csv or application/x-ndjson, not {other:?}"
        ))),
    }
}

pub fn config_traces(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/traces").route(web::post().to(submit_trace)))
        .service(resource("/v1/traces/imports").route(web::post().to(import_traces)));
}
