//! The CPU half of a bulk load, on plain threads: `threads` analysers each
//! take the next file, decode, prepare and unwrap it for the model, and
//! start writing its evidence file; one describer gathers their polar
//! inputs into batches and runs the ONNX model once per batch. Files are
//! taken in the order they finish being read and results leave in the
//! order they finish, so a slow or bad file holds up only its own analyser.
//!
//! Evidence files are written beside the analysers, not by them: a write
//! waits on a disk's fsync or an S3 upload, not on a core, and made in the
//! analysers' path it cost as much time as preparing the casing. The writes
//! run as tasks on the engine's runtime (at most [`EVIDENCE_IN_FLIGHT`] at
//! once, which also bounds the bytes held), and the import's writer awaits
//! each casing's write before the transaction that stores its row, so a
//! row never refers to evidence that is not on file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::comparison::encode_canvas;
use crate::description::DescriptorModel;
use crate::preprocessing::{
    extract_pin_mark, prepare, PinMarkConfig, PolarImage, PreprocessConfig,
};
use crate::reading::{read_surface, InputFormat, ReadLimits};
use crate::store::{EvidencePut, EvidenceStore};
use crate::surface::SurfaceKind;

/// How long the describer waits for a batch to fill before running a
/// partial one.
const BATCH_WAIT: Duration = Duration::from_millis(20);

/// Evidence writes under way at once; an analyser waits for a free place
/// before starting another (so a slow store slows the load instead of
/// filling memory with files).
pub const EVIDENCE_IN_FLIGHT: usize = 64;

/// A file to analyse; `slot` is the caller's handle on its row.
#[derive(Debug)]
pub struct Work {
    pub slot: usize,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub um_per_px: Option<f64>,
}

/// A casing ready to store once its evidence file is written.
#[derive(Debug, Clone)]
pub struct DescribedCasing {
    pub format: InputFormat,
    pub width: usize,
    pub height: usize,
    pub um_per_px: f64,
    pub surface_kind: SurfaceKind,
    /// The comparison canvas, encoded for storage.
    pub comparison_surface: Vec<u8>,
    /// The firing-pin mark's canvas, encoded, when the scan has one.
    pub pin_mark: Option<Vec<u8>>,
    pub descriptor: Vec<f32>,
}

/// An evidence file being written on the engine's runtime.
#[derive(Debug)]
pub struct PendingEvidence(tokio::task::JoinHandle<Result<EvidencePut, String>>);

impl PendingEvidence {
    /// Wait for the write; the error is the row's failure reason.
    pub async fn written(self) -> Result<EvidencePut, String> {
        self.0
            .await
            .unwrap_or_else(|e| Err(format!("storing the evidence file: the write failed: {e}")))
    }
}

/// What the pipeline made of one [`Work`].
#[derive(Debug)]
pub enum Analysed {
    Ready {
        slot: usize,
        casing: Box<DescribedCasing>,
        evidence: PendingEvidence,
    },
    /// Not stored; `evidence` is the file's write when it had started (the
    /// model failed), to be removed again unless a casing refers to it.
    Failed {
        slot: usize,
        reason: String,
        evidence: Option<PendingEvidence>,
    },
}

/// Knobs of the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    pub threads: usize,
    /// Casings per ONNX run.
    pub batch: usize,
    pub limits: ReadLimits,
    pub preprocess: PreprocessConfig,
}

/// Time spent per stage, summed over threads (so it can exceed wall time).
#[derive(Debug, Default)]
pub struct StageClock {
    read: AtomicU64,
    decode: AtomicU64,
    prepare: AtomicU64,
    polar: AtomicU64,
    evidence: AtomicU64,
    describe: AtomicU64,
    store: AtomicU64,
    index: AtomicU64,
}

/// [`StageClock`] in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageSeconds {
    /// Reading files out of the source and hashing them.
    pub read: f64,
    pub decode: f64,
    pub prepare: f64,
    /// Smoothing and polar unwrap (the model's input).
    pub polar: f64,
    /// Writing evidence files, summed over the writes under way at once
    /// (they run beside the analysers, mostly waiting on a disk or network).
    pub evidence: f64,
    /// ONNX runs.
    pub describe: f64,
    /// Database transactions.
    pub store: f64,
    /// Index additions and saves.
    pub index: f64,
}

