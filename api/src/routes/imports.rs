//! `/v1/imports`: start a bulk import job and follow it.
//!
//! The job runs in the background on the server; the response names it and
//! `GET /v1/imports/{id}` reports its counts, rate, time left and failed
//! rows. An uploaded archive is spooled to a temporary file in the data
//! directory (refused past the size limit while streaming, never held in
//! memory) and removed when the job ends.

use std::io::Write;
use std::path::{Path, PathBuf};

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use casetrace_engine::bulk::ImportSource;
use casetrace_engine::Engine;
use futures_util::StreamExt;

use super::resource;
use super::upload::read_body;
use crate::auth::Caller;
use crate::dto::{ErrorDto, ImportForm, ImportJobDto, ImportPathDto};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use casetrace_engine::access::Action;

/// Where uploads are spooled, inside the data directory.
const SPOOL_DIR: &str = "imports-incoming";

/// Start an import: a multipart `archive` part, or a JSON `{"path": ...}`
/// naming a folder or archive under an allowed server root.
///
/// Posting the manifest of a job that stopped early resumes that job.
#[utoipa::path(
    post,
    path = "/v1/imports",
    tag = "imports",
    request_body(
        content(
            (inline(ImportForm) = "multipart/form-data"),
            (ImportPathDto = "application/json"),
        )
    ),
    responses(
        (status = 202, description = "Job started (or resumed); follow it at Location", body = ImportJobDto),
        (status = 400, description = "Missing part, bad JSON, or a path outside the allowed roots", body = ErrorDto),
        (status = 409, description = "A running job is already loading this manifest", body = ErrorDto),
        (status = 413, description = "Archive over the size limit", body = ErrorDto),
        (status = 415, description = "Neither multipart/form-data nor JSON", body = ErrorDto),
        (status = 429, description = "The server already holds as many archive uploads as it allows; retry after Retry-After seconds", body = ErrorDto),
        (status = 422, description = "Not an archive, or its manifest is unreadable", body = ErrorDto),
        (status = 500, description = "Internal error", body = ErrorDto),
    )
)]
pub async fn start_import(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.may(Action::ImportCasings)?;
    let engine = state.engine.clone();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (source, label, spool) = if content_type.starts_with("application/json") {
        let body = read_json_body(payload).await?;
        let path = allowed_path(&engine, &body.path)?;
        let source = ImportSource::open(&path)?;
        (source, body.path, None)
    } else if content_type.starts_with("multipart/form-data") {
        // Taken before a byte is read, and held until the job is over.
        let permit = upload_slot(&state)?;
        let multipart = Multipart::new(req.headers(), payload);
        let (file, label) = spool_archive(&engine, multipart).await?;
        let spool = Spool {
            file,
            _permit: permit,
        };
        let source = ImportSource::open(spool.file.path())?;
        (source, label, Some(spool))
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "send multipart/form-data with an \"archive\" part, or JSON {\"path\": ...}".into(),
        ));
    };
    let prepared = engine
        .prepare_import(caller.principal(), source, &label)
        .await?;
    let id = prepared.job.id.clone();
    let runner = engine.clone();
    actix_web::rt::spawn(async move {
        // The spooled upload lives until the job is over.
        let _spool = spool;
        if let Err(e) = runner.run_import(prepared, &|_| {}).await {
            tracing::error!(error = %e, "import job failed");
        }
    });
    let status = engine.import_status(caller.principal(), &id).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/imports/{id}")))
        .json(ImportJobDto::from(status)))
}

/// An import job: state, counts, rate, time left and the failed rows.
#[utoipa::path(
    get,
    path = "/v1/imports/{id}",
    tag = "imports",
    params(("id" = String, Path, description = "The job id from POST /v1/imports")),
    responses(
        (status = 200, description = "The job", body = ImportJobDto),
        (status = 404, description = "No such job", body = ErrorDto),
        (status = 500, description = "Internal error", body = ErrorDto),
    )
)]
pub async fn get_import(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let status = state.engine.import_status(caller.principal(), &id).await?;
    Ok(HttpResponse::Ok().json(ImportJobDto::from(status)))
}

/// An uploaded archive spooled to disk, and its upload slot: both are
/// released together when the job no longer needs the file.
struct Spool {
    file: tempfile::NamedTempFile,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// One of the server's upload slots, or a 429 naming the limit.
fn upload_slot(state: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    state
        .import_uploads
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::Busy(format!(
                "this server already holds {} import archive upload(s), its limit; retry when one \
             of the running imports has finished",
                state.engine.config().imports.max_concurrent_uploads
            ))
        })
}

/// Largest JSON body of a path request.
const MAX_JSON_BYTES: usize = 16 * 1024;

async fn read_json_body(payload: web::Payload) -> Result<ImportPathDto, ApiError> {
    let bytes = read_body(payload, "the JSON body", MAX_JSON_BYTES).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            ErrorCode::InvalidJson,
            format!("the JSON body is not valid: {e}"),
        )
    })
}

/// The path, resolved, if it lies under one of the configured roots.
fn allowed_path(engine: &Engine, path: &str) -> Result<PathBuf, ApiError> {
    let refused = || {
        ApiError::bad_request(
            ErrorCode::ImportPathNotAllowed,
            format!("{path:?} is not under a folder this server imports from"),
        )
    };
    let real = Path::new(path).canonicalize().map_err(|_| refused())?;
    let roots = &engine.config().imports.roots;
    if roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|root| real.starts_with(root))
    {
        Ok(real)
    } else {
        Err(refused())
    }
}

/// Stream the `archive` part into a temporary file, refusing it once it
/// passes the limit; returns the file and the client's name for it.
async fn spool_archive(
    engine: &Engine,
    mut multipart: Multipart,
) -> Result<(tempfile::NamedTempFile, String), ApiError> {
    let limit = engine.config().imports.max_upload_bytes;
    let dir = engine.config().data_dir.join(SPOOL_DIR);
    let io = |e: std::io::Error| ApiError::from(casetrace_engine::EngineError::io(&dir, e));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let mut spooled = None;
    while let Some(field) = multipart.next().await {
        let mut field = field?;
        if field.name() != Some("archive") || spooled.is_some() {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidMultipart,
                "expected exactly one part, named \"archive\"",
            ));
        }
        let label = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .and_then(|n| n.rsplit(['/', '\\']).next())
            .filter(|n| !n.is_empty())
            .unwrap_or("archive")
            .chars()
            .take(255)
            .collect::<String>();
        let mut file = tempfile::Builder::new()
            .prefix(".upload-")
            .tempfile_in(&dir)
            .map_err(io)?;
        let mut written = 0u64;
        while let Some(chunk) = field.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(ApiError::PayloadTooLarge {
                    what: "the archive".into(),
                    limit: limit as usize,
                });
            }
            file.write_all(&chunk).map_err(io)?;
        }
        file.flush().map_err(io)?;
        spooled = Some((file, label));
    }
    spooled.ok_or_else(|| ApiError::missing_part("archive"))
}

pub fn config_imports(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/imports").route(web::post().to(start_import)))
        .service(resource("/v1/imports/{id}").route(web::get().to(get_import)));
}
