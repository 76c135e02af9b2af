//! Congruent matching cells (after Song's CMC method, NIST): the query's
//! canvas is cut into square cells, each cell is registered on its own
//! against the candidate, and a cell counts as congruent when its own
//! registration agrees with the consensus (the whole-surface registration)
//! and its correlation is high. A mate's cells agree with each other; a
//! different gun's cells scatter, because each cell's best fit is a chance
//! maximum somewhere in its search window.
//!
//! Each cell is searched in a window around the consensus (a small rotation
//! grid and a translation window twice the congruence tolerance) rather
//! than over every rotation: that keeps the cost to a few milliseconds per
//! pair, and a cell whose best fit lies at the window's edge is reported as
//! not congruent, which is what a full search would conclude too.

use serde::{Deserialize, Serialize};

use super::translation::rotate;
use crate::surface::Surface;

/// Knobs of the cell analysis. The defaults follow from the canvas (25 µm/px,
/// 160 px): see `docs/comparison.md` for why each value.
#[derive(Debug, Clone, PartialEq)]
pub struct CellConfig {
    /// Side of a cell in canvas pixels (20 px = 500 µm, the longest
    /// wavelength the band-pass keeps, so each cell holds whole marks).
    pub cell_px: usize,
    /// Least share of a cell that must be valid in the query and overlap
    /// valid candidate samples for the cell to be scored...
    pub min_valid_fraction: f64,
    /// ... unless the surface itself is thinner than a cell: then a cell
    /// needs only this share of what a well-covered cell of that surface
    /// holds (the upper quartile of the cells' valid shares), but never
    /// less than `min_valid_floor`. A near-full disc's upper quartile is a
    /// full cell, so this changes nothing there; on a 0.4-0.8 mm ring of
    /// breech face no 500 µm cell is half valid, and without it a pair kept
    /// 2-17 of its cells.
    pub relative_valid_fraction: f64,
    pub min_valid_floor: f64,
    /// Rotations tried per cell, relative to the consensus, degrees.
    pub angle_offsets_deg: Vec<f64>,
    /// Translation window per cell around the consensus, pixels each way.
    pub search_px: usize,
    /// Congruence tolerances: rotation (degrees; half the grid step, so
    /// only the consensus angle itself) and translation (pixels, per axis)
    /// away from the consensus.
    pub max_angle_diff_deg: f64,
    pub max_shift_diff_px: i64,
    /// Least correlation for a congruent cell.
    pub min_ccf: f64,
    /// The cell score divides by at least this many scored cells, so a pair
    /// that overlaps in one or two cells cannot reach a high cell score by
    /// those alone. 6 is CMC's identification rule (no errors at C ≥ 6
    /// congruent cells on the Fadul set; see DOMAIN.md): fewer cells than
    /// that are never full evidence.
    pub min_cells_for_score: usize,
}

impl Default for CellConfig {
    fn default() -> Self {
        CellConfig {
            cell_px: 20,
            min_valid_fraction: 0.5,
            relative_valid_fraction: 0.5,
            min_valid_floor: 0.2,
            angle_offsets_deg: vec![-3.0, 0.0, 3.0],
            search_px: 4,
            max_angle_diff_deg: 1.5,
            max_shift_diff_px: 2,
            min_ccf: 0.4,
            min_cells_for_score: 6,
        }
    }
}

/// One cell of the query, registered on its own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// Grid position (row from the top, column from the left).
    pub row: u32,
    pub col: u32,
    /// Cell centre in the query canvas, µm from the canvas centre (x right,
    /// y down).
    pub x_um: f64,
    pub y_um: f64,
    /// Highest correlation (masked NCC) the cell reached in its window.
    pub ccf: f64,
    /// The cell's own registration: candidate rotation (degrees, [0, 360))
    /// and shift (µm), as for the whole surface.
    pub rotation_deg: f64,
    pub dx_um: f64,
    pub dy_um: f64,
    /// Agrees with the consensus and correlates above the threshold.
    pub congruent: bool,
}

