//! Reading a multipart upload (an `image` file part and an optional
//! `metadata` JSON part) into memory, refusing it as soon as it passes the
//! byte limit, before the engine sees a byte of it.

use actix_multipart::{Field, Multipart};
use actix_web::http::header;
use actix_web::HttpRequest;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

/// Largest `metadata` part: it is a small JSON object, never a file.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Room for boundaries and part headers when judging a request by its
/// `Content-Length` before reading it.
const FRAMING_ALLOWANCE: usize = 16 * 1024;

/// The uploaded file.
#[derive(Debug)]
pub struct ImagePart {
    /// The part's file name without any directories, or `image`.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The parts of an upload as received; which are required is the route's
/// business.
#[derive(Debug, Default)]
pub struct Upload {
    pub image: Option<ImagePart>,
    pub metadata: Option<Vec<u8>>,
}

/// Read every part, holding the image to `max_image_bytes`. A request
/// whose declared length is already too large is refused unread.
pub async fn read_upload(
    req: &HttpRequest,
    mut payload: Multipart,
    max_image_bytes: usize,
) -> Result<Upload, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let max_body = max_image_bytes
        .saturating_add(MAX_METADATA_BYTES)
        .saturating_add(FRAMING_ALLOWANCE);
    if declared.is_some_and(|len| len > max_body) {
        return Err(ApiError::PayloadTooLarge {
            what: "the request body".into(),
            limit: max_body,
        });
    }
    let mut upload = Upload::default();
    while let Some(field) = payload.next().await {
        let mut field = field?;
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "image" => {
                if upload.image.is_some() {
                    return Err(duplicate("image"));
                }
                let file_name = file_name(&field);
                let bytes = read_part(&mut field, "the image part", max_image_bytes).await?;
                upload.image = Some(ImagePart { file_name, bytes });
            }
            "metadata" => {
                if upload.metadata.is_some() {
                    return Err(duplicate("metadata"));
                }
                upload.metadata =
                    Some(read_part(&mut field, "the metadata part", MAX_METADATA_BYTES).await?);
            }
            // Refused rather than skipped: a part named `file` is a client
            // mistake that would otherwise surface as a puzzling "missing
            // image part".
            other => {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidMultipart,
                    format!("unexpected part {other:?}; expected \"image\" and \"metadata\""),
                ))
            }
        }
    }
    Ok(upload)
}

/// Parse a `metadata` part as JSON of type `T`.
pub fn parse_metadata<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid_metadata(format!("the metadata part is not valid: {e}")))
}

/// A whole request body, refused with 413 as soon as it passes `limit`
/// bytes (`what` names it in the error), never buffered past that.
pub async fn read_body(
    mut payload: actix_web::web::Payload,
    what: &str,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                ErrorCode::InvalidBody,
                format!("reading the body failed: {e}"),
            )
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge {
                what: what.into(),
                limit,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn read_part(field: &mut Field, what: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge {
                what: what.to_string(),
                limit,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The client's file name, as a label only: directories some clients send
/// (`C:\scans\a.x3p`) are dropped, and the engine never uses it as a path.
fn file_name(field: &Field) -> String {
    field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .and_then(|name| name.rsplit(['/', '\\']).next())
        .filter(|name| !name.is_empty())
        .unwrap_or("image")
        .chars()
        .take(255)
        .collect()
}

fn duplicate(name: &str) -> ApiError {
    ApiError::bad_request(
        ErrorCode::InvalidMultipart,
        format!("the multipart body has more than one {name:?} part"),
    )
}
