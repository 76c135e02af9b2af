//! Padding the scratch database with synthetic distractors: casings of
//! guns that are not in the labelled set, so they are nobody's mate, and
//! are never queried. They take the same path as real scans: rendered by
//! `engine::synth` as X3P files at the labelled set's resolution, then
//! loaded by an import job (the engine's bulk path: read, prepare,
//! describe in batches, one transaction and one index save per batch).
//!
//! They are generated and loaded a chunk at a time, and each chunk's files
//! are deleted once loaded, so the source never holds more than a chunk;
//! the evidence copies stay in the scratch data directory.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context};
use casetrace_engine::bulk::ImportSource;
use casetrace_engine::reading::write_x3p;
use casetrace_engine::synth::{fire, make_gun, SynthConfig};
use casetrace_engine::Engine;

/// Every distractor's casing id starts so; labelled ids may not.
pub const PREFIX: &str = "DISTRACTOR-";
/// Firings per distractor gun (a database holds several test fires a gun).
const CASINGS_PER_GUN: usize = 5;
/// Casings generated and loaded per import job.
const CHUNK: usize = 500;

/// How the padding went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Padding {
    pub casings: usize,
    pub guns: usize,
    pub seed: u64,
    pub um_per_px: f64,
    /// Seconds rendering and writing the X3P files.
    pub generate_s: f64,
    /// Seconds in the import jobs (read, prepare, describe, store, index).
    pub import_s: f64,
    /// Casings loaded per second of import (generation excluded).
    pub import_per_s: f64,
}

/// Refuse a labelled set whose ids could be taken for distractors.
pub fn check_labels(casing_ids: impl IntoIterator<Item = impl AsRef<str>>) -> anyhow::Result<()> {
    for id in casing_ids {
        if id.as_ref().starts_with(PREFIX) {
            bail!(
                "labelled casing {:?}: ids starting with {PREFIX} are reserved for distractors",
                id.as_ref()
            );
        }
    }
    Ok(())
}

/// Load `n` distractors into the engine's database.
pub async fn pad(engine: &Engine, n: usize, seed: u64, um_per_px: f64) -> anyhow::Result<Padding> {
    let cfg = SynthConfig {
        um_per_px,
        ..SynthConfig::default()
    };
    let threads = engine.config().threads.max(1);
    let (mut generate_s, mut import_s) = (0.0, 0.0);
    for first in (0..n).step_by(CHUNK) {
        let last = (first + CHUNK).min(n);
        let folder = tempfile::tempdir().context("creating a folder for distractors")?;
        let started = Instant::now();
        let path = folder.path().to_path_buf();
        tokio::task::spawn_blocking(move || write_chunk(&path, first..last, seed, &cfg, threads))
            .await
            .context("distractor generation thread")??;
        generate_s += started.elapsed().as_secs_f64();

        let started = Instant::now();
        let label = format!("distractors {first}..{last} (seed {seed})");
        let source = ImportSource::open(folder.path()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let prepared = engine
            .prepare_import(&crate::operator("local"), source, &label)
            .await
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        let report = engine
            .run_import(prepared, &|_| {})
            .await
            .map_err(|e| anyhow::anyhow!("{label}: {e}"))?;
        if let Some(f) = report.failures.first() {
            bail!(
                "{label}: {} rows failed, first {} ({}): {}",
                report.failures.len(),
                f.casing_id,
                f.file,
                f.reason
            );
        }
        import_s += started.elapsed().as_secs_f64();
        eprintln!(
            "distractors: {last} of {n} loaded ({:.0} s generating, {:.0} s importing)",
            generate_s, import_s
        );
    }
    Ok(Padding {
        casings: n,
        guns: n.div_ceil(CASINGS_PER_GUN),
        seed,
        um_per_px,
        generate_s,
        import_s,
        import_per_s: n as f64 / import_s.max(1e-9),
    })
}

/// Render distractors `range` (global casing numbers) into `dir` with a
/// manifest.csv, on `threads` threads, one gun at a time per thread.
fn write_chunk(
    dir: &Path,
    range: std::ops::Range<usize>,
    seed: u64,
    cfg: &SynthConfig,
    threads: usize,
) -> anyhow::Result<()> {
    let guns: Vec<usize> =
        (range.start / CASINGS_PER_GUN..range.end.div_ceil(CASINGS_PER_GUN)).collect();
    let next = AtomicUsize::new(0);
    let rows = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<Vec<String>> {
                    let mut rows = Vec::new();
                    while let Some(&g) = guns.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let gun = make_gun(mix(seed, g as u64, 0), None, cfg);
                        for c in 0..CASINGS_PER_GUN {
                            let k = g * CASINGS_PER_GUN + c;
                            if !range.contains(&k) {
                                continue;
                            }
                            let scan = fire(&gun, mix(seed, g as u64, c as u64 + 1), cfg);
                            let id = format!("{PREFIX}{:05}-{:02}", g + 1, c + 1);
                            let file = format!("{id}.x3p");
                            std::fs::write(dir.join(&file), write_x3p(&scan))
                                .with_context(|| format!("writing {file}"))?;
                            rows.push(format!("{file},{id},local,{}", g + 1));
                        }
                    }
                    Ok(rows)
                })
            })
            .collect();
        let mut rows = Vec::new();
        for w in workers {
            rows.extend(
                w.join()
                    .map_err(|_| anyhow::anyhow!("distractor worker panicked"))??,
            );
        }
        Ok::<_, anyhow::Error>(rows)
    })?;
    let mut manifest = std::fs::File::create(dir.join("manifest.csv"))?;
    writeln!(manifest, "file,casing_id,agency,distractor_gun")?;
    for row in rows {
        writeln!(manifest, "{row}")?;
    }
    Ok(())
}

/// Seeds of distractor guns and shots, mixed (SplitMix64's finaliser) so
/// they share no seed with `casetrace synth`'s sets, which count up from
/// small numbers.
fn mix(seed: u64, gun: u64, shot: u64) -> u64 {
    let mut z = seed
        ^ 0xD157_AC70_0000_0000
        ^ gun.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ shot.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_ids_may_not_look_like_distractors() {
        assert!(check_labels(["TW01-01", "S00001-01"]).is_ok());
        let err = check_labels(["TW01-01", "DISTRACTOR-00001-01"]).unwrap_err();
        assert!(err.to_string().contains("DISTRACTOR-00001-01"), "{err}");
    }
}
