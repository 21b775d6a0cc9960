//! Charts of the studies, drawn with plotters into SVG and PNG files.
//!
//! A chart is described as data ([`LineChart`] or [`BarChart`]) and drawn by
//! [`Chart::write`] twice: once as SVG (text stays text) and once as PNG. The PNG's text
//! is rendered from a font embedded in this crate (DejaVu Sans, `assets/`), through
//! plotters' pure-Rust `ab_glyph` path, so no system font library or font file is needed.
//!
//! Every chart has a title, axis descriptions with units, and a legend drawn in a strip
//! to the right of the plot, so that many series never hide the data.
//!
//! ```no_run
//! use bench_harness::chart::{Axis, Chart, LineChart, Series};
//! let chart = Chart::Line(LineChart {
//!     title: "Round trip vs message size".into(),
//!     x: Axis::log("message size", bench_harness::chart::Format::Bytes),
//!     y: Axis::log("round trip (µs)", bench_harness::chart::Format::Number),
//!     series: vec![Series::new("pipe", vec![(8.0, 20.0), (1024.0, 25.0)])],
//! });
//! let [svg, png] = chart.write(std::path::Path::new("/tmp"), "rt")?;
//! # Ok::<(), bench_harness::chart::ChartError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The embedded font of the PNG charts.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The font family name charts use.
const FAMILY: &str = "sans-serif";

/// Pixel size of every chart.
pub const SIZE: (u32, u32) = (1280, 720);

/// Width of the legend strip on the right.
const LEGEND_WIDTH: u32 = 330;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is valid TrueType shipped in the crate; a failure would show as
        // missing text, never as a crash.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Why a chart could not be written.
#[derive(Debug)]
pub enum ChartError {
    /// The chart has nothing to draw (no series, or no positive finite value on a log
    /// axis).
    Empty(String),
    /// plotters failed to draw or to save the file.
    Draw {
        /// The file being written.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
    /// The folder could not be created.
    Io(std::io::Error),
}

impl fmt::Display for ChartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChartError::Empty(title) => write!(f, "chart {title:?} has no data to draw"),
            ChartError::Draw { path, message } => {
                write!(f, "cannot draw {}: {message}", path.display())
            }
            ChartError::Io(e) => write!(f, "cannot create the chart folder: {e}"),
        }
    }
}

impl std::error::Error for ChartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChartError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// How an axis writes its tick labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Byte counts: `8 B`, `64 KiB`, `1 MiB`.
    Bytes,
    /// Plain numbers with SI suffixes: `0.5`, `20`, `3k`, `1.5M`.
    Number,
    /// Whole counts (worker processes): `1`, `2`, `16`.
    Count,
}

impl Format {
    /// Formats a tick value.
    ///
    /// ```
    /// use bench_harness::chart::Format;
    /// assert_eq!(Format::Bytes.label(65536.0), "64 KiB");
    /// assert_eq!(Format::Number.label(2500.0), "2.5k");
    /// assert_eq!(Format::Count.label(3.0), "3");
    /// ```
    pub fn label(self, v: f64) -> String {
        match self {
            Format::Bytes => {
                let units = ["B", "KiB", "MiB", "GiB"];
                let mut v = v;
                let mut u = 0;
                while v >= 1024.0 && u + 1 < units.len() {
                    v /= 1024.0;
                    u += 1;
                }
                format!("{} {}", trim(v), units[u])
            }
            Format::Number => {
                let a = v.abs();
                if a >= 1e9 {
                    format!("{}G", trim(v / 1e9))
                } else if a >= 1e6 {
                    format!("{}M", trim(v / 1e6))
                } else if a >= 1e3 {
                    format!("{}k", trim(v / 1e3))
                } else {
                    trim(v)
                }
            }
            // Ticks between whole counts get no label.
            Format::Count if (v - v.round()).abs() > 1e-9 => String::new(),
            Format::Count => format!("{}", v.round()),
        }
    }
}

