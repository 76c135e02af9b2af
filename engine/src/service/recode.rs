//! Rewriting stored canvases of the old codec (`CTC1`, f32) in the current
//! one (`CTC2`, 16-bit codes; `comparison/codec.rs`), as the last step of
//! `casetrace redescribe`. Nothing is re-read from evidence: the stored
//! canvas is decoded and encoded again, a batch per transaction with its
//! audit record. A canvas that does not decode is named and left as it is.

use super::{blocking, Engine, RedescribeOptions};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::comparison::{
    canvas_codec, decode_canvas, encode_canvas, CANVAS_CODEC, CANVAS_CODEC_V1,
};
use crate::error::Result;
use crate::store::{RecodedCanvases, StoredCanvases};

/// The audit action of one committed batch of re-encoded canvases.
pub const RECODE_ACTION: &str = "recode_canvases";

impl Engine {
    /// Casings whose canvas or pin mark is still in the old codec.
    pub async fn count_old_canvases(&self) -> Result<u64> {
        Ok(self.db.count_canvases_in_codec(CANVAS_CODEC_V1).await? as u64)
    }

    /// Re-encode every stored `CTC1` canvas and pin mark as `CTC2`;
    /// how many casings were rewritten.
    pub(super) async fn recode_canvases(&self, opts: &RedescribeOptions) -> Result<u64> {
        let batch = opts.batch.max(1) as i64;
        let mut after = i64::MIN;
        let mut written = 0;
        loop {
            let page = self
                .db
                .canvases_in_codec(CANVAS_CODEC_V1, after, batch)
                .await?;
            let Some(last) = page.last() else {
                return Ok(written);
            };
            after = last.casing_pk;
            let recoded =
                blocking(move || Ok(page.into_iter().filter_map(recode).collect())).await?;
            let recoded: Vec<RecodedCanvases> = recoded;
            if recoded.is_empty() {
                continue;
            }
            let event = AuditEvent::new(
                opts.agency.clone(),
                opts.actor.clone(),
                RECODE_ACTION,
                "casing_features/comparison_surface",
                AuditOutcome::Ok,
            );
            written += self.db.write_recoded(&recoded, &event).await?.len() as u64;
        }
    }
}

/// The row's canvases in the current codec, or `None` (logged) when one
/// does not decode.
fn recode(stored: StoredCanvases) -> Option<RecodedCanvases> {
    let again = |bytes: &[u8]| -> Result<Vec<u8>> {
        if canvas_codec(bytes) == Some(CANVAS_CODEC) {
            return Ok(bytes.to_vec());
        }
        Ok(encode_canvas(&decode_canvas(bytes)?))
    };
    let outcome = again(&stored.surface).and_then(|surface| {
        let pin_mark = stored.pin_mark.as_deref().map(again).transpose()?;
        Ok((surface, pin_mark))
    });
    match outcome {
        Ok((surface, pin_mark)) => Some(RecodedCanvases {
            read: stored,
            surface,
            pin_mark,
        }),
        Err(e) => {
            tracing::warn!(casing_pk = stored.casing_pk, error = %e, "stored canvas not re-encoded");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comparison::encode_canvas_v1;
    use crate::surface::{Surface, SurfaceKind};

    #[test]
    fn old_canvases_become_current_and_current_ones_stay_as_they_are() {
        let mut canvas = Surface::empty(6, 5, 25.0, SurfaceKind::Topography);
        for (i, v) in canvas.values.iter_mut().enumerate() {
            *v = (i as f32 * 0.7).sin();
        }
        canvas.valid.fill(true);
        canvas.valid[4] = false;
        let current = encode_canvas(&canvas);
        let recoded = recode(StoredCanvases {
            casing_pk: 3,
            surface: encode_canvas_v1(&canvas),
            pin_mark: Some(current.clone()),
        })
        .expect("decodes");
        assert_eq!(recoded.surface, current);
        assert_eq!(recoded.pin_mark.as_ref(), Some(&current));
        assert!(recode(StoredCanvases {
            casing_pk: 4,
            surface: b"CTC1 broken".to_vec(),
            pin_mark: None,
        })
        .is_none());
    }
}
