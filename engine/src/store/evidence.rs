//! Original evidence files, stored content-addressed and never modified, in
//! an object store: a folder of the data directory by default, or a bucket
//! of an S3-compatible store that every node of a deployment shares
//! ([`EvidenceLocation`]).
//!
//! A file's key is `sha256/ab/cd/<64 hex digits>` (under the bucket's
//! prefix, if any), named by the SHA-256 of its bytes: identical
//! submissions share one object, and the name itself proves the content,
//! checked on every read. In a folder that is the path casetrace always
//! wrote, so existing data directories keep working; the two levels of two
//! hex digits keep any one directory to a few hundred entries even with
//! millions of files.
//!
//! Written once: a put asks the store to create the object only if it is
//! absent (`If-None-Match: *` on S3, a no-clobber hard link in a folder),
//! after a look-up that spares uploading what is on file. An object on file
//! is never overwritten, only checked. Files in a folder are also made
//! read-only, a guard against edits by people and tools on the host.
//!
//! The calls are async: S3 is network IO, the folder's file IO runs on
//! tokio's blocking threads (object_store does that), and so does hashing.

mod location;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use sha2::{Digest, Sha256};

use crate::error::{EngineError, EvidenceProblem, Result};

pub use location::{EvidenceLocation, S3Credentials, S3Location};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuse anything but 64 lowercase hex digits, before it is used in a
/// key or stored: a crafted value ("../..", "/etc", uppercase variants of
/// a stored name) must never reach the store.
pub(crate) fn check_sha256_hex(sha256: &str) -> Result<()> {
    let ok = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidMetadata {
            field: "sha256".into(),
            reason: format!("{sha256:?} is not 64 lowercase hex digits"),
        })
    }
}

/// The evidence files of one deployment. Cheap to clone (the store is
/// shared).
#[derive(Debug, Clone)]
pub struct EvidenceStore {
    store: Arc<dyn ObjectStore>,
    /// Prepended to every key (no slashes at either end; may be empty).
    prefix: String,
    /// The folder of a local store.
    local_root: Option<PathBuf>,
    /// `s3://bucket` of a bucket.
    bucket_url: Option<String>,
    /// The store as people name it: a folder, or `s3://bucket/prefix`.
    name: String,
    /// Larger objects are refused before they are read: no file the engine
    /// accepts is larger.
    max_read_bytes: u64,
}

/// What [`EvidenceStore::put`] stored, and whether it wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidencePut {
    pub sha256: String,
    /// True when this call created the object, false when it was on file.
    pub newly_written: bool,
}