/// A number with at most 3 significant digits and no trailing zeros.
fn trim(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// One axis: its description (with the unit) and scale.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The description, with the unit: `message size`, `round trip (µs)`.
    pub label: String,
    /// Logarithmic scale.
    pub log: bool,
    /// How the ticks are written.
    pub format: Format,
    /// Names of the whole positions 0, 1, 2, ... when the values are indices of
    /// categories (evenly spaced settings such as spin limits); other ticks get none.
    pub categories: Option<Vec<String>>,
    /// Where the ticks go on a log axis (the message sizes, say), instead of plotters'
    /// decimal choice.
    pub ticks: Option<Vec<f64>>,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: &str, format: Format) -> Axis {
        Axis {
            label: label.into(),
            log: false,
            format,
            categories: None,
            ticks: None,
        }
    }

    /// A linear axis whose whole positions 0, 1, 2, ... are named by `names`.
    pub fn categories(label: &str, names: Vec<String>) -> Axis {
        Axis {
            label: label.into(),
            log: false,
            format: Format::Count,
            categories: Some(names),
            ticks: None,
        }
    }

    /// The same axis with ticks at `ticks` (on a log axis).
    pub fn with_ticks(mut self, ticks: Vec<f64>) -> Axis {
        self.ticks = Some(ticks);
        self
    }

    /// The tick label of `v`.
    ///
    /// ```
    /// use bench_harness::chart::Axis;
    /// let a = Axis::categories("limit", vec!["0".into(), "256".into()]);
    /// assert_eq!((a.tick(1.0).as_str(), a.tick(0.5).as_str()), ("256", ""));
    /// ```
    pub fn tick(&self, v: f64) -> String {
        match &self.categories {
            Some(names) if (v - v.round()).abs() < 1e-9 && v >= 0.0 => {
                names.get(v.round() as usize).cloned().unwrap_or_default()
            }
            Some(_) => String::new(),
            None => self.format.label(v),
        }
    }

    /// A logarithmic axis.
    pub fn log(label: &str, format: Format) -> Axis {
        Axis {
            label: label.into(),
            log: true,
            format,
            categories: None,
            ticks: None,
        }
    }
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in this order.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (baselines, CPython, the ideal line).
    pub dashed: bool,
    /// Drawn in black (the ideal line) rather than from the palette.
    pub black: bool,
}

impl Series {
    /// A solid series in the next palette colour.
    pub fn new(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            dashed: false,
            black: false,
        }
    }

    /// The same series drawn dashed.
    pub fn dashed(mut self) -> Series {
        self.dashed = true;
        self
    }

    /// The same series drawn in black (a reference line).
    pub fn black(mut self) -> Series {
        self.black = true;
        self
    }
}

/// A chart of lines with points, on linear or logarithmic axes.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The title.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The lines.
    pub series: Vec<Series>,
}

/// A chart of horizontal bars, one per labelled value.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// The title.
    pub title: String,
    /// The value axis (horizontal).
    pub value: Axis,
    /// `(label, value)`, drawn top to bottom; labels starting with `CPython` are drawn in
    /// a colour of their own.
    pub bars: Vec<(String, f64)>,
}

/// A chart to draw.
#[derive(Debug, Clone)]
pub enum Chart {
    /// Lines.
    Line(LineChart),
    /// Horizontal bars.
    Bar(BarChart),
}

