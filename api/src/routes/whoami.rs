//! `/v1/whoami`: who the presented key stands for, so a client can show
//! what the key may do. It reads no record (the key's own principal).

use actix_web::web;

use super::resource;
use crate::auth::Caller;
use crate::dto::{ErrorDto, WhoamiDto};

/// The key's agency, id, holder and roles.
#[utoipa::path(
    get,
    path = "/v1/whoami",
    tag = "access",
    responses(
        (status = 200, description = "Who the key stands for", body = WhoamiDto),
        (status = 401, description = "No valid key", body = ErrorDto),
    )
)]
pub async fn whoami(caller: Caller) -> web::Json<WhoamiDto> {
    web::Json(WhoamiDto::from(caller.principal()))
}

pub fn config_whoami(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/whoami").route(web::get().to(whoami)));
}
