//! The evidence images of the examiner workspace: a casing's prepared
//! canvas and a registered pair of them. Both obey the image rights of
//! [`Sight::image_rights`]: own agency and `view` partners see images, a
//! `correlate`-only partner is refused (it still sees ranks and scores in
//! candidate lists), anyone else is answered as if the casing were absent.

use super::pair::{NoComparison, PairComparison};
use super::Engine;
use crate::access::policy::{self, Action, ImageRights};
use crate::access::{Principal, Sight};
use crate::casing::CasingRecord;
use crate::comparison::decode_canvas;
use crate::error::{EngineError, Result};
use crate::surface::Surface;

impl Engine {
    /// A casing's prepared comparison canvas (the stored one the fine
    /// comparison reads), with its record. `agency` defaults to the
    /// caller's own.
    pub async fn casing_surface(
        &self,
        caller: &Principal,
        agency: Option<&str>,
        casing_id: &str,
    ) -> Result<(CasingRecord, Surface)> {
        policy::require(caller, Action::ReadImage)?;
        let sight = self.sight(caller).await?;
        let agency = agency.unwrap_or(caller.agency.as_str());
        let record = self.imaged_casing(&sight, agency, casing_id).await?;
        let (record, features) = self.stored_query(&record.agency, &record.casing_id).await?;
        Ok((record, decode_canvas(&features.comparison_surface)?))
    }

    /// Two casings registered and scored as a candidate list would (`a`
    /// as the query), with `b`'s canvas resampled into `a`'s frame. Each
    /// is (agency, casing id), the agency defaulting to the caller's own;
    /// the caller needs image rights on both.
    pub async fn compare_casings(
        &self,
        caller: &Principal,
        a: (Option<&str>, &str),
        b: (Option<&str>, &str),
    ) -> Result<PairComparison> {
        policy::require(caller, Action::ReadImage)?;
        let sight = self.sight(caller).await?;
        let own = caller.agency.as_str();
        let ra = self.imaged_casing(&sight, a.0.unwrap_or(own), a.1).await?;
        let rb = self.imaged_casing(&sight, b.0.unwrap_or(own), b.1).await?;
        if ra.id == rb.id {
            return Err(EngineError::InvalidMetadata {
                field: "with".into(),
                reason: "a casing is not compared with itself".into(),
            });
        }
        let names = format!(
            "{}/{} and {}/{}",
            ra.agency, ra.casing_id, rb.agency, rb.casing_id
        );
        match self.compare_records(ra, rb).await? {
            Ok(pair) => Ok(pair),
            Err(NoComparison::KindsDiffer) => Err(EngineError::Unusable {
                source_name: names,
                reason: "a photograph is not compared with a topography".into(),
            }),
            Err(NoComparison::NoOverlap) => Err(EngineError::Unusable {
                source_name: names,
                reason: "the two overlap too little to be registered".into(),
            }),
        }
    }

    /// The casing, when the caller has image rights on its agency. The
    /// refusal of a `correlate`-only partner is decided on the agency
    /// alone, so it tells nothing of which casing ids exist.
    async fn imaged_casing(
        &self,
        sight: &Sight,
        agency: &str,
        casing_id: &str,
    ) -> Result<CasingRecord> {
        match sight.image_rights(agency) {
            ImageRights::NotShared => Err(EngineError::ImageNotShared(format!(
                "agency {agency:?} shares correlation results with the caller's agency, not its images"
            ))),
            // Granted views the casing; hidden answers as absent after
            // the same lookup.
            ImageRights::Granted | ImageRights::Hidden => {
                self.viewable_casing(sight, agency, casing_id).await
            }
        }
    }
}
