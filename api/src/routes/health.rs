//! `/healthz`: liveness, a glance at what is on file, how far this node's
//! index is behind the database, and the correlation queue's depth.

use actix_web::web;

use super::resource;
use crate::dto::{ErrorDto, HealthDto};
use crate::error::ApiError;
use crate::state::AppState;

/// The server is up and its database answers (a failing database is a 500,
/// so load balancers take the instance out).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses(
        (status = 200, description = "Healthy", body = HealthDto),
        (status = 500, description = "The database or index failed", body = ErrorDto),
    )
)]
pub async fn healthz(state: web::Data<AppState>) -> Result<web::Json<HealthDto>, ApiError> {
    let casings = state.engine.casing_count().await?;
    let indexed = state.engine.indexed_count()?;
    let index_lag = state.engine.index_lag().await?.into();
    let correlation_queue = state.engine.correlation_queue().await?.into();
    Ok(web::Json(HealthDto {
        status: "ok".into(),
        casings: u64::try_from(casings).unwrap_or_default(),
        indexed,
        index_kind: state.engine.index_kind()?.to_string(),
        model_version: state.engine.model_version().to_string(),
        node: state.engine.node().to_string(),
        index_lag,
        correlation_queue,
    }))
}

pub fn config_health(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(healthz)));
}
