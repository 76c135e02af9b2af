//! The database connection: embedded SQLite by default, PostgreSQL for
//! shared deployments.
//!
//! Both dialects accept `$1, $2, ...` placeholders, so every statement in
//! this module tree is one SQL string run against whichever pool is open;
//! [`on_pool!`] expands a query once per backend so nothing is written
//! twice. What genuinely differs between the dialects lives here and only
//! here: connecting, migrations, how a writing transaction begins, and how
//! a stored timestamp is decoded ([`DbTimestamp`]).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{
    PgConnectOptions, PgPool, PgPoolOptions, PgTypeInfo, PgValueFormat, PgValueRef,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteTypeInfo,
    SqliteValueRef,
};
use sqlx::{Decode, Postgres, Sqlite, Transaction, Type, TypeInfo};

use crate::error::{EngineError, Result};

/// Embedded at compile time, so a binary always carries the schema it expects.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// File name of the default database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "casetrace.sqlite3";

/// How long a SQLite writer waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 5;
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which database a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The open connection pool. Not `sqlx::Any`: that driver maps types to a
/// lowest common denominator (no BYTEA/JSONB, no TIMESTAMPTZ), so each
/// backend keeps its own typed pool and [`on_pool!`] dispatches.
#[derive(Debug, Clone)]
pub(super) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The casetrace database: casings and their stored features. Cheap to
/// clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Database {
    pub(super) pool: Pool,
}

/// Run `$body` with `$pool` bound to the open backend's concrete pool.
///
/// The body is expanded once per backend and type-checked against each, so
/// one query string serves both: `on_pool!(self, pool => sqlx::query(..)
/// .fetch_all(pool).await?)`.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::store::db::Pool::Sqlite($pool) => $body,
            $crate::store::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(super) use on_pool;

impl Database {
    /// Connect to `url` (`sqlite:PATH` / `sqlite://PATH` or
    /// `postgres://...` / `postgresql://...`) and bring its schema up to date.
    /// A SQLite file is created if missing.
    pub async fn connect(url: &str) -> Result<Database> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Self::connect_sqlite(SqliteConnectOptions::from_str(url)?).await,
            "postgres" | "postgresql" => {
                Self::connect_postgres(PgConnectOptions::from_str(url)?).await
            }
            // Only the scheme is echoed: the rest may hold a password.
            _ => Err(EngineError::Config(format!(
                "unsupported database URL scheme {scheme:?}: expected sqlite: or postgres://"
            ))),
        }
    }

    /// The embedded SQLite database at `data_dir/casetrace.sqlite3`.
    pub async fn open_default(data_dir: &Path) -> Result<Database> {
        std::fs::create_dir_all(data_dir).map_err(|e| EngineError::io(data_dir, e))?;
        Self::connect_sqlite(
            SqliteConnectOptions::new().filename(data_dir.join(DEFAULT_SQLITE_FILE)),
        )
        .await
    }

    pub(super) async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Database> {
        let options = options
            .create_if_missing(true)
            // WAL: readers never block the single writer, or it them.
            .journal_mode(SqliteJournalMode::Wal)
            // SQLite leaves foreign keys off unless asked, per connection.
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Database {
            pool: Pool::Sqlite(pool),
        })
    }

    pub(super) async fn connect_postgres(options: PgConnectOptions) -> Result<Database> {
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_MAX_CONNECTIONS)
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        // sqlx takes an advisory lock here, so engines starting together
        // against one server migrate once.
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(Database {
            pool: Pool::Postgres(pool),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Close every connection, waiting for queries in flight.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// Beginning a transaction that will write.
pub(super) trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;

    /// `BEGIN IMMEDIATE` takes the write lock up front. A plain (deferred)
    /// transaction that reads and then writes fails with SQLITE_BUSY, without
    /// waiting, when another writer committed after its read; taking the
    /// lock first makes writers queue on the busy timeout instead.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;

    /// READ COMMITTED suffices: races between writers end at the unique
    /// constraints, which the callers handle.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// A point in time as stored by either dialect: RFC 3339 text in SQLite,
/// TIMESTAMPTZ in PostgreSQL.
///
/// Decoded here rather than through sqlx's own chrono support so the
/// workspace needs no extra sqlx feature; reading only, since the database
/// sets every stored time itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DbTimestamp(pub DateTime<Utc>);

impl Type<Sqlite> for DbTimestamp {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTimestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(DbTimestamp(
            DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc),
        ))
    }
}

