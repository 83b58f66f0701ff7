//! The picture of a run (plotters, SVG): latency by percentile on the left, throughput over
//! time on the right, one line per operation (and per server when comparing).

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::stats::{OpStats, TICK, TICKS_PER_SECOND};

/// One line on both panels.
pub struct Series<'a> {
    pub label: String,
    pub stats: &'a OpStats,
    /// Which server (or benchmark family): one hue per group.
    pub group: usize,
    /// Which operation within the group: one shade per operation.
    pub shade: usize,
    /// Measured seconds: timeline buckets past this are partial and left out.
    pub span: f64,
}

/// Hues by group (blue, red, green, purple), shades by operation.
const COLORS: [[RGBColor; 4]; 4] = [
    [
        RGBColor(31, 119, 180),
        RGBColor(120, 180, 230),
        RGBColor(10, 50, 110),
        RGBColor(70, 150, 210),
    ],
    [
        RGBColor(214, 39, 40),
        RGBColor(250, 150, 100),
        RGBColor(130, 10, 20),
        RGBColor(240, 100, 140),
    ],
    [
        RGBColor(44, 160, 44),
        RGBColor(150, 210, 110),
        RGBColor(10, 90, 40),
        RGBColor(90, 190, 160),
    ],
    [
        RGBColor(148, 103, 189),
        RGBColor(200, 170, 230),
        RGBColor(80, 40, 120),
        RGBColor(180, 120, 200),
    ],
];

fn color(s: &Series) -> RGBColor {
    COLORS[s.group % COLORS.len()][s.shade % 4]
}

/// The timeline as (seconds, ops/s) points: 100 ms buckets for short runs, whole seconds
/// when any run lasts 5 s or more (readable, and what "throughput per second" means);
/// partial buckets at the end are left out.
fn throughput_points(s: &Series, whole_seconds: bool) -> Vec<(f64, f64)> {
    let tick = TICK.as_secs_f64();
    let per = if whole_seconds { TICKS_PER_SECOND } else { 1 };
    let width = tick * per as f64;
    s.stats
        .timeline
        .chunks(per)
        .enumerate()
        .filter(|(i, c)| c.len() == per && (*i as f64 + 1.0) * width <= s.span + 1e-6)
        .map(|(i, c)| {
            (
                (i as f64 + 0.5) * width,
                c.iter().sum::<u64>() as f64 / width,
            )
        })
        .collect()
}

/// A non-negative axis value rounded up to a whole number.
// Axis values are small and non-negative; `as` saturates besides.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(x: f64) -> usize {
    x.ceil() as usize
}

/// Percentile `1 - 10^-x` as text: 0 -> "0%", 1 -> "90%", 3 -> "99.9%".
fn nines_label(x: f64) -> String {
    let q = (1.0 - 10f64.powf(-x)) * 100.0;
    let decimals = if x <= 2.0 { 0 } else { whole(x - 2.0) };
    format!("{q:.decimals$}%")
}

/// Points of the percentile curve: x in "nines", y in microseconds.
fn percentile_curve(s: &OpStats, max_x: f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    let mut x = 0.0;
    while x <= max_x + 1e-9 {
        let q = 1.0 - 10f64.powf(-x);
        pts.push((x, s.quantile_us(q).max(0.001)));
        x += 0.02;
    }
    pts.push((max_x, s.max_us().max(0.001)));
    pts
}

pub fn draw(path: &Path, title: &str, series: &[Series]) -> Result<(), Box<dyn Error>> {
    let series: Vec<&Series> = series.iter().filter(|s| s.stats.ok > 0).collect();
    let root = SVGBackend::new(path, (1400, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 24))?;
    let (left, right) = root.split_horizontally(700);

    // Latency: as far into the tail as the sample supports (1 / count), at most 99.999%.
    let count = series.iter().map(|s| s.stats.ok).max().unwrap_or(1).max(10);
    let max_x = ((count as f64).log10().floor()).clamp(1.0, 5.0);
    let curves: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| percentile_curve(s.stats, max_x))
        .collect();
    let lo = curves
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(f64::MAX, f64::min)
        .min(1e9);
    let hi = curves.iter().flatten().map(|p| p.1).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&left)
        .caption("Latency by percentile", ("sans-serif", 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..max_x, (lo * 0.8..hi * 1.25).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs, log scale)")
        .x_labels(whole(max_x) + 1)
        .x_label_formatter(&|x| nines_label(*x))
        .y_label_formatter(&|y| format_num(*y))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for (s, pts) in series.iter().zip(&curves) {
        let color = color(s);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;

    // Throughput: completed operations per tick, as a rate.
    let whole_seconds = series.iter().any(|s| s.span >= 5.0);
    let lines: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| throughput_points(s, whole_seconds))
        .collect();
    let t_max = lines
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(TICK.as_secs_f64(), f64::max)
        + TICK.as_secs_f64() / 2.0;
    let r_max = lines.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.4;
    let mut chart = ChartBuilder::on(&right)
        .caption("Throughput over time", ("sans-serif", 20))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..t_max, 0f64..r_max)?;
    chart
        .configure_mesh()
        .x_desc(if whole_seconds {
            "seconds measured (1 s buckets)".to_string()
        } else {
            format!("seconds measured ({} ms buckets)", TICK.as_millis())
        })
        .y_desc("operations per second")
        .y_label_formatter(&|y| format_num(*y))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for (s, pts) in series.iter().zip(&lines) {
        let color = color(s);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Axis numbers: 1500 -> "1.5k", 2000000 -> "2M", 0.5 -> "0.5".
fn format_num(y: f64) -> String {
    let (v, unit) = if y >= 1e6 {
        (y / 1e6, "M")
    } else if y >= 1e3 {
        (y / 1e3, "k")
    } else {
        (y, "")
    };
    let s = if v >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(4.0), "99.99%");
        assert_eq!(format_num(1500.0), "1.5k");
        assert_eq!(format_num(2e6), "2M");
        assert_eq!(format_num(0.5), "0.5");
    }

    fn series(stats: &OpStats, span: f64) -> Series<'_> {
        Series {
            label: String::new(),
            stats,
            group: 0,
            shade: 0,
            span,
        }
    }

    #[test]
    fn one_bucket_width_for_every_line() {
        // 2.5 s at 10 ops per 100 ms tick, plus a partial tick at the end.
        let stats = OpStats {
            timeline: vec![10; 26],
            ..OpStats::default()
        };
        // Alone, a short run is drawn in 100 ms buckets, the partial last one left out.
        let short = throughput_points(&series(&stats, 2.55), false);
        assert_eq!(short.len(), 25);
        assert!(short.iter().all(|p| (p.1 - 100.0).abs() < 1e-9));
        // Beside a run of 5 s or more, it is drawn in the same whole-second buckets.
        let whole = throughput_points(&series(&stats, 2.55), true);
        assert_eq!(whole.len(), 2);
        assert!((whole[0].0 - 0.5).abs() < 1e-9 && (whole[1].0 - 1.5).abs() < 1e-9);
        assert!(whole.iter().all(|p| (p.1 - 100.0).abs() < 1e-9));
    }
}