/// The stages a [`StageClock`] measures.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    Read,
    Decode,
    Prepare,
    Polar,
    Evidence,
    Describe,
    Store,
    Index,
}

impl StageClock {
    pub fn add(&self, stage: Stage, took: Duration) {
        let counter = match stage {
            Stage::Read => &self.read,
            Stage::Decode => &self.decode,
            Stage::Prepare => &self.prepare,
            Stage::Polar => &self.polar,
            Stage::Evidence => &self.evidence,
            Stage::Describe => &self.describe,
            Stage::Store => &self.store,
            Stage::Index => &self.index,
        };
        counter.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Run `work`, adding its time to `stage`.
    pub fn time<T>(&self, stage: Stage, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = work();
        self.add(stage, started.elapsed());
        out
    }

    pub fn seconds(&self) -> StageSeconds {
        let s = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 * 1e-9;
        StageSeconds {
            read: s(&self.read),
            decode: s(&self.decode),
            prepare: s(&self.prepare),
            polar: s(&self.polar),
            evidence: s(&self.evidence),
            describe: s(&self.describe),
            store: s(&self.store),
            index: s(&self.index),
        }
    }
}

/// A casing analysed up to the model's input.
struct Polarised {
    slot: usize,
    polar: PolarImage,
    casing: DescribedCasing,
    evidence: PendingEvidence,
}

/// The evidence store as the analysers' plain threads use it: writes run
/// as tasks on the engine's runtime (a plain thread may block on a
/// runtime; its worker threads may not), a bounded number at once.
#[derive(Debug, Clone)]
pub struct EvidenceWriter {
    store: EvidenceStore,
    runtime: tokio::runtime::Handle,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl EvidenceWriter {
    pub fn new(store: EvidenceStore, runtime: tokio::runtime::Handle) -> Self {
        EvidenceWriter {
            store,
            runtime,
            in_flight: Arc::new(tokio::sync::Semaphore::new(EVIDENCE_IN_FLIGHT)),
        }
    }

    /// Start writing `bytes`, once fewer than [`EVIDENCE_IN_FLIGHT`] writes
    /// are under way. The write's own time goes to `clock`'s evidence stage.
    fn start(&self, bytes: Vec<u8>, clock: &Arc<StageClock>) -> Result<PendingEvidence, String> {
        let permit = self
            .runtime
            .block_on(self.in_flight.clone().acquire_owned())
            .map_err(|_| "storing the evidence file: the import is shutting down".to_string())?;
        let (store, clock) = (self.store.clone(), clock.clone());
        let task = self.runtime.spawn(async move {
            let started = Instant::now();
            let put = store.put(bytes).await;
            clock.add(Stage::Evidence, started.elapsed());
            drop(permit);
            put.map_err(|e| format!("storing the evidence file: {e}"))
        });
        Ok(PendingEvidence(task))
    }
}

/// Start the analysers and the describer. They run until `work` is closed
/// and drained; results go to `out`. Join the returned handles to wait.
pub fn start<T: From<Analysed> + Send + 'static>(
    cfg: PipelineConfig,
    model: Arc<DescriptorModel>,
    evidence: EvidenceWriter,
    clock: Arc<StageClock>,
    work: Receiver<Work>,
    out: tokio::sync::mpsc::Sender<T>,
) -> Vec<JoinHandle<()>> {
    let batch = cfg.batch.max(1);
    let (polar_tx, polar_rx) = sync_channel::<Polarised>(batch * 2);
    let work = Arc::new(Mutex::new(work));
    let mut handles = Vec::new();
    for n in 0..cfg.threads.max(1) {
        let (work, polar_tx, out, model, evidence, clock) = (
            work.clone(),
            polar_tx.clone(),
            out.clone(),
            model.clone(),
            evidence.clone(),
            clock.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("import-analyse-{n}"))
            .spawn(move || analyser(&cfg, &model, &evidence, &clock, &work, &polar_tx, &out))
            .expect("spawn an import analyser thread");
        handles.push(handle);
    }
    drop(polar_tx);
    let handle = std::thread::Builder::new()
        .name("import-describe".into())
        .spawn(move || describer(batch, &model, &clock, &polar_rx, &out))
        .expect("spawn the import describer thread");
    handles.push(handle);
    handles
}

fn analyser<T: From<Analysed>>(
    cfg: &PipelineConfig,
    model: &DescriptorModel,
    evidence: &EvidenceWriter,
    clock: &Arc<StageClock>,
    work: &Mutex<Receiver<Work>>,
    polar_tx: &SyncSender<Polarised>,
    out: &tokio::sync::mpsc::Sender<T>,
) {
    loop {
        // Hold the lock only to take one item.
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(item) = next else { return };
        let slot = item.slot;
        match analyse_one(cfg, model, evidence, clock, item) {
            Ok(p) => {
                if polar_tx.send(p).is_err() {
                    return;
                }
            }
            Err(reason) => {
                if out
                    .blocking_send(
                        Analysed::Failed {
                            slot,
                            reason,
                            evidence: None,
                        }
                        .into(),
                    )
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

fn analyse_one(
    cfg: &PipelineConfig,
    model: &DescriptorModel,
    evidence: &EvidenceWriter,
    clock: &Arc<StageClock>,
    item: Work,
) -> Result<Polarised, String> {
    let name = item.file_name.as_str();
    let (format, surface) = clock
        .time(Stage::Decode, || {
            read_surface(&item.bytes, name, item.um_per_px, &cfg.limits)
        })
        .map_err(|e| e.to_string())?;
    let prepared = clock
        .time(Stage::Prepare, || prepare(&surface, name, &cfg.preprocess))
        .map_err(|e| e.to_string())?;
    let pin_mark = clock.time(Stage::Prepare, || {
        prepared
            .pin_impression_um
            .and_then(|pin| extract_pin_mark(&surface, pin, &PinMarkConfig::default()))
            .map(|mark| encode_canvas(&mark))
    });
    let (polar, comparison_surface) = clock.time(Stage::Polar, || {
        (
            model.polar_input(&prepared.surface),
            encode_canvas(&prepared.surface),
        )
    });
    let slot = item.slot;
    // Only a casing that will be stored gets its evidence written.
    let evidence = evidence.start(item.bytes, clock)?;
    Ok(Polarised {
        slot,
        polar,
        evidence,
        casing: DescribedCasing {
            format,
            width: surface.width,
            height: surface.height,
            um_per_px: surface.um_per_px,
            surface_kind: surface.kind,
            comparison_surface,
            pin_mark,
            descriptor: Vec::new(),
        },
    })
}

fn describer<T: From<Analysed>>(
    batch: usize,
    model: &DescriptorModel,
    clock: &StageClock,
    polar_rx: &Receiver<Polarised>,
    out: &tokio::sync::mpsc::Sender<T>,
) {
    let mut open = true;
    while open {
        let Ok(first) = polar_rx.recv() else { return };
        let mut items = vec![first];
        let deadline = Instant::now() + BATCH_WAIT;
        while items.len() < batch {
            let left = deadline.saturating_duration_since(Instant::now());
            match polar_rx.recv_timeout(left) {
                Ok(p) => items.push(p),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let (polars, items): (Vec<PolarImage>, Vec<_>) = items
            .into_iter()
            .map(|p| (p.polar, (p.slot, p.casing, p.evidence)))
            .unzip();
        let described = clock.time(Stage::Describe, || model.describe_polar(&polars));
        match described {
            Ok(descriptors) => {
                for ((slot, mut casing, evidence), descriptor) in items.into_iter().zip(descriptors)
                {
                    casing.descriptor = descriptor;
                    let ready = Analysed::Ready {
                        slot,
                        casing: Box::new(casing),
                        evidence,
                    };
                    if out.blocking_send(ready.into()).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                for (slot, _, evidence) in items {
                    let failed = Analysed::Failed {
                        slot,
                        reason: e.to_string(),
                        evidence: Some(evidence),
                    };
                    if out.blocking_send(failed.into()).is_err() {
                        return;
                    }
                }
            }
        }
    }
}
