//! The database half of `scale`: `n` casings written straight into a
//! fresh SQLite database (bulk inserts, as an import would leave them:
//! casing rows, features with the descriptor and a comparison canvas, and
//! the change feed), its bytes per casing, the engine's start-up on it
//! (rebuilding the index from the database), and end-to-end candidate
//! queries with `fine` comparisons each, for a caller restricted to a
//! tenth of the agencies and, where every casing has a real canvas, for
//! the operator seeing all.

use std::path::Path;
use std::time::{Duration, Instant};

use casetrace_engine::access::{AgencyRecord, Principal, Role, Scope};
use casetrace_engine::comparison::encode_canvas;
use casetrace_engine::description::DescriptorModel;
use casetrace_engine::preprocessing::{MARKS_VERSION, PIPELINE_VERSION};
use casetrace_engine::reading::InputFormat;
use casetrace_engine::service::analyse;
use casetrace_engine::store::DEFAULT_SQLITE_FILE;
use casetrace_engine::{Engine, EngineConfig, Surface, SurfaceKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

use crate::report::{ratio, Report};
use crate::scale::{agency_name, Collection, ScaleArgs};
use crate::stats::Summary;

/// Rows per transaction of the bulk load.
const LOAD_BATCH: usize = 5_000;

/// A prepared real scan's stored bytes: its canvas and pin mark.
struct Canvas {
    surface: Vec<u8>,
    pin_mark: Option<Vec<u8>>,
}

pub fn measure(
    args: &ScaleArgs,
    c: &Collection,
    dir: &Path,
    report: &mut Report,
) -> anyhow::Result<serde_json::Value> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let mut cfg = EngineConfig::new(dir);
    cfg.shortlist = args.fine;
    // The shortlist path is what this measures, at every size.
    cfg.compare_all_up_to = 0;
    let canvases = real_canvases(args, &cfg)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(measure_async(args, c, cfg, &canvases, report))
}

/// Canvases of the real scans (prepared as on submission), to be shared
/// out over the casings: the fine comparison's cost is that of real data.
fn real_canvases(args: &ScaleArgs, cfg: &EngineConfig) -> anyhow::Result<Vec<Canvas>> {
    let model = DescriptorModel::load(&cfg.model, &cfg.runtime_library, 1)?;
    let mut paths: Vec<_> = std::fs::read_dir(&args.scans)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.scans.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "x3p"))
        .collect();
    paths.sort();
    paths.truncate(24);
    anyhow::ensure!(!paths.is_empty(), "{}: no .x3p scans", args.scans.display());
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p)?;
            let a = analyse(
                &bytes,
                &p.display().to_string(),
                None,
                &cfg.limits,
                &cfg.preprocess,
                &model,
            )?;
            Ok(Canvas {
                surface: encode_canvas(&a.canvas),
                pin_mark: a.pin_mark.as_ref().map(encode_canvas),
            })
        })
        .collect()
}

