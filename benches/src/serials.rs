//! Serial-number search on many firearms: exact, wildcard (two unknown
//! characters) and fuzzy (one edit) through the engine's indexes, against
//! a plain scan of every serial held in memory in the same process (the
//! scan does not even pay for reading the table, so it flatters itself).

use std::time::{Duration, Instant};

use casetrace_engine::access::Agencies;
use casetrace_engine::store::Database;
use casetrace_engine::traces::{edit_distance, SerialPattern};
use casetrace_engine::traces::{NewFirearm, SerialFilters, SerialQuery};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::report::{ratio, Report};
use crate::stats::{timed, Summary};

#[derive(Debug, clap::Args)]
pub struct SerialsArgs {
    /// Firearms loaded.
    #[arg(long, default_value_t = 1_000_000)]
    firearms: usize,
    /// Queries timed per mode.
    #[arg(long, default_value_t = 50)]
    queries: usize,
    /// Also run on this PostgreSQL database, which must hold no firearms
    /// (create an empty one first, e.g. `createdb serials_bench`).
    #[arg(long)]
    postgres_url: Option<String>,
    #[arg(long, default_value_t = 11)]
    seed: u64,
}

/// Letters that do not fold (see traces::serial), so generated serials
/// stay distinct after normalising.
const LETTERS: &[u8] = b"ACDEFGHJKMNPQRTUVWXY";

fn serial(rng: &mut ChaCha8Rng) -> String {
    let mut s = String::with_capacity(9);
    for _ in 0..2 {
        s.push(LETTERS[rng.random_range(0..LETTERS.len())] as char);
    }
    for _ in 0..7 {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

async fn load(db: &Database, serials: &[String]) -> anyhow::Result<f64> {
    let started = Instant::now();
    for chunk in serials.chunks(20_000) {
        let batch: Vec<NewFirearm> = chunk
            .iter()
            .map(|s| NewFirearm {
                agency: "bench".into(),
                make: Some("Make".into()),
                calibre: Some("9mm".into()),
                serial: s.clone(),
                submitted_by: "bench".into(),
                ..NewFirearm::default()
            })
            .collect();
        db.insert_firearms_bulk(&batch).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The three query modes for one known serial.
fn queries(target: &str, rng: &mut ChaCha8Rng) -> [SerialQuery; 3] {
    let mut pattern: Vec<char> = target.chars().collect();
    // Two unreadable characters, apart, as a restored serial often has.
    pattern[1] = '?';
    pattern[5] = '?';
    let mut typo: Vec<char> = target.chars().collect();
    let at = rng.random_range(2..typo.len());
    typo[at] = if typo[at] == '7' { '3' } else { '7' };
    [
        SerialQuery::Exact {
            serial: target.into(),
        },
        SerialQuery::Pattern {
            pattern: pattern.into_iter().collect(),
        },
        SerialQuery::Fuzzy {
            serial: typo.into_iter().collect(),
            max_edits: 1,
        },
    ]
}

/// The same question answered by looking at every serial.
fn scan(all: &[(i64, String)], q: &SerialQuery) -> usize {
    match q {
        SerialQuery::Exact { serial } => all.iter().filter(|(_, s)| s == serial).count(),
        SerialQuery::Pattern { pattern } => {
            let p = SerialPattern::parse(pattern).expect("generated pattern parses");
            all.iter().filter(|(_, s)| p.matches(s)).count()
        }
        SerialQuery::Fuzzy { serial, max_edits } => all
            .iter()
            .filter(|(_, s)| edit_distance(serial, s) <= *max_edits)
            .count(),
    }
}

async fn measure(
    backend: &str,
    db: &Database,
    args: &SerialsArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let serials: Vec<String> = (0..args.firearms).map(|_| serial(&mut rng)).collect();
    let load_s = load(db, &serials).await?;
    // As an import would, rather than time the first queries against
    // PostgreSQL pages autovacuum has not reached yet.
    let started = Instant::now();
    db.settle_after_bulk_load().await?;
    let settle_s = started.elapsed().as_secs_f64();
    report.note(format!(
        "{backend}: loaded {} firearms in {load_s:.1} s ({:.0} a second), settled in {settle_s:.1} s",
        args.firearms,
        args.firearms as f64 / load_s
    ));
    let all = db.all_serials().await?;
    let none = SerialFilters::default();
    let targets: Vec<&String> = (0..args.queries)
        .map(|_| &serials[rng.random_range(0..serials.len())])
        .collect();
    let mut per_mode: Vec<(Vec<Duration>, Vec<Duration>)> = vec![Default::default(); 3];
    for target in targets {
        for (mode, q) in queries(target, &mut rng).iter().enumerate() {
            let mut found = Vec::new();
            let t = Instant::now();
            let hits = db.search_serials(q, &none, &Agencies::All).await?;
            per_mode[mode].0.push(t.elapsed());
            found.push(hits.len());
            let scanned = timed(&mut per_mode[mode].1, || scan(&all, q));
            // The index must find what the scan finds (up to the result cap).
            anyhow::ensure!(
                hits.len() == scanned.min(casetrace_engine::store::MAX_SEARCH_RESULTS),
                "{backend} {q:?}: index found {}, scan {scanned}",
                hits.len()
            );
            anyhow::ensure!(
                hits.iter().any(|m| &m.firearm.serial_normalised == target),
                "{backend} {q:?}: the target serial was not found"
            );
        }
    }
    for (mode, name) in ["exact", "wildcard_2_unknown", "fuzzy_1_edit"]
        .iter()
        .enumerate()
    {
        let (engine, baseline) = &mut per_mode[mode];
        let e = Summary::of(engine);
        let b = Summary::of(baseline);
        report.push(
            format!(
                "{backend} {name}: index median {:.3} ms (p95 {:.3}), scan median {:.1} ms, index/scan {:.4}",
                e.median_ms, e.p95_ms, b.median_ms, ratio(e.median_ms, b.median_ms)
            ),
            serde_json::json!({
                "backend": backend, "mode": name, "firearms": args.firearms,
                "load_s": load_s, "settle_s": settle_s, "index": e.json(), "scan": b.json(),
                "ratio": ratio(e.median_ms, b.median_ms),
            }),
        );
    }
    Ok(())
}

pub fn run(args: &SerialsArgs, json_mode: bool) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.firearms > 0 && args.queries > 0,
        "firearms and queries must be positive"
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let mut report = Report::new("serials", json_mode);
    runtime.block_on(async {
        let dir = tempfile::tempdir()?;
        let db = Database::open_default(dir.path()).await?;
        measure("sqlite", &db, args, &mut report).await?;
        db.close().await;
        if let Some(url) = &args.postgres_url {
            let db = Database::connect(url).await?;
            anyhow::ensure!(
                db.count_firearms().await? == 0,
                "the PostgreSQL database already holds firearms; give an empty one"
            );
            measure("postgres", &db, args, &mut report).await?;
            db.close().await;
        }
        anyhow::Ok(())
    })?;
    Ok(report.to_json(serde_json::json!({
        "firearms": args.firearms, "queries": args.queries, "seed": args.seed,
        "postgres": args.postgres_url.is_some(),
    })))
}
