//! `/v1/search`: candidates for an image that is not on file.

use actix_multipart::Multipart;
use actix_web::{web, HttpRequest};

use super::upload::{parse_metadata, read_upload};
use super::{resolve_limit, resource};
use crate::auth::Caller;
use crate::dto::{CandidateListDto, ErrorDto, SearchForm, SearchMetadataDto, SearchQuery};
use crate::error::ApiError;
use crate::state::AppState;
use casetrace_engine::access::Action;

/// Rank the casings on file against an uploaded image (an `image` part and
/// an optional `metadata` part with `um_per_px`). Nothing is stored.
#[utoipa::path(
    post,
    path = "/v1/search",
    tag = "search",
    params(SearchQuery),
    request_body(content = inline(SearchForm), content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Ranked candidates; casing_id is null", body = CandidateListDto),
        (status = 400, description = "Missing part, bad metadata or query", body = ErrorDto),
        (status = 413, description = "Upload over the size limit", body = ErrorDto),
        (status = 415, description = "Not multipart/form-data", body = ErrorDto),
        (status = 422, description = "Image unreadable or unusable", body = ErrorDto),
    )
)]
pub async fn search(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SearchQuery>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<web::Json<CandidateListDto>, ApiError> {
    caller.may(Action::SearchImage)?;
    let limit = resolve_limit(query.limit, 1)?;
    let upload = read_upload(&req, payload, state.max_upload_bytes).await?;
    let image = upload
        .image
        .ok_or_else(|| ApiError::missing_part("image"))?;
    let metadata: SearchMetadataDto = match upload.metadata {
        Some(bytes) => parse_metadata(&bytes)?,
        None => SearchMetadataDto::default(),
    };
    let list = state
        .engine
        .search(
            caller.principal(),
            image.bytes,
            image.file_name,
            metadata.um_per_px,
            limit,
        )
        .await?;
    Ok(web::Json(CandidateListDto::new(None, list)))
}

pub fn config_search(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/search").route(web::post().to(search)));
}
