//! Trace events on a firearm: what happened to it, dated, in time order.

use sqlx::FromRow;

use super::db::{on_pool, BeginWrite, Database, DbTimestamp};
use super::firearms::insert_firearm_in;
use crate::casing::CasingRef;
use crate::error::{EngineError, Result};
use crate::traces::serial::checked_serial;
use crate::traces::{
    parse_event_date, FirearmRecord, NewTraceEvent, TraceEventKind, TraceEventRecord, TraceFirearm,
};

#[derive(FromRow)]
struct EventRow {
    id: i64,
    agency: String,
    firearm_pk: i64,
    kind: String,
    occurred_on: String,
    licensee_id: Option<String>,
    acting_agency: Option<String>,
    place: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    crime_code: Option<String>,
    possessor: Option<String>,
    casing_pk: Option<i64>,
    comment: Option<String>,
    trace_number: Option<String>,
    submitted_at: DbTimestamp,
    submitted_by: String,
    casing_agency: Option<String>,
    casing_id: Option<String>,
}

impl TryFrom<EventRow> for TraceEventRecord {
    type Error = EngineError;

    fn try_from(r: EventRow) -> Result<Self> {
        Ok(TraceEventRecord {
            id: r.id,
            agency: r.agency,
            firearm_id: r.firearm_pk,
            kind: r.kind.parse()?,
            occurred_on: parse_event_date("occurred_on", &r.occurred_on)?,
            licensee_id: r.licensee_id,
            acting_agency: r.acting_agency,
            place: r.place,
            latitude: r.latitude,
            longitude: r.longitude,
            crime_code: r.crime_code,
            possessor: r.possessor,
            casing_pk: r.casing_pk,
            casing: r
                .casing_agency
                .zip(r.casing_id)
                .map(|(agency, casing_id)| CasingRef { agency, casing_id }),
            comment: r.comment,
            trace_number: r.trace_number,
            submitted_at: r.submitted_at.0,
            submitted_by: r.submitted_by,
        })
    }
}

/// The columns of an event row, joined to its test-fire casing so the
/// casing can be named the way clients name it.
macro_rules! select_events {
    () => {
        "SELECT e.id, e.agency, e.firearm_pk, e.kind, e.occurred_on, e.licensee_id, \
         e.acting_agency, e.place, e.latitude, e.longitude, e.crime_code, e.possessor, \
         e.casing_pk, e.comment, e.trace_number, e.submitted_at, e.submitted_by, \
         c.agency AS casing_agency, c.casing_id AS casing_id \
         FROM trace_events e LEFT JOIN casings c ON c.id = e.casing_pk"
    };
}

const INSERT_EVENT: &str = "INSERT INTO trace_events (agency, firearm_pk, kind, occurred_on, \
     licensee_id, acting_agency, place, latitude, longitude, crime_code, possessor, casing_pk, \
     comment, trace_number, submitted_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id";
const SELECT_EVENT: &str = concat!(select_events!(), " WHERE e.id = $1");
const SELECT_FOR_FIREARM: &str = concat!(
    select_events!(),
    " WHERE e.firearm_pk = $1 ORDER BY e.occurred_on, e.id"
);
const SELECT_BY_TRACE_NUMBER: &str = concat!(
    select_events!(),
    " WHERE e.agency = $1 AND e.trace_number = $2"
);
const SELECT_TEST_FIRES_OF_CASING: &str = concat!(
    select_events!(),
    " WHERE e.casing_pk = $1 AND e.kind = 'test_fire' ORDER BY e.id"
);

/// Insert one event inside the open transaction `$tx`, giving its row.
macro_rules! insert_event_in {
    ($tx:ident, $new:expr, $firearm_id:expr) => {{
        let new: &NewTraceEvent = $new;
        let (id,): (i64,) = sqlx::query_as(INSERT_EVENT)
            .bind(&new.agency)
            .bind($firearm_id)
            .bind(new.kind.as_str())
            .bind(new.occurred_on.format("%Y-%m-%d").to_string())
            .bind(&new.licensee_id)
            .bind(&new.acting_agency)
            .bind(&new.place)
            .bind(new.latitude)
            .bind(new.longitude)
            .bind(&new.crime_code)
            .bind(&new.possessor)
            .bind(new.casing_pk)
            .bind(&new.comment)
            .bind(&new.trace_number)
            .bind(&new.submitted_by)
            .fetch_one(&mut *$tx)
            .await?;
        let row: EventRow = sqlx::query_as(SELECT_EVENT)
            .bind(id)
            .fetch_one(&mut *$tx)
            .await?;
        row
    }};
}

impl Database {
    /// Record a trace event; the firearm (and a test fire's casing) must be
    /// on file, and a test fire must name its casing.
    pub async fn insert_trace_event(&self, new: &NewTraceEvent) -> Result<TraceEventRecord> {
        let (_, event) = self
            .insert_trace(&TraceFirearm::OnFile(new.firearm_id), new)
            .await?;
        Ok(event)
    }