/// The cells of one comparison and what they add up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CellAnalysis {
    pub cells: Vec<CellResult>,
    /// Cells with enough valid overlap to be scored.
    pub valid_cells: usize,
    pub congruent_cells: usize,
    /// Scored cells whose own registration agrees with the consensus,
    /// however well they correlate: a mate's cells land on the consensus
    /// even where the marks transferred weakly, a different gun's scatter
    /// over the search window.
    #[serde(default)]
    pub agreeing_cells: usize,
    /// Mean of the scored cells' best correlations.
    #[serde(default)]
    pub mean_ccf: f64,
    /// Sum of the congruent cells' correlations over the scored cells (or
    /// over `CellConfig::min_cells_for_score`, if more): the share of
    /// congruent cells weighted by how well each fits, in [0, 1].
    pub cell_score: f64,
}

/// A surface padded by `pad` invalid pixels on every side, as dense value
/// and mask arrays, so every shifted read in the search stays in bounds.
struct Padded {
    stride: usize,
    pad: usize,
    values: Vec<f32>,
    squares: Vec<f32>,
    mask: Vec<f32>,
}

impl Padded {
    fn new(s: &Surface, pad: usize) -> Self {
        let stride = s.width + 2 * pad;
        let rows = s.height + 2 * pad;
        let mut values = vec![0.0; stride * rows];
        let mut squares = vec![0.0; stride * rows];
        let mut mask = vec![0.0; stride * rows];
        for y in 0..s.height {
            for x in 0..s.width {
                let i = s.index(x, y);
                if s.valid[i] {
                    let j = (y + pad) * stride + x + pad;
                    values[j] = s.values[i];
                    squares[j] = s.values[i] * s.values[i];
                    mask[j] = 1.0;
                }
            }
        }
        Padded {
            stride,
            pad,
            values,
            squares,
            mask,
        }
    }
}

