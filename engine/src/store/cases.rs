//! Cases: the casings filed under a case number.

use super::db::{on_pool, Database};
use crate::casing::CasingRecord;
use crate::error::Result;

const SELECT_CASE_CASINGS: &str = "SELECT id FROM casings WHERE case_number = $1 ORDER BY id";

impl Database {
    /// The casings filed under `case_number`, in the order stored.
    pub async fn casings_of_case(&self, case_number: &str) -> Result<Vec<CasingRecord>> {
        let ids: Vec<i64> = on_pool!(self, pool =>
            sqlx::query_scalar(SELECT_CASE_CASINGS).bind(case_number).fetch_all(pool).await?);
        let mut casings = self.casings_by_pks(&ids).await?;
        casings.sort_by_key(|c| c.id);
        Ok(casings)
    }
}