/// The colours of the series, distinct on white.
const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 128),
    RGBColor(128, 64, 0),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The range covering `values` with a margin: a factor on a log axis (positive values
/// only), a share of the span on a linear one (which includes 0 when `from_zero`).
fn range(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if log {
        if lo == hi {
            return Some((lo / 2.0, hi * 2.0));
        }
        Some((lo / 1.5, hi * 1.5))
    } else {
        if from_zero {
            lo = lo.min(0.0);
        }
        let pad = if hi > lo { (hi - lo) * 0.05 } else { 1.0 };
        Some((
            if from_zero && lo >= 0.0 {
                0.0
            } else {
                lo - pad
            },
            hi + pad,
        ))
    }
}

type DrawResult = Result<(), String>;

fn err<E: fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

impl Chart {
    /// The title.
    pub fn title(&self) -> &str {
        match self {
            Chart::Line(c) => &c.title,
            Chart::Bar(c) => &c.title,
        }
    }

    /// Draws the chart into `dir/stem.svg` and `dir/stem.png` and returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<[PathBuf; 2], ChartError> {
        let mut v = self.write_formats(dir, stem, true, true)?.into_iter();
        match (v.next(), v.next()) {
            (Some(svg), Some(png)) => Ok([svg, png]),
            _ => unreachable!("both formats were asked for"),
        }
    }

    /// Draws the chart into `dir/stem.svg` when `svg` and `dir/stem.png` when `png`, and
    /// returns the paths written.
    pub fn write_formats(
        &self,
        dir: &Path,
        stem: &str,
        svg: bool,
        png: bool,
    ) -> Result<Vec<PathBuf>, ChartError> {
        self.check()?;
        std::fs::create_dir_all(dir).map_err(ChartError::Io)?;
        register_font();
        let draw_err = |path: &Path, message: String| ChartError::Draw {
            path: path.to_path_buf(),
            message,
        };
        let mut written = Vec::new();
        if svg {
            let path = dir.join(format!("{stem}.svg"));
            let root = SVGBackend::new(&path, SIZE).into_drawing_area();
            self.draw(&root).map_err(|m| draw_err(&path, m))?;
            root.present().map_err(|e| draw_err(&path, err(e)))?;
            drop(root);
            written.push(path);
        }
        if png {
            let path = dir.join(format!("{stem}.png"));
            let root = BitMapBackend::new(&path, SIZE).into_drawing_area();
            self.draw(&root).map_err(|m| draw_err(&path, m))?;
            root.present().map_err(|e| draw_err(&path, err(e)))?;
            drop(root);
            written.push(path);
        }
        Ok(written)
    }

    fn check(&self) -> Result<(), ChartError> {
        let empty = match self {
            Chart::Line(c) => {
                let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
                let ys = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
                range(xs, c.x.log, false).is_none() || range(ys, c.y.log, true).is_none()
            }
            Chart::Bar(c) => range(c.bars.iter().map(|b| b.1), c.value.log, true).is_none(),
        };
        if empty {
            Err(ChartError::Empty(self.title().to_string()))
        } else {
            Ok(())
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        root.fill(&WHITE).map_err(err)?;
        match self {
            Chart::Line(c) => draw_line(root, c),
            Chart::Bar(c) => draw_bar(root, c),
        }
    }
}

/// Draws the legend strip: a short line (dashed when the series is) and the name.
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &LineChart) -> DrawResult {
    let font = (FAMILY, 16).into_font();
    let top = 70;
    for (i, s) in c.series.iter().enumerate() {
        let y = top + 24 * i as i32;
        let col = if s.black { BLACK } else { color(i) };
        if s.dashed {
            for k in 0..3 {
                let x0 = 10 + k * 12;
                area.draw(&PathElement::new(
                    vec![(x0, y), (x0 + 7, y)],
                    col.stroke_width(3),
                ))
                .map_err(err)?;
            }
        } else {
            area.draw(&PathElement::new(
                vec![(10, y), (42, y)],
                col.stroke_width(3),
            ))
            .map_err(err)?;
        }
        area.draw(&Circle::new((26, y), 4, col.filled()))
            .map_err(err)?;
        area.draw(&Text::new(s.name.clone(), (50, y - 9), font.clone()))
            .map_err(err)?;
    }
    Ok(())
}

