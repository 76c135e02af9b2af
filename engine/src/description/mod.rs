//! Casing descriptors: a fixed-length, L2-normalised vector per casing,
//! computed by an ONNX model from the polar unwrap of the canonical canvas,
//! such that casings fired by the same gun lie close together whatever
//! their rotation.

mod runtime;
mod spec;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array3;
use ort::session::Session;
use ort::value::TensorRef;
pub use runtime::{default_runtime_path, ort_environment, INSTALLED_RUNTIME};
pub use spec::{ModelSpec, PolarInputSpec};

use crate::error::{EngineError, Result};
use crate::preprocessing::{masked_gaussian, unwrap, PolarImage};
use crate::surface::Surface;

/// Where the descriptor model and its spec live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    pub onnx: PathBuf,
    pub spec: PathBuf,
}

impl ModelPaths {
    /// `descriptor.onnx` and `descriptor.json` inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        ModelPaths {
            onnx: dir.join("descriptor.onnx"),
            spec: dir.join("descriptor.json"),
        }
    }

    /// `$CASETRACE_MODEL_DIR`, else the `models/descriptor` folder of the
    /// source tree this binary was built from.
    pub fn default_location() -> Self {
        let dir = std::env::var_os("CASETRACE_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/descriptor"))
            });
        Self::in_dir(&dir)
    }
}

/// A loaded descriptor model. `Session::run` needs `&mut`, so runs are
/// serialised through a mutex; batch to amortise.
#[derive(Debug)]
pub struct DescriptorModel {
    session: Mutex<Session>,
    spec: ModelSpec,
}

impl DescriptorModel {
    /// Load the model with the ONNX Runtime library at `runtime_library`.
    pub fn load(paths: &ModelPaths, runtime_library: &Path, threads: usize) -> Result<Self> {
        let spec = ModelSpec::read(&paths.spec)?;
        let env = ort_environment(runtime_library)?;
        let model_err =
            |e: ort::Error| EngineError::Model(format!("{}: {e}", paths.onnx.display()));
        let session = Session::builder(env)
            .map_err(model_err)?
            .with_intra_threads(threads.max(1))
            .map_err(|e| model_err(e.into()))?
            .commit_from_file(&paths.onnx)
            .map_err(model_err)?;
        Ok(DescriptorModel {
            session: Mutex::new(session),
            spec,
        })
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The model's input for one canonical canvas.
    pub fn polar_input(&self, canvas: &Surface) -> PolarImage {
        polar_input(canvas, &self.spec.input)
    }

    /// Descriptors of a batch of canonical canvases, one per canvas.
    pub fn describe(&self, canvases: &[&Surface]) -> Result<Vec<Vec<f32>>> {
        let polars: Vec<PolarImage> = canvases.iter().map(|c| self.polar_input(c)).collect();
        self.describe_polar(&polars)
    }

    /// Descriptors of polar inputs already computed.
    pub fn describe_polar(&self, polars: &[PolarImage]) -> Result<Vec<Vec<f32>>> {
        if polars.is_empty() {
            return Ok(Vec::new());
        }
        let (r, a) = (self.spec.input.rings, self.spec.input.angles);
        let mut batch = Array3::<f32>::zeros((polars.len(), r, a));
        for (n, p) in polars.iter().enumerate() {
            for (i, v) in p.values.iter().enumerate() {
                batch[[n, i / a, i % a]] = *v;
            }
        }
        let model_err = |e: ort::Error| EngineError::Model(e.to_string());
        let mut session = self.session.lock().map_err(|_| {
            EngineError::internal("descriptor session poisoned by an earlier panic")
        })?;
        let input = TensorRef::from_array_view(&batch).map_err(model_err)?;
        let outputs = session
            .run(ort::inputs![self.spec.input_name.as_str() => input])
            .map_err(model_err)?;
        let (shape, data) = outputs[self.spec.output_name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(model_err)?;
        let dim = self.spec.dim;
        if shape.len() != 2 || shape[0] as usize != polars.len() || shape[1] as usize != dim {
            return Err(EngineError::Model(format!(
                "output shape {shape:?}, expected [{}, {dim}]",
                polars.len()
            )));
        }
        Ok(data.chunks_exact(dim).map(l2_normalised).collect())
    }
}

/// Polar sampling of a lightly smoothed canvas, invalid samples as 0.
pub fn polar_input(canvas: &Surface, spec: &PolarInputSpec) -> PolarImage {
    if spec.smoothing_sigma_px <= 0.0 {
        return unwrap(canvas, &spec.polar_grid());
    }
    // Built from the smoothed values rather than a clone of the canvas
    // whose values would be thrown away at once.
    let smoothed = Surface {
        values: masked_gaussian(canvas, spec.smoothing_sigma_px),
        valid: canvas.valid.clone(),
        ..*canvas
    };
    unwrap(&smoothed, &spec.polar_grid())
}

/// The model already normalises; doing it again here guards the index
/// against a model that does not.
fn l2_normalised(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}