impl EvidenceStore {
    /// Open the store at `location` (`Local`: `evidence/` under `data_dir`).
    /// A bucket is asked once for a name that is never written, so a wrong
    /// endpoint, bucket or key fails here, naming the store, rather than at
    /// the first submission.
    pub async fn open(
        location: &EvidenceLocation,
        data_dir: &std::path::Path,
        max_read_bytes: u64,
    ) -> Result<EvidenceStore> {
        let store = Self::from_opened(location::open(location, data_dir)?, max_read_bytes);
        if let EvidenceLocation::S3(_) = location {
            let probe = store.key(&"0".repeat(64));
            match store.store.head(&probe).await {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    return Err(EngineError::Config(format!(
                        "evidence store {} cannot be read: {e}",
                        store.name
                    )))
                }
            }
        }
        Ok(store)
    }

    /// The folder `root` as an evidence store (created if missing).
    pub fn local(root: impl Into<PathBuf>, max_read_bytes: u64) -> Result<EvidenceStore> {
        let opened = location::open_local(&root.into())?;
        Ok(Self::from_opened(opened, max_read_bytes))
    }

    fn from_opened(opened: location::Opened, max_read_bytes: u64) -> EvidenceStore {
        EvidenceStore {
            store: opened.store,
            prefix: opened.prefix,
            local_root: opened.local_root,
            bucket_url: opened.bucket_url,
            name: opened.name,
            max_read_bytes,
        }
    }

    /// The store as people name it: a folder, or `s3://bucket/prefix`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key of an already checked hash.
    fn key(&self, sha256: &str) -> ObjectPath {
        let relative = format!("sha256/{}/{}/{sha256}", &sha256[0..2], &sha256[2..4]);
        if self.prefix.is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!("{}/{relative}", self.prefix))
        }
    }

    /// Where the file with this hash is (whether or not it exists), as
    /// people find it: its path in a folder, its `s3://` URL in a bucket.
    pub fn location_of(&self, sha256: &str) -> Result<String> {
        check_sha256_hex(sha256)?;
        Ok(match self.local_path(sha256)? {
            Some(path) => path.display().to_string(),
            None => format!(
                "{}/{}",
                self.bucket_url.as_deref().unwrap_or_default(),
                self.key(sha256)
            ),
        })
    }

    /// The file's path when the store is a folder; `None` for a bucket.
    pub fn local_path(&self, sha256: &str) -> Result<Option<PathBuf>> {
        check_sha256_hex(sha256)?;
        Ok(self
            .local_root
            .as_ref()
            .map(|root| root.join(self.key(sha256).as_ref())))
    }

    /// Store `bytes` unless already on file. An object on file is never
    /// rewritten: evidence is never modified, only checked.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<EvidencePut> {
        let (sha256, bytes) = off_executor(move || (sha256_hex(&bytes), bytes)).await?;
        let key = self.key(&sha256);
        let len = bytes.len() as u64;
        let on_file = EvidencePut {
            sha256: sha256.clone(),
            newly_written: false,
        };
        if self.check_existing(&sha256, &key, len).await? {
            return Ok(on_file);
        }
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&key, PutPayload::from(bytes), create)
            .await
        {
            Ok(_) => {}
            // Another writer (a concurrent submission, another node) got
            // there first: keep its object, once it is the right size.
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => {
                self.check_existing(&sha256, &key, len).await?;
                return Ok(on_file);
            }
            Err(e) => return Err(self.failed(&sha256, e)),
        }
        if let Some(path) = self.local_path(&sha256)? {
            off_executor(move || make_read_only(&path).map_err(|e| EngineError::io(&path, e)))
                .await??;
        }
        Ok(EvidencePut {
            sha256,
            newly_written: true,
        })
    }

    /// True when an object of `expected_len` bytes is under `key`, false
    /// when nothing is; an error for an object of another size.
    async fn check_existing(
        &self,
        sha256: &str,
        key: &ObjectPath,
        expected_len: u64,
    ) -> Result<bool> {
        match self.store.head(key).await {
            Ok(meta) if meta.size == expected_len => Ok(true),
            Ok(meta) => Err(self.problem(
                sha256,
                EvidenceProblem::Damaged {
                    stored: meta.size,
                    expected: expected_len,
                },
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed(sha256, e)),
        }
    }

    /// The file with this hash, checked against it: an object whose bytes
    /// no longer hash to its name is reported, never returned, and one
    /// larger than any accepted file is not read.
    pub async fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        check_sha256_hex(sha256)?;
        let result = self
            .store
            .get_opts(&self.key(sha256), GetOptions::default())
            .await
            .map_err(|e| self.failed(sha256, e))?;
        let over_limit = |stored| {
            self.problem(
                sha256,
                EvidenceProblem::OverLimit {
                    stored,
                    limit: self.max_read_bytes,
                },
            )
        };
        if result.meta.size > self.max_read_bytes {
            return Err(over_limit(result.meta.size));
        }
        // Read through a cap too, should the store send more than it said.
        let mut bytes = Vec::with_capacity(result.meta.size as usize);
        let mut chunks = result.into_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| self.failed(sha256, e))?;
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > self.max_read_bytes {
                return Err(over_limit(bytes.len() as u64));
            }
        }
        let (actual, bytes) = off_executor(move || (sha256_hex(&bytes), bytes)).await?;
        if actual != sha256 {
            return Err(self.problem(sha256, EvidenceProblem::Corrupt { actual }));
        }
        Ok(bytes)
    }

    /// Whether an object with this hash is on file (not checked).
    pub async fn contains(&self, sha256: &str) -> Result<bool> {
        check_sha256_hex(sha256)?;
        match self.store.head(&self.key(sha256)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed(sha256, e)),
        }
    }

    /// Undo a [`put`](Self::put) of a failed submission: delete the object
    /// only if that put created it. The key is recomputed from the hash, so
    /// only an evidence object is ever deleted.
    pub async fn remove_if_new(&self, put: &EvidencePut) -> Result<()> {
        check_sha256_hex(&put.sha256)?;
        if !put.newly_written {
            return Ok(());
        }
        match self.store.delete(&self.key(&put.sha256)).await {
            // Already gone: the undo is done.
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed(&put.sha256, e)),
        }
    }

    /// How many evidence objects are on file (for tests and operators).
    pub async fn count(&self) -> Result<u64> {
        let root = if self.prefix.is_empty() {
            ObjectPath::from("sha256")
        } else {
            ObjectPath::from(format!("{}/sha256", self.prefix))
        };
        let mut listing = self.store.list(Some(&root));
        let mut n = 0;
        while let Some(meta) = listing.next().await {
            meta.map_err(|e| {
                EngineError::Internal(format!("listing the evidence store {}: {e}", self.name))
            })?;
            n += 1;
        }
        Ok(n)
    }

    fn problem(&self, sha256: &str, problem: EvidenceProblem) -> EngineError {
        EngineError::Evidence {
            sha256: sha256.to_string(),
            location: self
                .location_of(sha256)
                .unwrap_or_else(|_| self.name.clone()),
            problem,
        }
    }

    fn failed(&self, sha256: &str, e: object_store::Error) -> EngineError {
        let problem = match e {
            object_store::Error::NotFound { .. } => EvidenceProblem::Missing,
            other => EvidenceProblem::Store(other.to_string()),
        };
        self.problem(sha256, problem)
    }
}

/// Hashing and file-system calls on tokio's blocking threads.
async fn off_executor<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| EngineError::Internal(format!("evidence worker thread failed: {e}")))
}

/// Evidence files are never modified: read-only for everyone (0o444), a
/// guard against accidental edits by people and tools on the host.
fn make_read_only(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    let permissions = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o444)
    };
    #[cfg(not(unix))]
    let permissions = {
        let mut p = std::fs::metadata(path)?.permissions();
        p.set_readonly(true);
        p
    };
    std::fs::set_permissions(path, permissions)
}
