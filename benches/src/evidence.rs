//! The evidence store: putting and getting real scans (the Weller X3P files)
//! through `EvidenceStore`, in a folder and, when one is named, in an
//! S3-compatible bucket, against writing (fsynced) and reading the same
//! bytes as plain files.
//!
//! The bucket is named as the command line names it:
//! `CASETRACE_EVIDENCE_S3_{BUCKET,ENDPOINT,REGION}` and the key in
//! `CASETRACE_EVIDENCE_S3_{ACCESS_KEY_ID,SECRET_ACCESS_KEY}`. Each run
//! writes under a fresh prefix, so every put is a first write.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use casetrace_engine::store::{sha256_hex, EvidenceStore};
use casetrace_engine::{EvidenceLocation, S3Credentials, S3Location};

use crate::report::{ratio, Report};
use crate::stats::{timed, Summary};

#[derive(Debug, clap::Args)]
pub struct EvidenceArgs {
    /// Folder of X3P scans (the Weller set by default).
    #[arg(long, default_value = "../shared/data/weller")]
    scans: PathBuf,
    /// How many of its files to put and get.
    #[arg(long, default_value_t = 20)]
    files: usize,
}

/// Larger than any scan of the set: the engine's own read limit.
const READ_LIMIT: u64 = 256 * 1024 * 1024;

pub fn run(args: &EvidenceArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    let scans = scan_files(&args.scans, args.files)?;
    let sizes: Vec<usize> = scans.iter().map(Vec::len).collect();
    let mean_bytes = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    let scratch = tempfile::tempdir()?;
    let mut report = Report::new("evidence", json_mode);

    let (mut write_t, mut read_t) = (Vec::new(), Vec::new());
    for (i, bytes) in scans.iter().enumerate() {
        let path = scratch.path().join(format!("plain-{i}"));
        timed(&mut write_t, || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&path)?;
            f.write_all(bytes)?;
            f.sync_all()
        })?;
        timed(&mut read_t, || std::fs::read(&path).map(|b| sha256_hex(&b)))?;
    }
    let baseline = (Summary::of(&mut write_t), Summary::of(&mut read_t));

    let runtime = tokio::runtime::Runtime::new()?;
    let mut stores = vec![(
        "folder",
        EvidenceStore::local(scratch.path().join("evidence"), READ_LIMIT)?,
    )];
    if let Some(bucket) = bucket_from_env()? {
        let store = runtime.block_on(EvidenceStore::open(&bucket, scratch.path(), READ_LIMIT))?;
        stores.push(("s3", store));
    }
    for (name, store) in &stores {
        let (put, get) = runtime.block_on(put_and_get(store, &scans))?;
        report.push(
            format!(
                "evidence {name} ({}): {} Weller scans of {:.0} KiB mean: put median {:.2} ms p95 {:.2} ms, \
                 get (re-hashed) median {:.2} ms p95 {:.2} ms; baseline plain file write+fsync median {:.2} ms, \
                 read+SHA-256 median {:.2} ms; ratio put/write {:.1}, get/read {:.1}",
                store.name(),
                scans.len(),
                mean_bytes / 1024.0,
                put.median_ms,
                put.p95_ms,
                get.median_ms,
                get.p95_ms,
                baseline.0.median_ms,
                baseline.1.median_ms,
                ratio(put.median_ms, baseline.0.median_ms),
                ratio(get.median_ms, baseline.1.median_ms),
            ),
            serde_json::json!({
                "store": name,
                "files": scans.len(),
                "mean_file_bytes": mean_bytes,
                "put": put.json(),
                "get": get.json(),
                "baseline_write_fsync": baseline.0.json(),
                "baseline_read_hash": baseline.1.json(),
            }),
        );
    }
    Ok(report.to_json(serde_json::json!({
        "scans": args.scans,
        "files": args.files,
    })))
}

/// Every scan put once (a first write), then every one read back.
async fn put_and_get(
    store: &EvidenceStore,
    scans: &[Vec<u8>],
) -> anyhow::Result<(Summary, Summary)> {
    let (mut put_t, mut get_t) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    let mut hashes = Vec::new();
    for bytes in scans {
        let started = std::time::Instant::now();
        let put = store.put(bytes.clone()).await?;
        put_t.push(started.elapsed());
        anyhow::ensure!(put.newly_written, "{} was on file already", put.sha256);
        hashes.push(put.sha256);
    }
    for (sha, bytes) in hashes.iter().zip(scans) {
        let started = std::time::Instant::now();
        let got = store.get(sha).await?;
        get_t.push(started.elapsed());
        anyhow::ensure!(&got == bytes, "{sha} came back different");
    }
    Ok((Summary::of(&mut put_t), Summary::of(&mut get_t)))
}

/// The first `n` `.x3p` files of `dir`, by name.
fn scan_files(dir: &Path, n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "x3p"));
    paths.sort();
    paths.truncate(n);
    anyhow::ensure!(!paths.is_empty(), "no .x3p files in {}", dir.display());
    paths
        .iter()
        .map(|p| std::fs::read(p).map_err(Into::into))
        .collect()
}

/// The bucket the environment names, under a prefix of this run's own.
fn bucket_from_env() -> anyhow::Result<Option<EvidenceLocation>> {
    let var = |name: &str| std::env::var(format!("CASETRACE_EVIDENCE_S3_{name}")).ok();
    let Some(bucket) = var("BUCKET") else {
        return Ok(None);
    };
    let credentials = match (var("ACCESS_KEY_ID"), var("SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => Some(S3Credentials {
            access_key_id,
            secret_access_key,
        }),
        (None, None) => None,
        _ => anyhow::bail!("set both CASETRACE_EVIDENCE_S3_ACCESS_KEY_ID and _SECRET_ACCESS_KEY"),
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    Ok(Some(EvidenceLocation::S3(S3Location {
        bucket,
        endpoint: var("ENDPOINT"),
        region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
        prefix: format!("bench-{}", nanos.as_nanos()),
        credentials,
    })))
}
