//! Agencies, API keys and sharing agreements: the rows behind
//! [`crate::access`], which defines the records and their rules.

use sqlx::{AssertSqlSafe, FromRow};

use super::db::{on_pool, Database};
use crate::access::policy::visible_to;
use crate::access::{AgencyRecord, AgreementRecord, ApiKeyRecord, Role, Scope};
use crate::error::{EngineError, Result};

/// An `agencies` row as stored.
#[derive(FromRow)]
struct AgencyRow {
    id: String,
    name: String,
    country: String,
    identifier: Option<String>,
}

impl From<AgencyRow> for AgencyRecord {
    fn from(r: AgencyRow) -> Self {
        AgencyRecord {
            id: r.id,
            name: r.name,
            country: r.country,
            identifier: r.identifier,
        }
    }
}

#[derive(FromRow)]
struct KeyRow {
    id: String,
    agency: String,
    holder: String,
    roles: String,
    secret_sha256: String,
    expires_at: String,
    revoked_at: Option<String>,
}

impl TryFrom<KeyRow> for ApiKeyRecord {
    type Error = EngineError;

    fn try_from(r: KeyRow) -> Result<Self> {
        Ok(ApiKeyRecord {
            roles: Role::parse_list(&r.roles)?,
            id: r.id,
            agency: r.agency,
            holder: r.holder,
            secret_sha256: r.secret_sha256,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

const KEY_COLUMNS: &str =
    "SELECT id, agency, holder, roles, secret_sha256, expires_at, revoked_at FROM api_keys";

impl Database {
    /// Register an agency. Registering one already on file with the same
    /// details is a no-op; different details are refused.
    pub async fn insert_agency(&self, agency: &AgencyRecord) -> Result<AgencyRecord> {
        agency.check()?;
        if let Some(existing) = self.agency(&agency.id).await? {
            return if &existing == agency {
                Ok(existing)
            } else {
                Err(EngineError::InvalidMetadata {
                    field: "agency".into(),
                    reason: format!(
                        "agency {:?} is already registered with other details",
                        agency.id
                    ),
                })
            };
        }
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO agencies (id, name, country, identifier) VALUES ($1, $2, $3, $4)")
                .bind(&agency.id)
                .bind(&agency.name)
                .bind(&agency.country)
                .bind(&agency.identifier)
                .execute(pool)
                .await?;
        });
        Ok(agency.clone())
    }

    pub async fn agency(&self, id: &str) -> Result<Option<AgencyRecord>> {
        let row: Option<AgencyRow> = on_pool!(self, pool =>
            sqlx::query_as("SELECT id, name, country, identifier FROM agencies WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?);
        Ok(row.map(AgencyRecord::from))
    }

    pub async fn agencies(&self) -> Result<Vec<AgencyRecord>> {
        let rows: Vec<AgencyRow> = on_pool!(self, pool =>
            sqlx::query_as("SELECT id, name, country, identifier FROM agencies ORDER BY id")
                .fetch_all(pool)
                .await?);
        Ok(rows.into_iter().map(AgencyRecord::from).collect())
    }

    /// Store a key (its hash only). The agency must be registered.
    pub async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        if self.agency(&key.agency).await?.is_none() {
            return Err(EngineError::NotFound(format!("agency {:?}", key.agency)));
        }
        if key.holder.trim().is_empty() || key.holder.len() > 256 {
            return Err(EngineError::InvalidMetadata {
                field: "holder".into(),
                reason: "a key's holder is 1-256 characters".into(),
            });
        }
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO api_keys (id, agency, holder, roles, secret_sha256, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&key.id)
            .bind(&key.agency)
            .bind(&key.holder)
            .bind(Role::join(&key.roles))
            .bind(&key.secret_sha256)
            .bind(&key.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        let sql = format!("{KEY_COLUMNS} WHERE id = $1");
        let row: Option<KeyRow> = on_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql.clone())).bind(id).fetch_optional(pool).await?);
        row.map(TryInto::try_into).transpose()
    }

    /// Keys of one agency, or of all when `None`.
    pub async fn api_keys(&self, agency: Option<&str>) -> Result<Vec<ApiKeyRecord>> {
        let sql = format!("{KEY_COLUMNS} WHERE $1 IS NULL OR agency = $1 ORDER BY agency, id");
        let rows: Vec<KeyRow> = on_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql.clone())).bind(agency).fetch_all(pool).await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Revoke a key from `at` (RFC 3339) on; revoking twice keeps the
    /// first time. Returns the key as now stored.
    pub async fn revoke_api_key(&self, id: &str, at: &str) -> Result<ApiKeyRecord> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(pool)
                .await?;
        });
        self.api_key(id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("key {id:?}")))
    }

    /// Record an agreement; granting one already on file is a no-op.
    pub async fn grant(&self, agreement: &AgreementRecord, by: &str) -> Result<()> {
        agreement.check()?;
        for id in [&agreement.owner, &agreement.grantee] {
            if self.agency(id).await?.is_none() {
                return Err(EngineError::NotFound(format!("agency {id:?}")));
            }
        }
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO sharing_agreements (owner, grantee, scope, created_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(&agreement.owner)
            .bind(&agreement.grantee)
            .bind(agreement.scope.as_str())
            .bind(by)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// End an agreement; true if there was one.
    pub async fn revoke_agreement(&self, agreement: &AgreementRecord) -> Result<bool> {
        let done = on_pool!(self, pool =>
            sqlx::query("DELETE FROM sharing_agreements WHERE owner = $1 AND grantee = $2 AND scope = $3")
                .bind(&agreement.owner)
                .bind(&agreement.grantee)
                .bind(agreement.scope.as_str())
                .execute(pool)
                .await?
                .rows_affected());
        Ok(done > 0)
    }

    /// Agreements an agency is party to (as owner or grantee).
    pub async fn agreements(&self, agency: &str) -> Result<Vec<AgreementRecord>> {
        let rows: Vec<(String, String, String)> = on_pool!(self, pool =>
            sqlx::query_as(
                "SELECT owner, grantee, scope FROM sharing_agreements \
                 WHERE owner = $1 OR grantee = $1 ORDER BY owner, grantee, scope",
            )
            .bind(agency)
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|(owner, grantee, scope)| {
                Ok(AgreementRecord {
                    owner,
                    grantee,
                    scope: scope.parse()?,
                })
            })
            .collect()
    }

    /// The agencies whose records `grantee` may use under `scope`: itself
    /// and every owner that granted it, sorted.
    pub async fn visible_agencies(&self, grantee: &str, scope: Scope) -> Result<Vec<String>> {
        Ok(visible_to(grantee, &self.agreements(grantee).await?, scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::on_both_backends;

    fn agency(id: &str, country: &str) -> AgencyRecord {
        AgencyRecord {
            id: id.into(),
            name: format!("{id} police"),
            country: country.into(),
            identifier: None,
        }
    }

    async fn agreements_decide_what_each_agency_sees(db: &Database) {
        for (id, c) in [("de-bka", "DE"), ("fr-pts", "FR"), ("nl-nfi", "NL")] {
            db.insert_agency(&agency(id, c)).await.unwrap();
        }
        // Registering again with the same details is harmless; other
        // details are refused.
        db.insert_agency(&agency("de-bka", "DE")).await.unwrap();
        assert!(db.insert_agency(&agency("de-bka", "AT")).await.is_err());
        assert!(db.insert_agency(&agency("Bad Id", "DE")).await.is_err());
        assert!(db.insert_agency(&agency("x", "Germany")).await.is_err());

        let grant = |owner: &str, grantee: &str, scope| AgreementRecord {
            owner: owner.into(),
            grantee: grantee.into(),
            scope,
        };
        db.grant(&grant("de-bka", "fr-pts", Scope::Correlate), "admin")
            .await
            .unwrap();
        db.grant(&grant("nl-nfi", "fr-pts", Scope::View), "admin")
            .await
            .unwrap();
        db.grant(&grant("nl-nfi", "fr-pts", Scope::View), "admin")
            .await
            .unwrap();
        assert!(db
            .grant(&grant("fr-pts", "fr-pts", Scope::View), "a")
            .await
            .is_err());
        assert!(db
            .grant(&grant("fr-pts", "xx", Scope::View), "a")
            .await
            .is_err());

        let sees = |scope| db.visible_agencies("fr-pts", scope);
        assert_eq!(
            sees(Scope::Correlate).await.unwrap(),
            ["de-bka", "fr-pts", "nl-nfi"]
        );
        assert_eq!(sees(Scope::View).await.unwrap(), ["fr-pts", "nl-nfi"]);
        assert_eq!(sees(Scope::Traces).await.unwrap(), ["fr-pts"]);
        assert_eq!(
            db.visible_agencies("de-bka", Scope::Correlate)
                .await
                .unwrap(),
            ["de-bka"]
        );
        assert!(db
            .revoke_agreement(&grant("de-bka", "fr-pts", Scope::Correlate))
            .await
            .unwrap());
        assert_eq!(sees(Scope::Correlate).await.unwrap(), ["fr-pts", "nl-nfi"]);
        assert_eq!(db.agreements("nl-nfi").await.unwrap().len(), 1);
    }

    async fn keys_store_only_a_hash_and_revoke_once(db: &Database) {
        db.insert_agency(&agency("de-bka", "DE")).await.unwrap();
        let key = ApiKeyRecord {
            id: "0123456789abcdef".into(),
            agency: "de-bka".into(),
            holder: "examiner 7".into(),
            roles: vec![Role::Examiner],
            secret_sha256: "ab".repeat(32),
            expires_at: "2030-01-01T00:00:00.000Z".into(),
            revoked_at: None,
        };
        db.insert_api_key(&key).await.unwrap();
        assert_eq!(db.api_key(&key.id).await.unwrap(), Some(key.clone()));
        let mut other = key.clone();
        other.id = "fedcba9876543210".into();
        other.agency = "nowhere".into();
        assert!(db.insert_api_key(&other).await.is_err());
        let first = db
            .revoke_api_key(&key.id, "2026-01-01T00:00:00.000Z")
            .await
            .unwrap();
        let again = db
            .revoke_api_key(&key.id, "2027-01-01T00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(
            first.revoked_at.as_deref(),
            Some("2026-01-01T00:00:00.000Z")
        );
        assert_eq!(again.revoked_at, first.revoked_at);
        assert_eq!(db.api_keys(Some("de-bka")).await.unwrap().len(), 1);
        assert!(db
            .revoke_api_key("nope", "2026-01-01T00:00:00.000Z")
            .await
            .is_err());
    }

    on_both_backends!(
        agreements_decide_what_each_agency_sees,
        keys_store_only_a_hash_and_revoke_once
    );
}