impl Type<Postgres> for DbTimestamp {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_name("timestamptz")
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        ty.name() == "TIMESTAMPTZ"
    }
}

impl<'r> Decode<'r, Postgres> for DbTimestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            // Binary TIMESTAMPTZ: microseconds since 2000-01-01 00:00 UTC.
            PgValueFormat::Binary => {
                let micros = <i64 as Decode<Postgres>>::decode(value)?;
                let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .ok_or("PostgreSQL epoch out of range")?;
                let at = epoch
                    .checked_add_signed(chrono::Duration::microseconds(micros))
                    .ok_or_else(|| format!("TIMESTAMPTZ {micros} µs out of range"))?;
                Ok(DbTimestamp(Utc.from_utc_datetime(&at)))
            }
            // Text appears only for simple-protocol queries; the session's
            // output style is ISO with a numeric offset (e.g. `+00`).
            PgValueFormat::Text => {
                let text = value.as_str()?;
                let at = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z")?;
                Ok(DbTimestamp(at.with_timezone(&Utc)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{on_both_backends, sqlite_in_tempdir};
    use super::*;

    #[tokio::test]
    async fn open_default_creates_the_file_and_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_default(dir.path()).await.unwrap();
        assert_eq!(db.backend(), Backend::Sqlite);
        assert!(dir.path().join(DEFAULT_SQLITE_FILE).is_file());
        assert_eq!(db.count_casings().await.unwrap(), 0);
        db.close().await;
        // Re-opening runs the (already applied) migrations again harmlessly.
        let db = Database::open_default(dir.path()).await.unwrap();
        assert_eq!(db.count_casings().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn connect_accepts_a_sqlite_url_and_rejects_other_schemes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("x.sqlite3").display());
        let db = Database::connect(&url).await.unwrap();
        assert_eq!(db.backend(), Backend::Sqlite);
        let err = Database::connect("mysql://user:secret@host/db")
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Config(_)), "{err}");
        assert!(
            !err.to_string().contains("secret"),
            "the URL's password leaked: {err}"
        );
    }

    #[tokio::test]
    async fn sqlite_pragmas_are_set() {
        let (db, _dir) = sqlite_in_tempdir().await;
        let Pool::Sqlite(pool) = &db.pool else {
            unreachable!()
        };
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
    }

    /// The timestamp the database sets reads back as a recent UTC time.
    async fn submitted_at_is_set_by_the_database(db: &Database) {
        let now: DbTimestamp = on_pool!(db, pool => {
            let sql = match db.backend() {
                Backend::Sqlite => "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                Backend::Postgres => "SELECT now()",
            };
            sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
        });
        let skew = (Utc::now() - now.0).num_seconds().abs();
        assert!(
            skew < 60,
            "database clock read back {} (off by {skew} s)",
            now.0
        );

        // PostgreSQL sends text instead of binary for simple-protocol
        // queries (raw_sql), in the session's time zone.
        if let Pool::Postgres(pool) = &db.pool {
            use sqlx::Row;
            let row = sqlx::raw_sql("SELECT '2024-03-01 12:34:56.789+05:30'::timestamptz")
                .fetch_one(pool)
                .await
                .unwrap();
            let at: DbTimestamp = row.try_get(0).unwrap();
            assert_eq!(at.0.to_rfc3339(), "2024-03-01T07:04:56.789+00:00");
        }
    }

    on_both_backends!(submitted_at_is_set_by_the_database);
}
