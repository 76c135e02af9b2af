//! Time-to-crime: days from a firearm's last retail sale to a recovery.

use chrono::NaiveDate;

/// Days between the latest retail sale on or before `recovered` and the
/// recovery, or `None` when no such sale is known. A sale after the
/// recovery does not count: it cannot explain how the gun got there.
pub fn time_to_crime_days(retail_sales: &[NaiveDate], recovered: NaiveDate) -> Option<i64> {
    retail_sales
        .iter()
        .filter(|d| **d <= recovered)
        .max()
        .map(|sold| (recovered - *sold).num_days())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn counts_from_the_last_sale_before_the_recovery() {
        let sales = [d("2019-03-01"), d("2021-06-10"), d("2025-01-01")];
        assert_eq!(time_to_crime_days(&sales, d("2021-07-10")), Some(30));
        assert_eq!(time_to_crime_days(&sales, d("2019-03-01")), Some(0));
        assert_eq!(time_to_crime_days(&sales, d("2018-01-01")), None);
        assert_eq!(time_to_crime_days(&[], d("2018-01-01")), None);
    }
}
