//! The workspace's evidence images on the wire: a casing's prepared
//! canvas as quantised heights, and a registered pair with its cells.

use base64::Engine as _;
use casetrace_engine::comparison::quantise;
use casetrace_engine::service::PairComparison;
use casetrace_engine::surface::{Surface, SurfaceKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{MarksDto, RegistrationDto};

/// What `GET /v1/casings/{id}/surface` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceFormatDto {
    /// JSON with the quantised heights (the default).
    #[default]
    Heights,
    /// A hill-shaded 8-bit grey-and-alpha PNG.
    Png,
}

/// `?agency=&format=&azimuth=&elevation=` on a casing's surface.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SurfaceQuery {
    /// Agency owning the casing (default: the key's own).
    pub agency: Option<String>,
    /// `heights` (default) or `png`.
    #[param(inline)]
    pub format: Option<SurfaceFormatDto>,
    /// PNG only: the light's direction, degrees clockwise from the top of
    /// the image (default 315, the upper left).
    pub azimuth: Option<f64>,
    /// PNG only: the light's height above the horizon, degrees 0-90
    /// (default 45).
    pub elevation: Option<f64>,
}

/// What the values of a surface are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurfaceKindDto {
    /// Heights in micrometres.
    Topography,
    /// Grey levels.
    Photograph,
}

/// A prepared canvas: `heights` is base64 of `width * height`
/// little-endian u16 in row-major order; 65535 is no data, and a value `v`
/// stands for `min + (max - min) * v / 65534` (µm for a topography, grey
/// level for a photograph; the canvas is band-passed, so heights are about
/// zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeightsDto {
    pub width: usize,
    pub height: usize,
    pub um_per_px: f64,
    pub kind: SurfaceKindDto,
    pub min: f64,
    pub max: f64,
    pub heights: String,
}

impl From<&Surface> for HeightsDto {
    fn from(s: &Surface) -> Self {
        let q = quantise(s);
        let bytes: Vec<u8> = q.codes.iter().flat_map(|c| c.to_le_bytes()).collect();
        HeightsDto {
            width: q.width,
            height: q.height,
            um_per_px: s.um_per_px,
            kind: match s.kind {
                SurfaceKind::Topography => SurfaceKindDto::Topography,
                SurfaceKind::Photograph => SurfaceKindDto::Photograph,
            },
            min: q.min,
            max: q.max,
            heights: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// `?agency=&with=&with_agency=` on a comparison.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ComparisonQuery {
    /// Agency owning the casing in the path (default: the key's own).
    pub agency: Option<String>,
    /// The casing id compared with it.
    pub with: String,
    /// Agency owning `with` (default: the key's own).
    pub with_agency: Option<String>,
}

/// One cell of `a`'s breech face registered on its own, positioned in
/// `a`'s frame by its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PairCellDto {
    pub row: u32,
    pub col: u32,
    /// The cell's top-left corner, µm from `a`'s top-left corner (x right,
    /// y down), and its size.
    pub x_um: f64,
    pub y_um: f64,
    pub width_um: f64,
    pub height_um: f64,
    pub ccf: f64,
    pub rotation_deg: f64,
    pub dx_um: f64,
    pub dy_um: f64,
    pub congruent: bool,
}

/// A registered pair: `b_registered` is `b`'s canvas resampled into `a`'s
/// frame at the registration found, so the two overlay pixel for pixel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComparisonDto {
    pub a: HeightsDto,
    pub b_registered: HeightsDto,
    pub registration: RegistrationDto,
    /// The breech face's fine comparison score, as in candidate lists.
    pub score: f64,
    pub log10_lr: Option<f64>,
    /// The calibration that gave `log10_lr`, or why there is none.
    pub calibration: Option<String>,
    pub lr_withheld: Option<String>,
    pub marks: MarksDto,
    pub congruent_cells: usize,
    pub valid_cells: usize,
    pub cells: Vec<PairCellDto>,
}

impl From<PairComparison> for ComparisonDto {
    fn from(p: PairComparison) -> Self {
        let c = &p.comparison;
        let um = p.a_canvas.um_per_px;
        // Cells are reported by their centre from the canvas centre; the
        // workspace draws boxes from the top-left corner.
        let cell_um = p.cell_px as f64 * um;
        let (cx_um, cy_um) = (
            p.a_canvas.width as f64 / 2.0 * um,
            p.a_canvas.height as f64 / 2.0 * um,
        );
        ComparisonDto {
            a: HeightsDto::from(&p.a_canvas),
            b_registered: HeightsDto::from(&p.b_registered),
            registration: RegistrationDto {
                rotation_deg: c.rotation_deg,
                dx_um: c.dx_um,
                dy_um: c.dy_um,
                overlap_fraction: c.overlap_fraction,
                registration_ncc: c.registration_ncc,
            },
            score: c.score,
            log10_lr: p.log10_lr,
            calibration: p.calibration.clone(),
            lr_withheld: p.lr_withheld.clone(),
            marks: p.marks.into(),
            congruent_cells: c.cells.congruent_cells,
            valid_cells: c.cells.valid_cells,
            cells: c
                .cells
                .cells
                .iter()
                .map(|cell| PairCellDto {
                    row: cell.row,
                    col: cell.col,
                    x_um: cell.x_um + cx_um - cell_um / 2.0,
                    y_um: cell.y_um + cy_um - cell_um / 2.0,
                    width_um: cell_um,
                    height_um: cell_um,
                    ccf: cell.ccf,
                    rotation_deg: cell.rotation_deg,
                    dx_um: cell.dx_um,
                    dy_um: cell.dy_um,
                    congruent: cell.congruent,
                })
                .collect(),
        }
    }
}