async fn measure_async(
    args: &ScaleArgs,
    c: &Collection,
    cfg: EngineConfig,
    canvases: &[Canvas],
    report: &mut Report,
) -> anyhow::Result<serde_json::Value> {
    let n = c.entries.len();
    let model_version = {
        let model = DescriptorModel::load(&cfg.model, &cfg.runtime_library, 1)?;
        model.spec().model_version.clone()
    };
    // The schema, agencies and agreements through the engine's own door.
    let operator = cfg.open_operator().await?;
    let admin = |agency: &str| Principal::local_admin(agency, "scale benchmark set-up");
    for a in 0..args.agencies {
        let record = AgencyRecord {
            id: agency_name(a),
            name: format!("Agency {a}"),
            country: "US".into(),
            identifier: None,
        };
        operator.register_agency(&admin("local"), &record).await?;
    }
    let viewer = c.restricted[0].clone();
    for owner in &c.restricted[1..] {
        operator.grant(&admin(owner), &viewer, Scope::View).await?;
    }
    operator.close().await;

    let file = cfg.data_dir.join(DEFAULT_SQLITE_FILE);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::new().filename(&file))
        .await?;
    let started = Instant::now();
    bulk_load(&pool, args, c, &model_version, canvases).await?;
    let load_s = started.elapsed().as_secs_f64();
    // The query the engine ran per restricted search before the agency
    // id sets: every permitted casing id, from the database.
    let mut old_restriction = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let ids = permitted_ids(&pool, &c.restricted).await?;
        old_restriction.push(t.elapsed());
        std::hint::black_box(ids);
    }
    let old_restriction = Summary::of(&mut old_restriction);
    pool.close().await;
    let db_bytes = file_bytes(&file) + file_bytes(&file.with_extension("sqlite3-wal"));
    let canvas_rows = n.min(args.canvas_rows);
    report.note(format!(
        "n={n}: bulk load {load_s:.1} s ({:.0} casings/s); database {:.1} MB, {:.0} bytes a casing \
         ({canvas_rows} with a full canvas); the old per-query database read of the permitted ids \
         median {:.2} ms p95 {:.2}",
        n as f64 / load_s,
        db_bytes as f64 / 1e6,
        db_bytes as f64 / n as f64,
        old_restriction.median_ms,
        old_restriction.p95_ms
    ));

    let started = Instant::now();
    let engine = Engine::open(cfg).await?;
    let open_s = started.elapsed().as_secs_f64();
    let kind = engine.index_kind()?;
    report.note(format!(
        "n={n}: engine opened in {open_s:.1} s, rebuilding a {kind} index of {} from the database",
        engine.indexed_count()?
    ));

    let restricted = Principal::key_holder(&c.restricted[0], "bench", None, vec![Role::Examiner]);
    let everyone = Principal::local_admin("local", "scale benchmark: every agency");
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0xe2e);
    // Queries among the casings with real canvases (and, for the
    // restricted caller, of its agencies).
    let pick = |rng: &mut ChaCha8Rng, only: Option<&[String]>| loop {
        let i = rng.random_range(0..canvas_rows);
        if only.is_none_or(|agencies| agencies.contains(&c.entries[i].agency)) {
            return i;
        }
    };
    let mut results = serde_json::Map::new();
    let mut medians = Vec::new();
    let callers: Vec<(&str, &Principal, Option<&[String]>)> = if n <= args.canvas_rows {
        vec![
            ("everyone", &everyone, None),
            ("restricted", &restricted, Some(c.restricted.as_slice())),
        ]
    } else {
        // Past `canvas_rows` other agencies' casings hold placeholders:
        // only the restricted caller's queries compare real canvases.
        vec![("restricted", &restricted, Some(c.restricted.as_slice()))]
    };
    for (name, caller, only) in callers {
        let (mut total, mut search, mut load, mut compare) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut compared = 0;
        for _ in 0..args.e2e_queries {
            let i = pick(&mut rng, only);
            let e = &c.entries[i];
            let t = Instant::now();
            let list = engine
                .candidates(caller, Some(&e.agency), &casing_id(i), args.fine)
                .await?;
            total.push(t.elapsed());
            search.push(Duration::from_secs_f64(list.timings.search_s));
            load.push(Duration::from_secs_f64(list.timings.load_s));
            compare.push(Duration::from_secs_f64(list.timings.compare_s));
            compared += list.candidates.len();
            if let Some(agencies) = only {
                anyhow::ensure!(
                    list.candidates
                        .iter()
                        .all(|cand| agencies.contains(&cand.casing.agency)),
                    "a restricted caller was offered another agency's casing"
                );
            }
        }
        let (t, s, l, f) = (
            Summary::of(&mut total),
            Summary::of(&mut search),
            Summary::of(&mut load),
            Summary::of(&mut compare),
        );
        medians.push(t.median_ms);
        report.note(format!(
            "n={n} end-to-end ({name}, {} fine comparisons asked): median {:.1} ms p95 {:.1}; \
             index search median {:.2} ms p95 {:.2}, load median {:.1} ms, compare median {:.1} ms; \
             {:.1} candidates a query",
            args.fine,
            t.median_ms,
            t.p95_ms,
            s.median_ms,
            s.p95_ms,
            l.median_ms,
            f.median_ms,
            compared as f64 / args.e2e_queries as f64
        ));
        results.insert(
            name.to_string(),
            serde_json::json!({
                "total": t.json(), "search": s.json(), "load": l.json(), "compare": f.json(),
                "candidates_per_query": compared as f64 / args.e2e_queries as f64,
            }),
        );
    }
    if let [everyone, restricted] = medians[..] {
        report.note(format!(
            "n={n} end-to-end restricted / everyone median ratio {:.3}",
            ratio(restricted, everyone)
        ));
    }
    engine.close().await;
    Ok(serde_json::json!({
        "bulk_load_s": load_s,
        "casings_per_s": n as f64 / load_s,
        "database_bytes": db_bytes,
        "bytes_per_casing": db_bytes as f64 / n as f64,
        "full_canvas_casings": canvas_rows,
        "old_restriction_query": old_restriction.json(),
        "engine_open_s": open_s,
        "index_kind": kind.to_string(),
        "end_to_end": results,
    }))
}