macro_rules! line_body {
    ($area:expr, $c:expr, $xr:expr, $yr:expr) => {{
        let c: &LineChart = $c;
        let mut chart = ChartBuilder::on($area)
            .caption(&c.title, (FAMILY, 26))
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(85)
            .build_cartesian_2d($xr, $yr)
            .map_err(err)?;
        let (xa, ya) = (&c.x, &c.y);
        chart
            .configure_mesh()
            .x_desc(c.x.label.as_str())
            .y_desc(c.y.label.as_str())
            .x_label_formatter(&|v| xa.tick(*v))
            .y_label_formatter(&|v| ya.tick(*v))
            .label_style((FAMILY, 16))
            .axis_desc_style((FAMILY, 18))
            .light_line_style(RGBColor(246, 246, 246))
            .draw()
            .map_err(err)?;
        for (i, s) in c.series.iter().enumerate() {
            let col = if s.black { BLACK } else { color(i) };
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|&(x, y)| {
                    x.is_finite() && y.is_finite() && (!c.x.log || x > 0.0) && (!c.y.log || y > 0.0)
                })
                .collect();
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(
                        pts.iter().copied(),
                        8,
                        6,
                        col.stroke_width(2),
                    ))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(2)))
                    .map_err(err)?;
            }
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, col.filled())))
                .map_err(err)?;
        }
        Ok(())
    }};
}

fn draw_line<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &LineChart) -> DrawResult {
    let (w, _) = root.dim_in_pixel();
    let (plot, legend) = root.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
    draw_legend(&legend, c)?;
    let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = range(xs, c.x.log, false).ok_or("no x values")?;
    let (y0, y1) = range(ys, c.y.log, true).ok_or("no y values")?;
    match (c.x.log, c.y.log) {
        (true, true) if c.x.ticks.is_some() => line_body!(
            &plot,
            c,
            (x0..x1)
                .log_scale()
                .with_key_points(c.x.ticks.clone().unwrap_or_default()),
            (y0..y1).log_scale()
        ),
        (true, false) if c.x.ticks.is_some() => line_body!(
            &plot,
            c,
            (x0..x1)
                .log_scale()
                .with_key_points(c.x.ticks.clone().unwrap_or_default()),
            y0..y1
        ),
        (true, true) => line_body!(&plot, c, (x0..x1).log_scale(), (y0..y1).log_scale()),
        (true, false) => line_body!(&plot, c, (x0..x1).log_scale(), y0..y1),
        (false, true) => line_body!(&plot, c, x0..x1, (y0..y1).log_scale()),
        (false, false) => line_body!(&plot, c, x0..x1, y0..y1),
    }
}

macro_rules! bar_body {
    ($area:expr, $c:expr, $xr:expr, $x0:expr) => {{
        let c: &BarChart = $c;
        let n = c.bars.len();
        let mut chart = ChartBuilder::on($area)
            .caption(&c.title, (FAMILY, 26))
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(300)
            .build_cartesian_2d($xr, (0..n.saturating_sub(1)).into_segmented())
            .map_err(err)?;
        let xf = c.value.format;
        let names: Vec<&str> = c.bars.iter().rev().map(|b| b.0.as_str()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(c.value.label.as_str())
            .x_label_formatter(&|v| xf.label(*v))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i).map_or(String::new(), |s| s.to_string()),
                _ => String::new(),
            })
            .y_labels(n)
            .label_style((FAMILY, 16))
            .axis_desc_style((FAMILY, 18))
            .light_line_style(RGBColor(246, 246, 246))
            .draw()
            .map_err(err)?;
        let x0 = $x0;
        chart
            .draw_series(c.bars.iter().rev().enumerate().map(|(i, (name, v))| {
                let mut r = Rectangle::new(
                    [
                        (x0, SegmentValue::Exact(i)),
                        (*v, SegmentValue::Exact(i + 1)),
                    ],
                    bar_color(name).filled(),
                );
                r.set_margin(6, 6, 0, 0);
                r
            }))
            .map_err(err)?;
        chart
            .draw_series(c.bars.iter().rev().enumerate().map(|(i, (_, v))| {
                Text::new(
                    format!(" {}", xf.label(*v)),
                    (*v, SegmentValue::CenterOf(i)),
                    (FAMILY, 15).into_font(),
                )
            }))
            .map_err(err)?;
        Ok(())
    }};
}