    /// Record a trace: the event, and its firearm when that is new, in one
    /// transaction, so a refused trace leaves no firearm behind. The
    /// event's `firearm_id` is ignored for a new firearm.
    pub async fn insert_trace(
        &self,
        firearm: &TraceFirearm,
        new: &NewTraceEvent,
    ) -> Result<(FirearmRecord, TraceEventRecord)> {
        self.check_trace_event(new).await?;
        let (record, row) = match firearm {
            TraceFirearm::OnFile(id) => {
                let record = self.firearm(*id).await?;
                let row = on_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    let row = insert_event_in!(tx, new, *id);
                    tx.commit().await?;
                    row
                });
                (record, row)
            }
            TraceFirearm::New(firearm) => {
                let normalised = checked_serial("serial", &firearm.serial)?;
                on_pool!(self, pool => {
                    let mut tx = pool.begin_write().await?;
                    let record = insert_firearm_in!(tx, firearm, normalised);
                    let row = insert_event_in!(tx, new, record.id);
                    tx.commit().await?;
                    (record, row)
                })
            }
        };
        Ok((record, row.try_into()?))
    }

    /// The event an agency recorded under a trace number, if any.
    pub async fn event_by_trace_number(
        &self,
        agency: &str,
        trace_number: &str,
    ) -> Result<Option<TraceEventRecord>> {
        let row: Option<EventRow> = on_pool!(self, pool =>
            sqlx::query_as(SELECT_BY_TRACE_NUMBER)
                .bind(agency)
                .bind(trace_number)
                .fetch_optional(pool)
                .await?);
        row.map(TryInto::try_into).transpose()
    }

    /// Everything about an event that can be refused before writing.
    async fn check_trace_event(&self, new: &NewTraceEvent) -> Result<()> {
        if (new.kind == TraceEventKind::TestFire) != new.casing_pk.is_some() {
            return Err(EngineError::InvalidMetadata {
                field: "casing".into(),
                reason: "a test fire names its test-fire casing, and only a test fire does".into(),
            });
        }
        if let Some(pk) = new.casing_pk {
            self.casing_by_pk(pk)
                .await?
                .ok_or_else(|| EngineError::CasingNotFound(format!("#{pk}")))?;
        }
        for (field, value, bound) in [
            ("latitude", new.latitude, 90.0),
            ("longitude", new.longitude, 180.0),
        ] {
            if let Some(v) = value {
                if !v.is_finite() || !(-bound..=bound).contains(&v) {
                    return Err(EngineError::InvalidMetadata {
                        field: field.into(),
                        reason: format!("{v} is outside -{bound}..{bound}"),
                    });
                }
            }
        }
        if new.latitude.is_some() != new.longitude.is_some() {
            return Err(EngineError::InvalidMetadata {
                field: "latitude".into(),
                reason: "coordinates need both latitude and longitude".into(),
            });
        }
        if let Some(n) = &new.trace_number {
            if n.trim().is_empty() || n.len() > 128 {
                return Err(EngineError::InvalidMetadata {
                    field: "trace_number".into(),
                    reason: "a trace number is 1-128 characters".into(),
                });
            }
        }
        Ok(())
    }

    /// A firearm's trace events, oldest first (ties in the order recorded).
    pub async fn trace_events(&self, firearm_id: i64) -> Result<Vec<TraceEventRecord>> {
        let rows: Vec<EventRow> = on_pool!(self, pool =>
            sqlx::query_as(SELECT_FOR_FIREARM).bind(firearm_id).fetch_all(pool).await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The test-fire events that name this casing.
    pub async fn test_fires_of_casing(&self, casing_pk: i64) -> Result<Vec<TraceEventRecord>> {
        let rows: Vec<EventRow> = on_pool!(self, pool =>
            sqlx::query_as(SELECT_TEST_FIRES_OF_CASING).bind(casing_pk).fetch_all(pool).await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_both_backends;
    use crate::traces::NewFirearm;

    fn gun(serial: &str) -> NewFirearm {
        NewFirearm {
            agency: "lab-a".into(),
            make: Some("Ruger".into()),
            serial: serial.into(),
            submitted_by: "t".into(),
            ..NewFirearm::default()
        }
    }

    fn recovery(number: Option<&str>) -> NewTraceEvent {
        let mut e = NewTraceEvent::new(
            "lab-a",
            0,
            TraceEventKind::Recovery,
            "2024-03-01".parse().unwrap(),
            "t",
        );
        e.trace_number = number.map(str::to_string);
        e
    }

    async fn a_refused_trace_leaves_no_firearm(db: &Database) {
        // A test fire naming a casing that is not on file is refused after
        // the firearm would have been new: neither may be stored.
        let mut bad = NewTraceEvent::new(
            "lab-a",
            0,
            TraceEventKind::TestFire,
            "2024-03-01".parse().unwrap(),
            "t",
        );
        bad.casing_pk = Some(999);
        let err = db
            .insert_trace(&TraceFirearm::New(Box::new(gun("AB123"))), &bad)
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::CasingNotFound(_)), "{err}");
        let mut half = recovery(None);
        half.latitude = Some(12.0);
        let err = db
            .insert_trace(&TraceFirearm::New(Box::new(gun("AB123"))), &half)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("latitude and longitude"), "{err}");
        assert_eq!(db.count_firearms().await.unwrap(), 0);

        let (firearm, event) = db
            .insert_trace(
                &TraceFirearm::New(Box::new(gun("AB123"))),
                &recovery(Some("T-1")),
            )
            .await
            .unwrap();
        assert_eq!(event.firearm_id, firearm.id);
        assert_eq!(event.trace_number.as_deref(), Some("T-1"));
        let found = db.event_by_trace_number("lab-a", "T-1").await.unwrap();
        assert_eq!(found, Some(event));
        assert_eq!(
            db.event_by_trace_number("lab-b", "T-1").await.unwrap(),
            None
        );
        // The database keeps a trace number unique per agency even if a
        // caller skips the lookup.
        assert!(db
            .insert_trace(&TraceFirearm::OnFile(firearm.id), &recovery(Some("T-1")))
            .await
            .is_err());
        assert_eq!(db.trace_events(firearm.id).await.unwrap().len(), 1);
    }

    on_both_backends!(a_refused_trace_leaves_no_firearm);
}