/// Register every cell of `a` against `b` around the consensus registration
/// (`b` turned by `rotation_deg`, then its pixel `p + (dx, dy)` read against
/// `a`'s pixel `p`, as [`super::best_shift`] reports).
pub fn analyse_cells(
    a: &Surface,
    b: &Surface,
    rotation_deg: f64,
    dx: i64,
    dy: i64,
    cfg: &CellConfig,
) -> CellAnalysis {
    let reach = dx.unsigned_abs().max(dy.unsigned_abs()) as usize + cfg.search_px;
    let turned: Vec<(f64, Padded)> = cfg
        .angle_offsets_deg
        .iter()
        .map(|o| (*o, Padded::new(&rotate(b, rotation_deg + o), reach)))
        .collect();
    let Some((_, consensus)) = turned.iter().min_by(|x, y| x.0.abs().total_cmp(&y.0.abs())) else {
        // No rotation to try: nothing is scored.
        return CellAnalysis::default();
    };
    let cell = cfg.cell_px.max(2);
    let (cols, rows) = (a.width / cell, a.height / cell);
    // Centre the grid on the canvas; the margins left over are < one cell.
    let (x0, y0) = ((a.width - cols * cell) / 2, (a.height - rows * cell) / 2);
    let min_count = min_cell_fraction(a, cell, x0, y0, cols, rows, cfg) * (cell * cell) as f64;
    let um = a.um_per_px;
    let (cx, cy) = (a.width as f64 / 2.0, a.height as f64 / 2.0);
    let mut av = vec![0.0_f32; cell * cell];
    let mut am = vec![0.0_f32; cell * cell];
    let mut cells = Vec::new();
    let mut agreeing = 0;
    for r in 0..rows {
        for c in 0..cols {
            let (left, top) = (x0 + c * cell, y0 + r * cell);
            let mut n_valid = 0usize;
            for y in 0..cell {
                for x in 0..cell {
                    let i = a.index(left + x, top + y);
                    let ok = a.valid[i];
                    av[y * cell + x] = if ok { a.values[i] } else { 0.0 };
                    am[y * cell + x] = f32::from(u8::from(ok));
                    n_valid += usize::from(ok);
                }
            }
            // Scored only if enough of it overlaps the candidate at the
            // consensus itself: otherwise the window's edge trials would
            // decide on a sliver.
            if (n_valid as f64) < min_count
                || overlap_at(&am, cell, left, top, dx, dy, consensus) < min_count
            {
                continue;
            }
            let best = best_in_window(&av, &am, cell, left, top, dx, dy, &turned, cfg, min_count);
            let Some((ccf, offset, sx, sy)) = best else {
                continue;
            };
            let agrees = offset.abs() <= cfg.max_angle_diff_deg + 1e-9
                && sx.abs() <= cfg.max_shift_diff_px
                && sy.abs() <= cfg.max_shift_diff_px;
            agreeing += usize::from(agrees);
            let congruent = agrees && ccf >= cfg.min_ccf;
            cells.push(CellResult {
                row: r as u32,
                col: c as u32,
                x_um: ((left as f64 + cell as f64 / 2.0) - cx) * um,
                y_um: ((top as f64 + cell as f64 / 2.0) - cy) * um,
                ccf,
                rotation_deg: (rotation_deg + offset).rem_euclid(360.0),
                dx_um: (dx + sx) as f64 * um,
                dy_um: (dy + sy) as f64 * um,
                congruent,
            });
        }
    }
    let valid_cells = cells.len();
    let congruent: Vec<&CellResult> = cells.iter().filter(|c| c.congruent).collect();
    let divisor = valid_cells.max(cfg.min_cells_for_score).max(1);
    let cell_score = congruent.iter().map(|c| c.ccf).sum::<f64>() / divisor as f64;
    let mean_ccf = cells.iter().map(|c| c.ccf).sum::<f64>() / valid_cells.max(1) as f64;
    CellAnalysis {
        valid_cells,
        congruent_cells: congruent.len(),
        agreeing_cells: agreeing,
        mean_ccf,
        cell_score,
        cells,
    }
}

/// How many cells of `s`'s grid are at least `min_valid_fraction` valid:
/// how much breech face a casing offers, in the unit of a near-full disc's
/// cells (the relative rule for thin surfaces is left out on purpose).
pub fn cells_possible(s: &Surface, cfg: &CellConfig) -> usize {
    let cell = cfg.cell_px.max(2);
    let (cols, rows) = (s.width / cell, s.height / cell);
    let (x0, y0) = ((s.width - cols * cell) / 2, (s.height - rows * cell) / 2);
    let need = cfg.min_valid_fraction * (cell * cell) as f64;
    (0..rows * cols)
        .filter(|k| {
            let (left, top) = (x0 + (k % cols) * cell, y0 + (k / cols) * cell);
            let n: usize = (top..top + cell)
                .map(|y| {
                    (left..left + cell)
                        .filter(|x| s.valid[s.index(*x, y)])
                        .count()
                })
                .sum();
            n as f64 >= need
        })
        .count()
}

/// The least valid share of a cell for it to be scored: the configured
/// share, lowered on surfaces too thin for any cell to reach it (see
/// [`CellConfig::relative_valid_fraction`]).
fn min_cell_fraction(
    a: &Surface,
    cell: usize,
    x0: usize,
    y0: usize,
    cols: usize,
    rows: usize,
    cfg: &CellConfig,
) -> f64 {
    let mut shares: Vec<f64> = Vec::with_capacity(cols * rows);
    for r in 0..rows {
        for c in 0..cols {
            let (left, top) = (x0 + c * cell, y0 + r * cell);
            let n: usize = (top..top + cell)
                .map(|y| {
                    (left..left + cell)
                        .filter(|x| a.valid[a.index(*x, y)])
                        .count()
                })
                .sum();
            if n > 0 {
                shares.push(n as f64 / (cell * cell) as f64);
            }
        }
    }
    if shares.is_empty() {
        return cfg.min_valid_fraction;
    }
    shares.sort_by(f64::total_cmp);
    let upper_quartile = shares[(shares.len() * 3) / 4];
    (cfg.relative_valid_fraction * upper_quartile)
        .min(cfg.min_valid_fraction)
        .max(cfg.min_valid_floor)
}

