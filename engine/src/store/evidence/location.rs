//! Where the evidence files live, and opening that place as an object store:
//! a folder of the data directory (the embedded default) or a bucket of any
//! S3-compatible store, which every node of a shared deployment reads.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, Checksum, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::{ObjectStore, RetryConfig};

use crate::error::{EngineError, Result};

/// Where the evidence files live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EvidenceLocation {
    /// `evidence/` in the data directory: the zero-configuration default,
    /// for one node (or nodes sharing that folder).
    #[default]
    Local,
    /// A bucket of an S3-compatible store, shared by every node.
    S3(S3Location),
}

/// A bucket of an S3-compatible store (AWS S3, SeaweedFS, Garage, Ceph's
/// radosgw, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// The server's URL, e.g. `https://s3.lab.example:8333`; `None`: AWS
    /// itself, in `region`. Plain `http://` is used as written: only for
    /// loopback or a network the lab trusts, since evidence then travels
    /// unencrypted (requests are still signed).
    pub endpoint: Option<String>,
    /// Signing region (most S3-compatible servers accept any; AWS needs the
    /// bucket's).
    pub region: String,
    /// Objects are stored under `<prefix>/sha256/…`; empty: at the bucket's
    /// root. Lets deployments (or tests) share a bucket.
    pub prefix: String,
    /// `None`: the usual AWS sources (`AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`, a web identity, instance metadata).
    pub credentials: Option<S3Credentials>,
}

/// A static S3 access key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Never prints the secret: configurations are logged and shown in errors.
impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl S3Location {
    /// `s3://bucket/prefix`, as people name the place in messages.
    pub fn url(&self) -> String {
        match self.prefix.trim_matches('/') {
            "" => format!("s3://{}", self.bucket),
            prefix => format!("s3://{}/{prefix}", self.bucket),
        }
    }
}

/// An opened location: the store, the prefix its keys start with, and how
/// people name it.
pub(super) struct Opened {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: String,
    /// The folder, for a local store (its objects are files there).
    pub local_root: Option<PathBuf>,
    /// `s3://bucket`, for a bucket: an object's URL is this and its key.
    pub bucket_url: Option<String>,
    pub name: String,
}

/// Open `location`; `Local` is `evidence/` under `data_dir`, created if
/// missing.
pub(super) fn open(location: &EvidenceLocation, data_dir: &Path) -> Result<Opened> {
    match location {
        EvidenceLocation::Local => open_local(&data_dir.join("evidence")),
        EvidenceLocation::S3(s3) => open_s3(s3),
    }
}

/// The folder `root` as a store whose keys are its relative paths, so the
/// layout is the one casetrace always wrote (`sha256/ab/cd/<sha>`) and
/// existing data directories keep working.
pub(super) fn open_local(root: &Path) -> Result<Opened> {
    std::fs::create_dir_all(root).map_err(|e| EngineError::io(root, e))?;
    let store = LocalFileSystem::new_with_prefix(root)
        .map_err(|e| EngineError::Config(format!("evidence folder {}: {e}", root.display())))?
        // A put returns only once the file and its directory entry are on
        // disk, as a remote store's acknowledgement promises.
        .with_fsync(true);
    Ok(Opened {
        store: Arc::new(store),
        prefix: String::new(),
        local_root: Some(root.to_path_buf()),
        bucket_url: None,
        name: root.display().to_string(),
    })
}

/// Failing requests are retried a few times, briefly: a submission waits
/// on its evidence write, and an unreachable store should say so within
/// seconds rather than after object_store's default three minutes.
const S3_RETRIES: usize = 3;
const S3_RETRY_TIMEOUT: Duration = Duration::from_secs(20);

fn open_s3(s3: &S3Location) -> Result<Opened> {
    if s3.bucket.is_empty() {
        return Err(EngineError::Config(
            "S3 evidence store: no bucket named".into(),
        ));
    }
    // reqwest is built with rustls but no bundled crypto provider (see the
    // workspace manifest): ring is the one the server's TLS uses too. An
    // error means one is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let retry = RetryConfig {
        max_retries: S3_RETRIES,
        retry_timeout: S3_RETRY_TIMEOUT,
        ..RetryConfig::default()
    };
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_region(&s3.region)
        .with_retry(retry)
        // Writes send `If-None-Match: *`: an object on file is never
        // replaced, even by two nodes writing the same key at once.
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        // The body's SHA-256 goes into every request's signature (never
        // the environment's AWS_UNSIGNED_PAYLOAD) and, as
        // `x-amz-checksum-sha256`, into each upload: the server refuses a
        // body altered on the way and keeps the checksum with the object.
        .with_unsigned_payload(false)
        .with_checksum_algorithm(Checksum::SHA256);
    if let Some(endpoint) = &s3.endpoint {
        let plain_http = endpoint.starts_with("http://");
        builder = builder.with_endpoint(endpoint).with_allow_http(plain_http);
    }
    if let Some(c) = &s3.credentials {
        builder = builder
            .with_access_key_id(&c.access_key_id)
            .with_secret_access_key(&c.secret_access_key);
    }
    let store = builder
        .build()
        .map_err(|e| EngineError::Config(format!("S3 evidence store {}: {e}", s3.url())))?;
    Ok(Opened {
        store: Arc::new(store),
        prefix: s3.prefix.trim_matches('/').to_string(),
        local_root: None,
        bucket_url: Some(format!("s3://{}", s3.bucket)),
        name: s3.url(),
    })
}
