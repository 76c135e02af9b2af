//! `/v1/firearms` and `/v1/serials`: firearms on file, their events, serial
//! search and histories.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use casetrace_engine::traces::{SerialFilters, SerialQuery};

use super::resource;
use crate::auth::Caller;
use crate::dto::{
    ErrorDto, FirearmDto, FirearmHistoryDto, NewFirearmDto, NewTraceEventDto, SerialModeDto,
    SerialSearchDto, SerialSearchQuery, TraceEventDto,
};
use crate::error::ApiError;
use crate::state::AppState;
use casetrace_engine::access::Action;

/// Register a firearm with no event yet.
#[utoipa::path(
    post,
    path = "/v1/firearms",
    tag = "traces",
    request_body = NewFirearmDto,
    responses(
        (status = 201, description = "Firearm stored", body = FirearmDto),
        (status = 400, description = "Bad JSON or serial", body = ErrorDto),
    )
)]
pub async fn create_firearm(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewFirearmDto>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    body.agency = Some(caller.own_agency(body.agency.as_deref())?);
    let new = body.into_new(caller.holder());
    let firearm = state
        .engine
        .register_firearm(caller.principal(), &new)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/firearms/{}", firearm.id)))
        .json(FirearmDto::from(firearm)))
}

/// Serial search: exact, by pattern (`?` one unreadable character, `*`
/// any run) or fuzzy (by edit distance), optionally narrowed by make,
/// calibre or country. Index lookups only, never a scan of the firearms.
#[utoipa::path(
    get,
    path = "/v1/firearms",
    tag = "traces",
    params(SerialSearchQuery),
    responses(
        (status = 200, description = "Matches, nearest first", body = SerialSearchDto),
        (status = 400, description = "Bad serial, pattern or query", body = ErrorDto),
    )
)]
pub async fn search_firearms(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SerialSearchQuery>,
) -> Result<web::Json<SerialSearchDto>, ApiError> {
    caller.may(Action::SerialSearch)?;
    let q = query.into_inner();
    let mode = q.mode.unwrap_or(if q.serial.contains(['?', '*']) {
        SerialModeDto::Pattern
    } else {
        SerialModeDto::Exact
    });
    if q.max_edits.is_some() && mode != SerialModeDto::Fuzzy {
        return Err(ApiError::invalid_query(
            "max_edits applies to mode=fuzzy only",
        ));
    }
    let (name, serial_query) = match mode {
        SerialModeDto::Exact => (
            "exact",
            SerialQuery::Exact {
                serial: q.serial.clone(),
            },
        ),
        SerialModeDto::Pattern => (
            "pattern",
            SerialQuery::Pattern {
                pattern: q.serial.clone(),
            },
        ),
        SerialModeDto::Fuzzy => (
            "fuzzy",
            SerialQuery::Fuzzy {
                serial: q.serial.clone(),
                max_edits: q.max_edits.unwrap_or(1),
            },
        ),
    };
    let filters = SerialFilters {
        make: q.make,
        calibre: q.calibre,
        country: q.country,
    };
    let matches = state
        .engine
        .search_serials(caller.principal(), &serial_query, &filters)
        .await?;
    Ok(web::Json(SerialSearchDto {
        mode: name.into(),
        query: q.serial,
        matches: matches.into_iter().map(Into::into).collect(),
    }))
}

/// A firearm on file.
#[utoipa::path(
    get,
    path = "/v1/firearms/{id}",
    tag = "traces",
    params(("id" = i64, Path, description = "The firearm's id")),
    responses(
        (status = 200, description = "The firearm", body = FirearmDto),
        (status = 404, description = "No such firearm", body = ErrorDto),
    )
)]
pub async fn get_firearm(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<web::Json<FirearmDto>, ApiError> {
    let firearm = state.engine.firearm(caller.principal(), *id).await?;
    Ok(web::Json(firearm.into()))
}

/// Everything known about a firearm: its events in time order, time-to-
/// crime for each recovery, its test fires and the casings and cases
/// linked to them by confirmed hits.
#[utoipa::path(
    get,
    path = "/v1/firearms/{id}/history",
    tag = "traces",
    params(("id" = i64, Path, description = "The firearm's id")),
    responses(
        (status = 200, description = "The history", body = FirearmHistoryDto),
        (status = 404, description = "No such firearm", body = ErrorDto),
    )
)]
pub async fn firearm_history(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<web::Json<FirearmHistoryDto>, ApiError> {
    let history = state
        .engine
        .firearm_history(caller.principal(), *id)
        .await?;
    Ok(web::Json(history.into()))
}

/// Record something that happened to a firearm: a sale, a theft, a
/// recovery, a lab's test fire (naming its casing), ...
#[utoipa::path(
    post,
    path = "/v1/firearms/{id}/events",
    tag = "traces",
    params(("id" = i64, Path, description = "The firearm's id")),
    request_body = NewTraceEventDto,
    responses(
        (status = 201, description = "Event stored", body = TraceEventDto),
        (status = 400, description = "Bad JSON or fields", body = ErrorDto),
        (status = 404, description = "No such firearm or casing", body = ErrorDto),
    )
)]
pub async fn add_event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<NewTraceEventDto>,
) -> Result<HttpResponse, ApiError> {
    // Labs record their test fires; investigators the rest of a history
    // (the engine's rule).
    let mut body = body.into_inner();
    body.agency = Some(caller.own_agency(body.agency.as_deref())?);
    let (event, casing) = body.into_new(caller.holder());
    let event = state
        .engine
        .add_trace_event(caller.principal(), *id, event, casing.as_deref())
        .await?;
    Ok(HttpResponse::Created().json(TraceEventDto::from(event)))
}

/// The history of every firearm with this serial (normalised; usually
/// one firearm, several when makes share a serial).
#[utoipa::path(
    get,
    path = "/v1/serials/{serial}/history",
    tag = "traces",
    params(("serial" = String, Path, description = "The serial as written")),
    responses(
        (status = 200, description = "One history per firearm", body = [FirearmHistoryDto]),
        (status = 404, description = "No firearm with this serial", body = ErrorDto),
    )
)]
pub async fn serial_history(
    state: web::Data<AppState>,
    caller: Caller,
    serial: web::Path<String>,
) -> Result<web::Json<Vec<FirearmHistoryDto>>, ApiError> {
    let histories: Vec<FirearmHistoryDto> = state
        .engine
        .serial_history(caller.principal(), &serial)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(web::Json(histories))
}

pub fn config_firearms(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/firearms")
            .route(web::post().to(create_firearm))
            .route(web::get().to(search_firearms)),
    )
    .service(resource("/v1/firearms/{id}").route(web::get().to(get_firearm)))
    .service(resource("/v1/firearms/{id}/history").route(web::get().to(firearm_history)))
    .service(resource("/v1/firearms/{id}/events").route(web::post().to(add_event)))
    .service(resource("/v1/serials/{serial}/history").route(web::get().to(serial_history)));
}
