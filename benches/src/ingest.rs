//! Submitting synthetic X3P scans end to end (read, prepare, describe,
//! store, index) against decoding the same bytes alone.

use std::time::Instant;

use casetrace_engine::reading::{read_surface, write_x3p, ReadLimits};
use casetrace_engine::service::Submission;
use casetrace_engine::store::CasingKind;
use casetrace_engine::synth::{fire, make_gun, SynthConfig};
use casetrace_engine::{Engine, EngineConfig};

#[derive(clap::Args)]
pub struct IngestArgs {
    #[arg(long, default_value_t = 100)]
    casings: usize,
}

pub fn run(args: &IngestArgs) -> anyhow::Result<()> {
    let synth = SynthConfig {
        um_per_px: 12.5,
        ..SynthConfig::default()
    };
    let files: Vec<Vec<u8>> = (0..args.casings)
        .map(|i| {
            let gun = make_gun(i as u64 / 4, None, &synth);
            write_x3p(&fire(&gun, i as u64, &synth))
        })
        .collect();

    let started = Instant::now();
    for (i, bytes) in files.iter().enumerate() {
        std::hint::black_box(read_surface(
            bytes,
            &format!("c{i}.x3p"),
            None,
            &ReadLimits::default(),
        )?);
    }
    let decode_s = started.elapsed().as_secs_f64();

    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let submit_s = runtime.block_on(async {
        let engine = Engine::open(EngineConfig::new(dir.path())).await?;
        let started = Instant::now();
        for (i, bytes) in files.iter().enumerate() {
            engine
                .submit(Submission {
                    agency: "bench".into(),
                    casing_id: format!("C{i:06}"),
                    file_name: format!("c{i}.x3p"),
                    bytes: bytes.clone(),
                    kind: CasingKind::Evidence,
                    case_number: None,
                    calibre: None,
                    metadata: serde_json::json!({}),
                    um_per_px: None,
                    submitted_by: "bench".into(),
                })
                .await?;
        }
        anyhow::Ok(started.elapsed().as_secs_f64())
    })?;
    let n = args.casings as f64;
    println!(
        "ingest: {} casings one at a time: {:.1} casings/s end to end; decoding alone {:.1} casings/s; ratio {:.3}",
        args.casings,
        n / submit_s,
        n / decode_s,
        decode_s / submit_s
    );
    Ok(())
}