/// CPython's bars (labels starting with `CPython`) stand out from the library's.
fn bar_color(label: &str) -> RGBColor {
    if label.starts_with("CPython") {
        color(1)
    } else {
        color(0)
    }
}

fn draw_bar<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &BarChart) -> DrawResult {
    let (x0, x1) = range(c.bars.iter().map(|b| b.1), c.value.log, true).ok_or("no values")?;
    // Room on the right for the value written after the longest bar.
    if c.value.log {
        bar_body!(root, c, (x0..x1 * 3.0).log_scale(), x0)
    } else {
        bar_body!(root, c, x0..x1 * 1.15, x0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        // BENCH_HARNESS_CHART_DIR keeps the test charts there, to look at them.
        if let Some(d) = std::env::var_os("BENCH_HARNESS_CHART_DIR") {
            return PathBuf::from(d);
        }
        let d =
            std::env::temp_dir().join(format!("bench-harness-chart-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn labels_read_as_units() {
        assert_eq!(Format::Bytes.label(8.0), "8 B");
        assert_eq!(Format::Bytes.label(1024.0), "1 KiB");
        assert_eq!(Format::Bytes.label(1048576.0), "1 MiB");
        assert_eq!(Format::Number.label(0.25), "0.25");
        assert_eq!(Format::Number.label(1_500_000.0), "1.5M");
        assert_eq!(Format::Number.label(123.456), "123");
        assert_eq!(Format::Count.label(4.0), "4");
        assert_eq!(Format::Count.label(1.5), "");
    }

    #[test]
    fn ranges_pad_and_skip_what_log_cannot_show() {
        assert_eq!(
            range([0.0, 10.0].into_iter(), true, false),
            Some((10.0 / 2.0, 20.0))
        );
        assert_eq!(range([0.0, -1.0].into_iter(), true, false), None);
        let (lo, hi) = range([2.0, 4.0].into_iter(), false, true).unwrap();
        assert!(lo == 0.0 && hi > 4.0);
    }

    #[test]
    fn line_and_bar_charts_are_written_non_empty() {
        let dir = tmp("write");
        let line = Chart::Line(LineChart {
            title: "t".into(),
            x: Axis::log("size", Format::Bytes).with_ticks(vec![8.0, 1024.0, 1048576.0]),
            y: Axis::log("time (µs)", Format::Number),
            series: vec![
                Series::new("a", vec![(8.0, 1.0), (1024.0, 3.0), (1048576.0, 300.0)]),
                Series::new("b", vec![(8.0, 2.0), (1048576.0, 900.0)]).dashed(),
            ],
        });
        let bar = Chart::Bar(BarChart {
            title: "bars".into(),
            value: Axis::log("time (µs)", Format::Number),
            bars: vec![
                ("fork".into(), 400.0),
                ("spawn".into(), 1500.0),
                ("CPython fork".into(), 2000.0),
            ],
        });
        for (chart, stem) in [(line, "line"), (bar, "bar")] {
            let files = chart.write(&dir, stem).unwrap();
            for f in files {
                let len = std::fs::metadata(&f).unwrap().len();
                assert!(len > 1000, "{} is {len} bytes", f.display());
            }
        }
        let png = std::fs::read(dir.join("line.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = std::fs::read_to_string(dir.join("line.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("size"));
        if std::env::var_os("BENCH_HARNESS_CHART_DIR").is_none() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn an_empty_chart_is_an_error() {
        let dir =
            std::env::temp_dir().join(format!("bench-harness-chart-empty-{}", std::process::id()));
        let c = Chart::Line(LineChart {
            title: "nothing".into(),
            x: Axis::log("x", Format::Number),
            y: Axis::log("y", Format::Number),
            series: vec![Series::new("zero", vec![(0.0, 0.0)])],
        });
        assert!(matches!(c.write(&dir, "e"), Err(ChartError::Empty(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
