//! The model card's machine-readable half: what the descriptor model
//! expects as input, read from `descriptor.json` next to the ONNX file so
//! the engine and the training script can never disagree silently.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::preprocessing::{PolarGrid, PreprocessConfig};

/// How a canonical canvas becomes the model's input. `casetrace polar`
/// writes it as `grid.json` with the training data; the training script
/// copies it into `descriptor.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolarInputSpec {
    pub rings: usize,
    pub angles: usize,
    /// Radii of the first and last ring, canvas pixels.
    pub inner_radius_px: f64,
    pub outer_radius_px: f64,
    /// Gaussian smoothing of the canvas before sampling, pixels (outer
    /// rings are sampled more sparsely than the canvas grid).
    pub smoothing_sigma_px: f64,
    /// The canonical canvas it applies to.
    pub canvas_px: usize,
    pub um_per_px: f64,
}

impl PolarInputSpec {
    /// The grid used to train the current model, for a canvas of `pre`.
    pub fn for_canvas(pre: &PreprocessConfig) -> Self {
        let half = pre.canvas_px as f64 / 2.0;
        PolarInputSpec {
            rings: 32,
            angles: 128,
            inner_radius_px: half * 0.12,
            outer_radius_px: half * 0.95,
            smoothing_sigma_px: 1.0,
            canvas_px: pre.canvas_px,
            um_per_px: pre.um_per_px,
        }
    }

    pub fn polar_grid(&self) -> PolarGrid {
        PolarGrid {
            rings: self.rings,
            angles: self.angles,
            inner_radius_px: self.inner_radius_px,
            outer_radius_px: self.outer_radius_px,
        }
    }
}

/// Input and output contract of a descriptor model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Stored with every descriptor; a change forces re-description.
    pub model_version: String,
    pub input_name: String,
    pub output_name: String,
    /// Length of the output descriptor.
    pub dim: usize,
    #[serde(flatten)]
    pub input: PolarInputSpec,
}

impl ModelSpec {
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::Model(format!("{}: {e}", path.display())))
    }
}
