//! `/v1/casings/{id}/surface` and `/v1/casings/{id}/comparison`: the
//! examiner workspace's evidence images. The engine decides image rights
//! (own agency and `view` partners; `correlate`-only partners get 403
//! `image_not_shared`); every image served is audited, naming the
//! casing(s).

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use casetrace_engine::comparison::hillshade_png;
use casetrace_engine::EngineError;

use super::resource;
use crate::audit_trail::{note, AuditDetail};
use crate::auth::Caller;
use crate::dto::{
    ComparisonDto, ComparisonQuery, ErrorDto, HeightsDto, SurfaceFormatDto, SurfaceQuery,
};
use crate::error::ApiError;
use crate::state::AppState;

/// Default light of the hill shading: from the upper left, 45° up.
const DEFAULT_AZIMUTH_DEG: f64 = 315.0;
const DEFAULT_ELEVATION_DEG: f64 = 45.0;

/// A casing's prepared comparison canvas (160 x 160 at 25 µm/px, the one
/// the fine comparison reads), as quantised heights or a hill-shaded PNG.
#[utoipa::path(
    get,
    path = "/v1/casings/{casing_id}/surface",
    tag = "casings",
    params(("casing_id" = String, Path, description = "The casing's id"), SurfaceQuery),
    responses(
        (status = 200, description = "The canvas as quantised heights (format=heights, JSON) or hill-shaded (format=png)", content(
            (HeightsDto = "application/json"),
            (Vec<u8> = "image/png")
        )),
        (status = 400, description = "Bad query", body = ErrorDto),
        (status = 403, description = "Not an examiner, or image_not_shared: the agency shares correlation only", body = ErrorDto),
        (status = 404, description = "No such casing", body = ErrorDto),
    )
)]
pub async fn get_surface(
    state: web::Data<AppState>,
    caller: Caller,
    casing_id: web::Path<String>,
    query: web::Query<SurfaceQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let azimuth = query.azimuth.unwrap_or(DEFAULT_AZIMUTH_DEG);
    let elevation = query.elevation.unwrap_or(DEFAULT_ELEVATION_DEG);
    if !azimuth.is_finite() || !(0.0..=90.0).contains(&elevation) {
        return Err(ApiError::invalid_query(
            "azimuth must be a number of degrees and elevation between 0 and 90",
        ));
    }
    let (record, surface) = state
        .engine
        .casing_surface(caller.principal(), query.agency.as_deref(), &casing_id)
        .await?;
    let format = query.format.unwrap_or_default();
    let detail = AuditDetail::default()
        .with("image", "surface")
        .with(
            "casings",
            vec![format!("{}/{}", record.agency, record.casing_id)],
        )
        .with("format", serde_json::json!(format))
        .owned_by(record.agency.as_str());
    // Image maths, however small, stays off the async executor.
    let mut res = match format {
        SurfaceFormatDto::Heights => {
            let heights = web::block(move || HeightsDto::from(&surface))
                .await
                .map_err(|e| EngineError::internal(format!("quantising a surface: {e}")))?;
            HttpResponse::Ok().json(heights)
        }
        SurfaceFormatDto::Png => {
            let png = web::block(move || hillshade_png(&surface, azimuth, elevation))
                .await
                .map_err(|e| EngineError::internal(format!("hill shading: {e}")))??;
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, "image/png"))
                .body(png)
        }
    };
    note(&mut res, detail);
    Ok(res)
}

/// Two casings registered and scored as a candidate list would (the path's
/// casing as the query), with the other's canvas resampled into the first
/// one's frame and the cells positioned there. Both need image rights.
#[utoipa::path(
    get,
    path = "/v1/casings/{casing_id}/comparison",
    tag = "casings",
    params(("casing_id" = String, Path, description = "The casing's id"), ComparisonQuery),
    responses(
        (status = 200, description = "The registered pair", body = ComparisonDto),
        (status = 400, description = "Bad query", body = ErrorDto),
        (status = 403, description = "Not an examiner, or image_not_shared: an agency shares correlation only", body = ErrorDto),
        (status = 404, description = "No such casing", body = ErrorDto),
        (status = 422, description = "The pair cannot be registered (too little overlap, or a photograph with a topography)", body = ErrorDto),
    )
)]
pub async fn get_comparison(
    state: web::Data<AppState>,
    caller: Caller,
    casing_id: web::Path<String>,
    query: web::Query<ComparisonQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let pair = state
        .engine
        .compare_casings(
            caller.principal(),
            (query.agency.as_deref(), &casing_id),
            (query.with_agency.as_deref(), &query.with),
        )
        .await?;
    // One record naming both casings; the owner recorded is the first's
    // (the second's agency is in `casings`).
    let detail = AuditDetail::default()
        .with("image", "comparison")
        .with(
            "casings",
            vec![
                format!("{}/{}", pair.a.agency, pair.a.casing_id),
                format!("{}/{}", pair.b.agency, pair.b.casing_id),
            ],
        )
        .owned_by(pair.a.agency.as_str());
    let dto = web::block(move || ComparisonDto::from(pair))
        .await
        .map_err(|e| EngineError::internal(format!("comparison answer: {e}")))?;
    let mut res = HttpResponse::Ok().json(dto);
    note(&mut res, detail);
    Ok(res)
}

pub fn config_surfaces(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/casings/{casing_id}/surface").route(web::get().to(get_surface)))
        .service(
            resource("/v1/casings/{casing_id}/comparison").route(web::get().to(get_comparison)),
        );
}
