//! Line plots for `eval --plots DIR`: each curve as an SVG (with title,
//! axis labels and legend) and a PNG of the same curves (axes, grid and
//! coloured lines only: no font is bundled, so the PNG has no text; the
//! SVG next to it names everything).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::png::Raster;

/// One named curve of (x, y) points, both axes in [0, 1] after scaling.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A plot: axis ranges are fixed by the caller.
#[derive(Debug, Clone)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_range: (f64, f64),
    pub y_range: (f64, f64),
    pub series: Vec<Series>,
}

const W: u32 = 640;
const H: u32 = 480;
const MARGIN: f64 = 60.0;
const COLOURS: [(u8, u8, u8); 4] = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
];

impl Plot {
    /// Pixel position of a data point.
    fn place(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        let pw = f64::from(W) - 2.0 * MARGIN;
        let ph = f64::from(H) - 2.0 * MARGIN;
        (
            MARGIN + fx.clamp(0.0, 1.0) * pw,
            f64::from(H) - MARGIN - fy.clamp(0.0, 1.0) * ph,
        )
    }

    pub fn svg(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
            W / 2,
            escape(&self.title)
        );
        for i in 0..=5 {
            let t = f64::from(i) / 5.0;
            let xv = self.x_range.0 + t * (self.x_range.1 - self.x_range.0);
            let yv = self.y_range.0 + t * (self.y_range.1 - self.y_range.0);
            let (gx, _) = self.place(xv, self.y_range.0);
            let (_, gy) = self.place(self.x_range.0, yv);
            let _ = writeln!(
                s,
                r##"<line x1="{gx:.1}" y1="{MARGIN}" x2="{gx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                f64::from(H) - MARGIN,
                f64::from(H) - MARGIN + 16.0,
                tick(xv)
            );
            let _ = writeln!(
                s,
                r##"<line x1="{MARGIN}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                f64::from(W) - MARGIN,
                MARGIN - 6.0,
                gy + 4.0,
                tick(yv)
            );
        }
        let _ = writeln!(
            s,
            r#"<rect x="{MARGIN}" y="{MARGIN}" width="{:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
            f64::from(W) - 2.0 * MARGIN,
            f64::from(H) - 2.0 * MARGIN
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            W / 2,
            H - 16,
            escape(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
            H / 2,
            H / 2,
            escape(&self.y_label)
        );
        for (k, series) in self.series.iter().enumerate() {
            let (r, g, b) = COLOURS[k % COLOURS.len()];
            let path: Vec<String> = series
                .points
                .iter()
                .map(|(x, y)| {
                    let (px, py) = self.place(*x, *y);
                    format!("{px:.1},{py:.1}")
                })
                .collect();
            let _ = writeln!(
                s,
                r#"<polyline fill="none" stroke="rgb({r},{g},{b})" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            let ly = MARGIN + 18.0 + 16.0 * k as f64;
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{ly:.1}" fill="rgb({r},{g},{b})" text-anchor="end">{}</text>"#,
                f64::from(W) - MARGIN - 8.0,
                escape(&series.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    pub fn png(&self) -> Raster {
        let mut img = Raster::new(W, H, [255, 255, 255]);
        let grey = [221, 221, 221];
        for i in 0..=5 {
            let t = f64::from(i) / 5.0;
            let (gx, _) = self.place(self.x_range.0 + t * (self.x_range.1 - self.x_range.0), 0.0);
            let (_, gy) = self.place(0.0, self.y_range.0 + t * (self.y_range.1 - self.y_range.0));
            line(&mut img, (gx, MARGIN), (gx, f64::from(H) - MARGIN), grey);
            line(&mut img, (MARGIN, gy), (f64::from(W) - MARGIN, gy), grey);
        }
        let black = [0, 0, 0];
        let (l, r, t, b) = (MARGIN, f64::from(W) - MARGIN, MARGIN, f64::from(H) - MARGIN);
        for (p, q) in [
            ((l, t), (r, t)),
            ((r, t), (r, b)),
            ((r, b), (l, b)),
            ((l, b), (l, t)),
        ] {
            line(&mut img, p, q, black);
        }
        for (k, series) in self.series.iter().enumerate() {
            let (cr, cg, cb) = COLOURS[k % COLOURS.len()];
            let colour = [cr, cg, cb];
            for w in series.points.windows(2) {
                let p = self.place(w[0].0, w[0].1);
                let q = self.place(w[1].0, w[1].1);
                line(&mut img, p, q, colour);
                line(&mut img, (p.0, p.1 + 1.0), (q.0, q.1 + 1.0), colour);
            }
        }
        img
    }

    /// Write `<stem>.svg` and `<stem>.png` into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let svg = dir.join(format!("{stem}.svg"));
        std::fs::write(&svg, self.svg()).with_context(|| format!("writing {}", svg.display()))?;
        let png = dir.join(format!("{stem}.png"));
        std::fs::write(&png, self.png().encode())
            .with_context(|| format!("writing {}", png.display()))
    }
}

fn tick(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A straight line by stepping one pixel at a time along its longer axis.
fn line(img: &mut Raster, p: (f64, f64), q: (f64, f64), colour: [u8; 3]) {
    let steps = (q.0 - p.0).abs().max((q.1 - p.1).abs()).ceil().max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (x, y) = (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1));
        if x >= 0.0 && y >= 0.0 {
            img.put(x as u32, y as u32, colour);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_writes_an_svg_naming_its_curves_and_a_png_with_them_drawn() {
        let plot = Plot {
            title: "ROC".into(),
            x_label: "false positive rate".into(),
            y_label: "true positive rate".into(),
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            series: vec![Series {
                name: "score <fine>".into(),
                points: vec![(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)],
            }],
        };
        let dir = tempfile::tempdir().expect("tempdir");
        plot.write(dir.path(), "roc").expect("writes");
        let svg = std::fs::read_to_string(dir.path().join("roc.svg")).expect("svg");
        assert!(svg.contains("score &lt;fine&gt;") && svg.contains("<polyline"));
        let png = image::open(dir.path().join("roc.png"))
            .expect("png")
            .to_rgb8();
        // The curve runs up the left axis: a blue pixel there, mid-height.
        let (x, y) = plot.place(0.0, 0.5);
        assert_eq!(png.get_pixel(x as u32, y as u32).0, [31, 119, 180]);
    }
}