fn casing_id(i: usize) -> String {
    format!("C{i:07}")
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

async fn permitted_ids(pool: &SqlitePool, agencies: &[String]) -> anyhow::Result<Vec<i64>> {
    let list = vec!["?"; agencies.len()].join(", ");
    let sql = format!("SELECT id FROM casings WHERE agency IN ({list})");
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
    for a in agencies {
        query = query.bind(a);
    }
    Ok(query.fetch_all(pool).await?)
}

/// Every casing's rows, `LOAD_BATCH` to a transaction, then the change
/// feed's rows as the engine's writes leave them.
async fn bulk_load(
    pool: &SqlitePool,
    args: &ScaleArgs,
    c: &Collection,
    model_version: &str,
    canvases: &[Canvas],
) -> anyhow::Result<()> {
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(pool)
        .await?;
    let placeholder = encode_canvas(&Surface {
        width: 1,
        height: 1,
        values: vec![0.0],
        valid: vec![false],
        um_per_px: 25.0,
        kind: SurfaceKind::Topography,
    });
    for (b, batch) in c.entries.chunks(LOAD_BATCH).enumerate() {
        let mut tx = pool.begin().await?;
        for (j, e) in batch.iter().enumerate() {
            let i = b * LOAD_BATCH + j;
            sqlx::query(
                "INSERT INTO casings (id, agency, casing_id, sha256, file_name, format, surface_kind, \
                 kind, um_per_px, width, height, submitted_by) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'evidence', 3.125, 2048, 2048, 'bench')",
            )
            .bind(e.id)
            .bind(&e.agency)
            .bind(casing_id(i))
            .bind(format!("{:064x}", e.id))
            .bind(format!("{}.x3p", casing_id(i)))
            .bind(InputFormat::X3p.as_str())
            .bind(SurfaceKind::Topography.as_str())
            .execute(&mut *tx)
            .await?;
            let (surface, pin_mark) = if i < args.canvas_rows {
                let canvas = &canvases[i % canvases.len()];
                (canvas.surface.as_slice(), canvas.pin_mark.as_deref())
            } else {
                (placeholder.as_slice(), None)
            };
            let descriptor: Vec<u8> = e.descriptor.iter().flat_map(|v| v.to_le_bytes()).collect();
            sqlx::query(
                "INSERT INTO casing_features (casing_pk, model_version, descriptor, comparison_surface, \
                 pipeline_version, pin_mark, marks_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(e.id)
            .bind(model_version)
            .bind(descriptor)
            .bind(surface)
            .bind(PIPELINE_VERSION)
            .bind(pin_mark)
            .bind(MARKS_VERSION)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    sqlx::query(
        "INSERT INTO casing_changes (casing_pk, kind) SELECT id, 'insert' FROM casings ORDER BY id",
    )
    .execute(pool)
    .await?;
    Ok(())
}
