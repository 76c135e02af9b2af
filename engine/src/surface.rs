//! The one in-memory form every input takes: a height (3D) or grey (2D) map
//! with a validity mask and its physical pixel size.

/// A regular grid of samples, row-major (x fastest), with a validity mask.
///
/// Invalid samples (NaN in an X3P, outside the region of interest) are
/// `false` in `valid`; their `values` entry is meaningless and kept at 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    pub width: usize,
    pub height: usize,
    /// Sample values: micrometres of height for 3D scans, grey levels for 2D.
    pub values: Vec<f32>,
    pub valid: Vec<bool>,
    /// Physical size of one pixel in micrometres (x and y are equal after reading).
    pub um_per_px: f64,
    pub kind: SurfaceKind,
}

/// What the values of a [`Surface`] mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceKind {
    /// 3D topography, heights in micrometres.
    Topography,
    /// 2D photograph, grey levels.
    Photograph,
}

impl SurfaceKind {
    /// The stored (and serialised) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SurfaceKind::Topography => "topography",
            SurfaceKind::Photograph => "photograph",
        }
    }
}

impl std::str::FromStr for SurfaceKind {
    type Err = crate::EngineError;

    /// The kind of a stored name ([`SurfaceKind::as_str`]).
    fn from_str(s: &str) -> crate::Result<Self> {
        [SurfaceKind::Topography, SurfaceKind::Photograph]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| crate::EngineError::InvalidMetadata {
                field: "surface_kind".into(),
                reason: format!("{s:?} is not a surface kind; expected topography or photograph"),
            })
    }
}

impl Surface {
    /// A surface of the given size with every sample invalid.
    pub fn empty(width: usize, height: usize, um_per_px: f64, kind: SurfaceKind) -> Self {
        Surface {
            width,
            height,
            values: vec![0.0; width * height],
            valid: vec![false; width * height],
            um_per_px,
            kind,
        }
    }

    pub fn index(&self, x: usize, y: usize) -> usize {
        y * self.width + x
    }

    pub fn valid_count(&self) -> usize {
        self.valid.iter().filter(|v| **v).count()
    }

    /// Mean and standard deviation over the valid samples (0, 0 when none).
    pub fn valid_mean_std(&self) -> (f64, f64) {
        let (mut n, mut sum, mut sum2) = (0usize, 0f64, 0f64);
        for (v, ok) in self.values.iter().zip(&self.valid) {
            if *ok {
                let v = f64::from(*v);
                n += 1;
                sum += v;
                sum2 += v * v;
            }
        }
        if n == 0 {
            return (0.0, 0.0);
        }
        let mean = sum / n as f64;
        let var = (sum2 / n as f64 - mean * mean).max(0.0);
        (mean, var.sqrt())
    }

    /// Bilinear sample at a fractional position; `None` when any of the four
    /// neighbours is invalid or outside, so masks never bleed into values.
    /// Inlined and without `floor` (truncation equals it for x, y ≥ 0)
    /// because the comparison's rotations call it for every pixel of every
    /// trial.
    #[inline]
    pub fn sample(&self, x: f64, y: f64) -> Option<f32> {
        if !(x >= 0.0 && y >= 0.0) {
            return None;
        }
        let (x0, y0) = (x as usize, y as usize);
        if x0 + 1 >= self.width || y0 + 1 >= self.height {
            // Allow exact hits on the last row/column.
            if x0 < self.width && y0 < self.height && x == x0 as f64 && y == y0 as f64 {
                let i = self.index(x0, y0);
                return self.valid[i].then_some(self.values[i]);
            }
            return None;
        }
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let i00 = self.index(x0, y0);
        let (i10, i01, i11) = (i00 + 1, i00 + self.width, i00 + self.width + 1);
        if !(self.valid[i00] & self.valid[i10] & self.valid[i01] & self.valid[i11]) {
            return None;
        }
        let top = self.values[i00] * (1.0 - fx) + self.values[i10] * fx;
        let bottom = self.values[i01] * (1.0 - fx) + self.values[i11] * fx;
        Some(top * (1.0 - fy) + bottom * fy)
    }
}