/// Valid samples of a cell (`am`) that fall on valid candidate samples at
/// shift (dx, dy).
fn overlap_at(
    am: &[f32],
    cell: usize,
    left: usize,
    top: usize,
    dx: i64,
    dy: i64,
    t: &Padded,
) -> f64 {
    let ox = ((left + t.pad) as i64 + dx) as usize;
    let oy = ((top + t.pad) as i64 + dy) as usize;
    let mut n = 0.0;
    for y in 0..cell {
        let start = (oy + y) * t.stride + ox;
        for (a, b) in am[y * cell..(y + 1) * cell]
            .iter()
            .zip(&t.mask[start..start + cell])
        {
            n += f64::from(a * b);
        }
    }
    n
}

/// Widest translation window per axis the cell search handles (2·8 + 1).
const MAX_WINDOW: usize = 17;

/// The best (ccf, rotation offset, extra shift x, y) of one cell over the
/// rotation grid and the translation window.
///
/// For each row shift, the sums of every column shift are accumulated
/// side by side (one lane per shift): the inner loop then runs over
/// independent sums, which the compiler vectorises, where one running sum
/// per shift could not be reordered.
#[allow(clippy::too_many_arguments)]
fn best_in_window(
    av: &[f32],
    am: &[f32],
    cell: usize,
    left: usize,
    top: usize,
    dx: i64,
    dy: i64,
    turned: &[(f64, Padded)],
    cfg: &CellConfig,
    min_count: f64,
) -> Option<(f64, f64, i64, i64)> {
    let s = cfg.search_px.min((MAX_WINDOW - 1) / 2) as i64;
    let w = 2 * s as usize + 1;
    let mut best: Option<(f64, f64, i64, i64)> = None;
    for (offset, t) in turned {
        for sy in -s..=s {
            let mut sums = [[0f32; MAX_WINDOW]; 6];
            let ox = ((left + t.pad) as i64 + dx - s) as usize;
            for y in 0..cell {
                let oy = ((top + t.pad) as i64 + dy + sy) as usize + y;
                let start = oy * t.stride + ox;
                let bv = &t.values[start..start + cell + w - 1];
                let b2 = &t.squares[start..start + cell + w - 1];
                let bm = &t.mask[start..start + cell + w - 1];
                for x in 0..cell {
                    let ma = am[y * cell + x];
                    if ma == 0.0 {
                        continue;
                    }
                    let a = av[y * cell + x];
                    let (bv, b2, bm) = (&bv[x..x + w], &b2[x..x + w], &bm[x..x + w]);
                    let [sab, sa, sb, saa, sbb, n] = &mut sums;
                    for k in 0..w {
                        sab[k] += a * bv[k];
                        sa[k] += a * bm[k];
                        sb[k] += bv[k];
                        saa[k] += a * a * bm[k];
                        sbb[k] += b2[k];
                        n[k] += bm[k];
                    }
                }
            }
            let [sab, sa, sb, saa, sbb, n] = &sums;
            for k in 0..w {
                let ncc = super::masked_ncc(
                    f64::from(sab[k]),
                    f64::from(sa[k]),
                    f64::from(sb[k]),
                    f64::from(saa[k]),
                    f64::from(sbb[k]),
                    f64::from(n[k]),
                    min_count,
                );
                if let Some(ncc) = ncc {
                    if best.is_none_or(|(b, ..)| ncc > b) {
                        best = Some((ncc, *offset, k as i64 - s, sy));
                    }
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::SurfaceKind;

    /// A random-looking field with wavelengths of 15-30 px (like the
    /// band-passed canvases), valid inside a disc.
    fn field(seed: u32, n: usize) -> Surface {
        let mut s = Surface::empty(n, n, 25.0, SurfaceKind::Topography);
        let c = n as f64 / 2.0;
        let f =
            |k: u32| 0.21 + 0.15 * f64::from((seed.wrapping_mul(2_654_435_761) ^ k) % 97) / 97.0;
        for y in 0..n {
            for x in 0..n {
                let (fx, fy) = (x as f64, y as f64);
                if (fx - c).hypot(fy - c) < c - 4.0 {
                    let i = s.index(x, y);
                    let v = (fx * f(1) + fy * f(2)).sin()
                        + (fx * f(3) - fy * f(4)).cos()
                        + (fx * f(5) * 1.7 + fy * f(6) * 0.6).sin()
                        + ((fx * f(7) * 2.3 - fy * f(8) * 1.9).sin() * (fy * f(9)).cos());
                    s.values[i] = v as f32;
                    s.valid[i] = true;
                }
            }
        }
        s
    }

    #[test]
    fn a_copy_is_congruent_in_almost_every_cell_and_another_field_in_few() {
        let cfg = CellConfig::default();
        let a = field(1, 160);
        let same = analyse_cells(&a, &a, 0.0, 0, 0, &cfg);
        assert!(same.valid_cells >= 30, "{}", same.valid_cells);
        assert_eq!(same.congruent_cells, same.valid_cells);
        assert!(same.cell_score > 0.99, "{}", same.cell_score);
        let other = analyse_cells(&a, &field(2, 160), 0.0, 0, 0, &cfg);
        assert!(
            other.congruent_cells * 4 < other.valid_cells,
            "{} of {}",
            other.congruent_cells,
            other.valid_cells
        );
        assert!(other.cell_score < 0.3, "{}", other.cell_score);
    }

    #[test]
    fn a_score_from_fewer_cells_than_the_floor_is_shrunk() {
        let a = field(4, 160);
        // Only a 2 x 2 block of cells overlaps: a perfect copy there.
        let mut corner = Surface::empty(160, 160, 25.0, SurfaceKind::Topography);
        for y in 40..80 {
            for x in 40..80 {
                let i = a.index(x, y);
                corner.values[i] = a.values[i];
                corner.valid[i] = a.valid[i];
            }
        }
        let cfg = CellConfig::default();
        let found = analyse_cells(&a, &corner, 0.0, 0, 0, &cfg);
        assert_eq!(found.valid_cells, 4, "{found:?}");
        assert_eq!(found.congruent_cells, 4);
        // Four congruent cells of four scored, but counted against six.
        let expected = found.cells.iter().map(|c| c.ccf).sum::<f64>() / 6.0;
        assert!((found.cell_score - expected).abs() < 1e-9, "{found:?}");
        assert!(found.cell_score < 0.7, "{}", found.cell_score);
    }

    #[test]
    fn a_cell_registration_reports_the_shift_that_fits() {
        let cfg = CellConfig::default();
        let a = field(3, 160);
        // b's pixel p + (3, -2) holds a's pixel p.
        let mut b = Surface::empty(160, 160, 25.0, SurfaceKind::Topography);
        for y in 2..158 {
            for x in 0..157 {
                let (i, j) = (a.index(x, y), b.index(x + 3, y - 2));
                b.values[j] = a.values[i];
                b.valid[j] = a.valid[i];
            }
        }
        // Consensus off by one pixel in x: cells still find the true shift.
        let found = analyse_cells(&a, &b, 0.0, 2, -2, &cfg);
        let cell = found
            .cells
            .iter()
            .find(|c| c.ccf > 0.99)
            .expect("a cell fits");
        assert_eq!((cell.dx_um, cell.dy_um), (75.0, -50.0));
        assert!(cell.congruent);
    }
}
