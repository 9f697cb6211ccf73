//! Sweeps and plots: the paper's Figure 5 and heat maps over (n, θ).
//!
//! Each plot has a data function (no files, serde-serialisable, for `--json`) and a function
//! that also writes it as SVG and PNG.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use crate::analysis::{analyze, optimal_p_a, PaKind};
use crate::fonts::{ensure_font, FAMILY};
use crate::model::{figure5_derivative, Inputs};
use crate::ResearchError;

/// The values of n in the paper's Figure 5 (§5.2 quotes n = 1 and n = 4).
pub const FIGURE5_NS: [u32; 4] = [1, 2, 3, 4];

/// Samples of p_a per curve in [`figure5_data`] when called by [`figure5`].
pub const FIGURE5_SAMPLES: usize = 401;

/// Cells per side up to which heat-map cells are annotated with their value.
pub const ANNOTATE_MAX_CELLS_PER_SIDE: usize = 12;

/// Pixel size of the Figure 5 plot.
const FIGURE5_SIZE: (u32, u32) = (1100, 720);
/// Pixel size of a heat map, colour bar included.
const HEATMAP_SIZE: (u32, u32) = (1150, 720);
/// Width of the colour-bar strip at the right of a heat map.
const COLOR_BAR_WIDTH: u32 = 170;

/// Line colours, distinguishable also for colour-blind readers (Okabe–Ito).
pub(crate) const PALETTE: [RGBColor; 7] = [
	RGBColor(0, 114, 178),
	RGBColor(213, 94, 0),
	RGBColor(0, 158, 115),
	RGBColor(204, 121, 167),
	RGBColor(230, 159, 0),
	RGBColor(86, 180, 233),
	RGBColor(120, 120, 120),
];

/// One curve of Figure 5.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure5Series {
	/// Mediator re-runs n for this curve.
	pub n: u32,
	/// Where this curve's JC is best off (the zero crossing, or a boundary).
	pub optimal_p_a: f64,
	/// Whether `optimal_p_a` is a zero crossing or an end of [0, 1].
	pub p_a_kind: PaKind,
	/// (p_a, ∂U_JC/∂p_a) samples, p_a evenly spaced over [0, 1].
	pub points: Vec<[f64; 2]>,
}

/// The data behind Figure 5: ∂U_JC/∂p_a (p_v = 1) against p_a, one curve per n.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure5Data {
	/// The inputs (their `n` is replaced by each curve's n).
	pub inputs: Inputs,
	/// One curve per requested n, in the order given.
	pub series: Vec<Figure5Series>,
}

/// Computes Figure 5's curves: for each n, `samples` (≥ 2) points of ∂U_JC/∂p_a on [0, 1].
pub fn figure5_data(
	inputs: &Inputs,
	ns: &[u32],
	samples: usize,
) -> Result<Figure5Data, ResearchError> {
	if ns.is_empty() {
		return Err(ResearchError::InvalidInput("Figure 5 needs at least one n".to_string()));
	}
	if samples < 2 {
		return Err(ResearchError::InvalidInput("Figure 5 needs at least 2 samples".to_string()));
	}
	let mut series = Vec::with_capacity(ns.len());
	for &n in ns {
		let i = Inputs { n, ..*inputs };
		i.validate()?;
		let opt = optimal_p_a(&i);
		let last = (samples - 1) as f64;
		let points = (0..samples)
			.map(|k| {
				let p = k as f64 / last;
				[p, figure5_derivative(&i, p)]
			})
			.collect();
		series.push(Figure5Series { n, optimal_p_a: opt.p_a, p_a_kind: opt.kind, points });
	}
	Ok(Figure5Data { inputs: *inputs, series })
}

/// Writes `figure5.svg` and `figure5.png` into `out_dir` (created if missing): one line per
/// n of ∂U_JC/∂p_a against p_a, a zero line, the optimum of each curve marked. Returns the
/// paths written.
pub fn figure5(inputs: &Inputs, ns: &[u32], out_dir: &Path) -> Result<Vec<PathBuf>, ResearchError> {
	let data = figure5_data(inputs, ns, FIGURE5_SAMPLES)?;
	ensure_font()?;
	create_dir(out_dir)?;
	let svg = out_dir.join("figure5.svg");
	let png = out_dir.join("figure5.png");
	{
		let root = SVGBackend::new(&svg, FIGURE5_SIZE).into_drawing_area();
		draw_figure5(&root, &data)?;
		root.present().map_err(plot_err)?;
	}
	{
		let root = BitMapBackend::new(&png, FIGURE5_SIZE).into_drawing_area();
		draw_figure5(&root, &data)?;
		root.present().map_err(plot_err)?;
	}
	Ok(vec![svg, png])
}

/// One (n, θ) cell of the heat maps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatmapCell {
	/// Mediator re-runs.
	pub n: u32,
	/// Penalty rate.
	pub theta: f64,
	/// The JC's optimal p_a: with the worst-case inputs, the lowest a rational JC picks.
	pub p_a: f64,
	/// Whether `p_a` is a zero crossing or an end of [0, 1].
	pub p_a_kind: PaKind,
	/// Theorem 2's condition p_a^(n+1) > 1/2.
	pub theorem2_condition: bool,
	/// The JC's equilibrium verification rate (eq. 4), clamped to [0, 1].
	pub p_v: f64,
	/// Eq. 4 before clamping.
	pub p_v_raw: Option<f64>,
	/// The highest equilibrium verification rate (c_e = π_c, c_d = 0).
	pub p_v_max: Option<f64>,
	/// Expected share of jobs that go to mediation, p_v·(1 − p_e·p_a).
	pub mediation_rate: f64,
}

/// The heat maps' data: one cell per (n, θ), row-major (all θ for the first n, then the next).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatmapGrid {
	/// The inputs (their `n` and `theta` are replaced per cell).
	pub inputs: Inputs,
	/// The rows' n values, ascending.
	pub ns: Vec<u32>,
	/// The columns' θ values, in the order given.
	pub thetas: Vec<f64>,
	/// `ns.len() × thetas.len()` cells, row-major.
	pub cells: Vec<HeatmapCell>,
}

impl HeatmapGrid {
	/// The cell in row `n_index` (into `ns`) and column `theta_index` (into `thetas`).
	pub fn cell(&self, n_index: usize, theta_index: usize) -> Option<&HeatmapCell> {
		if n_index >= self.ns.len() || theta_index >= self.thetas.len() {
			return None;
		}
		self.cells.get(n_index * self.thetas.len() + theta_index)
	}
}

/// What [`heatmaps`] wrote, with the data it drew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatmapOutput {
	/// The grid drawn.
	pub grid: HeatmapGrid,
	/// `min_pa.svg`, `min_pa.png`, `pv.svg`, `pv.png`.
	pub files: Vec<PathBuf>,
}

/// Analyses every (n, θ) with the other inputs fixed.
pub fn heatmap_grid(
	inputs: &Inputs,
	ns: RangeInclusive<u32>,
	thetas: &[f64],
) -> Result<HeatmapGrid, ResearchError> {
	let ns: Vec<u32> = ns.collect();
	if ns.is_empty() {
		return Err(ResearchError::InvalidInput("the n range is empty".to_string()));
	}
	if thetas.is_empty() {
		return Err(ResearchError::InvalidInput("give at least one θ".to_string()));
	}
	let mut cells = Vec::with_capacity(ns.len() * thetas.len());
	for &n in &ns {
		for &theta in thetas {
			let a = analyze(&Inputs { n, theta, ..*inputs })?;
			cells.push(HeatmapCell {
				n,
				theta,
				p_a: a.p_a,
				p_a_kind: a.p_a_kind,
				theorem2_condition: a.theorem2_condition,
				p_v: a.p_v,
				p_v_raw: a.p_v_raw,
				p_v_max: a.p_v_max,
				mediation_rate: a.mediation_rate,
			});
		}
	}
	Ok(HeatmapGrid { inputs: *inputs, ns, thetas: thetas.to_vec(), cells })
}

/// Writes `min_pa.svg/png` (the JC's optimal p_a) and `pv.svg/png` (eq. 4's p_v) over the
/// grid of n × θ into `out_dir` (created if missing).
pub fn heatmaps(
	inputs: &Inputs,
	ns: RangeInclusive<u32>,
	thetas: &[f64],
	out_dir: &Path,
) -> Result<HeatmapOutput, ResearchError> {
	let grid = heatmap_grid(inputs, ns, thetas)?;
	ensure_font()?;
	create_dir(out_dir)?;
	let i = &grid.inputs;
	let params = format!("π_c={}, π_d={}, g_m={}, p_e={}", i.pi_c, i.pi_d, i.g_m, i.p_e);
	let specs = [
		HeatmapSpec {
			stem: "min_pa",
			title: format!("Optimal p_a of a rational JC, the platform's lower bound ({params})"),
			value_label: "optimal p_a (1 = JC never cheats)".to_string(),
			values: grid.cells.iter().map(|c| c.p_a).collect(),
		},
		HeatmapSpec {
			stem: "pv",
			title: format!(
				"JC's equilibrium verification rate p_v, eq. 4 (c_e={}, c_d={}, {params})",
				i.c_e, i.c_d
			),
			value_label: "p_v: share of results the JC checks (capped at 1)".to_string(),
			values: grid.cells.iter().map(|c| c.p_v).collect(),
		},
	];
	let mut files = Vec::with_capacity(4);
	for spec in &specs {
		let svg = out_dir.join(format!("{}.svg", spec.stem));
		let png = out_dir.join(format!("{}.png", spec.stem));
		{
			let root = SVGBackend::new(&svg, HEATMAP_SIZE).into_drawing_area();
			draw_heatmap(&root, &grid, spec)?;
			root.present().map_err(plot_err)?;
		}
		{
			let root = BitMapBackend::new(&png, HEATMAP_SIZE).into_drawing_area();
			draw_heatmap(&root, &grid, spec)?;
			root.present().map_err(plot_err)?;
		}
		files.push(svg);
		files.push(png);
	}
	Ok(HeatmapOutput { grid, files })
}

/// What one heat map shows.
struct HeatmapSpec {
	/// File name without extension.
	stem: &'static str,
	/// Plot title.
	title: String,
	/// Colour-bar label.
	value_label: String,
	/// One value per grid cell, row-major like the grid.
	values: Vec<f64>,
}

/// Any plotters error as ours; the backends' errors differ in type, so keep the message.
pub(crate) fn plot_err<E: std::fmt::Display>(e: E) -> ResearchError {
	ResearchError::Plot(e.to_string())
}

/// Creates the output directory.
pub(crate) fn create_dir(dir: &Path) -> Result<(), ResearchError> {
	std::fs::create_dir_all(dir)
		.map_err(|source| ResearchError::Io { path: dir.to_path_buf(), source })
}

/// Draws Figure 5 on any backend.
fn draw_figure5<DB: DrawingBackend>(
	root: &DrawingArea<DB, Shift>,
	data: &Figure5Data,
) -> Result<(), ResearchError> {
	root.fill(&WHITE).map_err(plot_err)?;
	let (mut y_min, mut y_max) = (0.0f64, 0.0f64);
	for s in &data.series {
		for p in &s.points {
			y_min = y_min.min(p[1]);
			y_max = y_max.max(p[1]);
		}
	}
	let pad = 0.05 * (y_max - y_min).max(1e-9);
	let (y_min, y_max) = (y_min - pad, y_max + pad);

	let i = &data.inputs;
	let caption = format!(
		"How a rational JC picks p_a: ∂U_JC/∂p_a (π_c={}, π_d={}, θ={}, g_m={}, p_e={})",
		i.pi_c, i.pi_d, i.theta, i.g_m, i.p_e
	);
	let mut chart = ChartBuilder::on(root)
		.caption(caption, (FAMILY, 22))
		.margin(20)
		.x_label_area_size(70)
		.y_label_area_size(90)
		.build_cartesian_2d(0f64..1f64, y_min..y_max)
		.map_err(plot_err)?;
	chart
		.configure_mesh()
		.x_labels(11)
		.y_labels(10)
		.x_desc("p_a: chance a cheating JC's job looks deterministic to the mediator (1 = honest)")
		.y_desc("∂U_JC/∂p_a: JC's gain from raising p_a (> 0: raise it)")
		.axis_desc_style((FAMILY, 17))
		.label_style((FAMILY, 14))
		.draw()
		.map_err(plot_err)?;

	chart
		.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 0.0)], BLACK.stroke_width(1)))
		.map_err(plot_err)?
		.label("zero: where a curve crosses it, the JC is best off")
		.legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], BLACK.stroke_width(1)));
	for (k, s) in data.series.iter().enumerate() {
		let color = PALETTE[k % PALETTE.len()];
		let style = color.stroke_width(2);
		let kind = match s.p_a_kind {
			PaKind::Interior => "",
			PaKind::Boundary => ", at the boundary",
		};
		chart
			.draw_series(LineSeries::new(s.points.iter().map(|p| (p[0], p[1])), style))
			.map_err(plot_err)?
			.label(format!("n = {} mediator runs: best p_a = {:.3}{kind}", s.n, s.optimal_p_a))
			.legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
		let at = figure5_derivative(&Inputs { n: s.n, ..data.inputs }, s.optimal_p_a);
		chart
			.draw_series(std::iter::once(Circle::new((s.optimal_p_a, at), 5, color.filled())))
			.map_err(plot_err)?;
	}
	chart
		.configure_series_labels()
		.position(SeriesLabelPosition::UpperRight)
		.background_style(WHITE.mix(0.9))
		.border_style(BLACK)
		.label_font((FAMILY, 15))
		.draw()
		.map_err(plot_err)?;
	Ok(())
}

/// Linear interpolation through the viridis colour map (dark blue → green → yellow); `t` is
/// clamped to [0, 1].
fn viridis(t: f64) -> RGBColor {
	const STOPS: [(f64, f64, f64); 5] = [
		(68.0, 1.0, 84.0),
		(59.0, 82.0, 139.0),
		(33.0, 145.0, 140.0),
		(94.0, 201.0, 98.0),
		(253.0, 231.0, 37.0),
	];
	let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
	let x = t * (STOPS.len() - 1) as f64;
	let k = (x.floor() as usize).min(STOPS.len() - 2);
	let f = x - k as f64;
	let (a, b) = (STOPS[k], STOPS[k + 1]);
	let mix = |u: f64, v: f64| (u + (v - u) * f).round().clamp(0.0, 255.0) as u8;
	RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Formats a heat-map value for a cell or the colour bar.
fn short(v: f64) -> String {
	if v != 0.0 && v.abs() < 1e-3 {
		format!("{v:.1e}")
	} else {
		format!("{v:.3}")
	}
}

/// Draws one heat map with its colour bar on any backend.
fn draw_heatmap<DB: DrawingBackend>(
	root: &DrawingArea<DB, Shift>,
	grid: &HeatmapGrid,
	spec: &HeatmapSpec,
) -> Result<(), ResearchError> {
	root.fill(&WHITE).map_err(plot_err)?;
	let width = root.dim_in_pixel().0;
	let (main, bar) = root.split_horizontally(width.saturating_sub(COLOR_BAR_WIDTH));

	let rows = grid.ns.len();
	let cols = grid.thetas.len();
	let n_lo = f64::from(grid.ns.first().copied().unwrap_or(1));
	let n_hi = f64::from(grid.ns.last().copied().unwrap_or(1));

	let finite = spec.values.iter().copied().filter(|v| v.is_finite());
	let v_min = finite.clone().fold(f64::INFINITY, f64::min);
	let v_max = finite.fold(f64::NEG_INFINITY, f64::max);
	let (v_min, v_max) = if !v_min.is_finite() {
		(0.0, 1.0)
	} else if v_max - v_min < 1e-12 {
		// A flat grid still needs a non-empty colour scale.
		let d = (v_min.abs() * 1e-3).max(1e-6);
		(v_min - d, v_max + d)
	} else {
		(v_min, v_max)
	};
	let scale = |v: f64| (v - v_min) / (v_max - v_min);

	let mut chart = ChartBuilder::on(&main)
		.caption(&spec.title, (FAMILY, 19))
		.margin(15)
		.x_label_area_size(70)
		.y_label_area_size(80)
		.build_cartesian_2d(-0.5f64..(cols as f64 - 0.5), (n_lo - 0.5)..(n_hi + 0.5))
		.map_err(plot_err)?;
	// Columns sit at integer x = index into θ; label them with θ itself.
	let x_fmt = |x: &f64| {
		let r = x.round();
		if (x - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < cols {
			short_theta(grid.thetas[r as usize])
		} else {
			String::new()
		}
	};
	let y_fmt = |y: &f64| {
		let r = y.round();
		if (y - r).abs() < 1e-6 && (n_lo..=n_hi).contains(&r) {
			format!("{}", r as u32)
		} else {
			String::new()
		}
	};
	chart
		.configure_mesh()
		.disable_x_mesh()
		.disable_y_mesh()
		.x_labels(cols)
		.y_labels(rows)
		.x_label_formatter(&x_fmt)
		.y_label_formatter(&y_fmt)
		.x_desc("θ: penalty rate; each side deposits π̂_c·θ + π̂_c·n + π_a")
		.y_desc("n: mediator re-runs of a disputed job")
		.axis_desc_style((FAMILY, 17))
		.label_style((FAMILY, 14))
		.draw()
		.map_err(plot_err)?;

	let cell_rect = |r: usize, c: usize| {
		let n = f64::from(grid.ns[r]);
		let x = c as f64;
		[(x - 0.5, n - 0.5), (x + 0.5, n + 0.5)]
	};
	chart
		.draw_series((0..rows).flat_map(|r| (0..cols).map(move |c| (r, c))).map(|(r, c)| {
			let v = spec.values.get(r * cols + c).copied().unwrap_or(f64::NAN);
			Rectangle::new(cell_rect(r, c), viridis(scale(v)).filled())
		}))
		.map_err(plot_err)?;

	if rows <= ANNOTATE_MAX_CELLS_PER_SIDE && cols <= ANNOTATE_MAX_CELLS_PER_SIDE {
		let centre = Pos::new(HPos::Center, VPos::Center);
		let on_dark = (FAMILY, 14).into_font().color(&WHITE).pos(centre);
		let on_light = (FAMILY, 14).into_font().color(&BLACK).pos(centre);
		chart
			.draw_series((0..rows).flat_map(|r| (0..cols).map(move |c| (r, c))).map(|(r, c)| {
				let v = spec.values.get(r * cols + c).copied().unwrap_or(f64::NAN);
				// Light text on the dark (low) half of the colour map.
				let style = if scale(v) < 0.5 { on_dark.clone() } else { on_light.clone() };
				Text::new(short(v), (c as f64, f64::from(grid.ns[r])), style)
			}))
			.map_err(plot_err)?;
	}

	// Colour bar: a column of thin rectangles, labelled on its own axis.
	let mut bar_chart = ChartBuilder::on(&bar)
		.margin_top(60)
		.margin_bottom(85)
		.margin_right(15)
		.y_label_area_size(110)
		.build_cartesian_2d(0f64..1f64, v_min..v_max)
		.map_err(plot_err)?;
	let bar_fmt = |v: &f64| short(*v);
	bar_chart
		.configure_mesh()
		.disable_x_mesh()
		.disable_y_mesh()
		.disable_x_axis()
		.y_labels(8)
		.y_label_formatter(&bar_fmt)
		.y_desc(spec.value_label.as_str())
		.axis_desc_style((FAMILY, 14))
		.label_style((FAMILY, 13))
		.draw()
		.map_err(plot_err)?;
	const STEPS: usize = 200;
	bar_chart
		.draw_series((0..STEPS).map(|k| {
			let lo = v_min + (v_max - v_min) * k as f64 / STEPS as f64;
			let hi = v_min + (v_max - v_min) * (k + 1) as f64 / STEPS as f64;
			let t = (k as f64 + 0.5) / STEPS as f64;
			Rectangle::new([(0.0, lo), (1.0, hi)], viridis(t).filled())
		}))
		.map_err(plot_err)?;
	Ok(())
}

/// θ as an axis label: integers without decimals.
fn short_theta(theta: f64) -> String {
	if theta.fract() == 0.0 && theta.abs() < 1e9 {
		format!("{}", theta as i64)
	} else {
		format!("{theta}")
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::fonts::font_path;

	/// Plot tests need the font; without it they are skipped with a note, not failed.
	fn font_or_skip() -> bool {
		match ensure_font() {
			Ok(()) => true,
			Err(e) => {
				eprintln!("skipping plot test: {e} (font path {})", font_path().display());
				false
			},
		}
	}

	#[test]
	fn figure5_data_has_the_papers_crossings() {
		let d = figure5_data(&Inputs::paper_figure5(), &FIGURE5_NS, 101).unwrap();
		assert_eq!(d.series.len(), 4);
		assert!((d.series[0].optimal_p_a - 0.5).abs() < 1e-9);
		assert!((d.series[3].optimal_p_a - 0.943).abs() < 5e-4);
		for s in &d.series {
			assert_eq!(s.points.len(), 101);
			assert_eq!(s.points[0][0], 0.0);
			assert_eq!(s.points[100][0], 1.0);
			// Positive left of the optimum, negative right of it.
			assert!(s.points[0][1] > 0.0 && s.points[100][1] < 0.0);
		}
		let rising: Vec<f64> = d.series.iter().map(|s| s.optimal_p_a).collect();
		assert!(rising.windows(2).all(|w| w[1] > w[0]), "{rising:?}");
		assert!(figure5_data(&Inputs::paper_figure5(), &[], 10).is_err());
		assert!(figure5_data(&Inputs::paper_figure5(), &[0], 10).is_err());
	}

	#[test]
	fn heatmap_grid_is_row_major_and_monotone() {
		let thetas = [0.0, 1.0, 5.0, 10.0, 50.0];
		let g = heatmap_grid(&Inputs::default(), 1..=4, &thetas).unwrap();
		assert_eq!(g.ns, [1, 2, 3, 4]);
		assert_eq!(g.cells.len(), 20);
		let c = g.cell(1, 4).unwrap();
		assert_eq!((c.n, c.theta), (2, 50.0));
		assert!(g.cell(4, 0).is_none() && g.cell(0, 5).is_none());
		for r in 0..4 {
			for k in 1..thetas.len() {
				let (a, b) = (g.cell(r, k - 1).unwrap(), g.cell(r, k).unwrap());
				assert!(b.p_a > a.p_a, "θ: {a:?} then {b:?}");
				assert!(b.p_v_max.unwrap() < a.p_v_max.unwrap(), "p_v_max falls with θ");
			}
		}
		for k in 0..thetas.len() {
			for r in 1..4 {
				assert!(g.cell(r, k).unwrap().p_a > g.cell(r - 1, k).unwrap().p_a);
			}
		}
		// An empty n range is refused, not plotted as a blank map.
		#[allow(clippy::reversed_empty_ranges)]
		let empty = 3..=2;
		assert!(heatmap_grid(&Inputs::default(), empty, &thetas).is_err());
		assert!(heatmap_grid(&Inputs::default(), 1..=2, &[]).is_err());
		assert!(heatmap_grid(&Inputs::default(), 0..=2, &thetas).is_err());
	}

	#[test]
	fn viridis_ends() {
		assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
		assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
		assert_eq!(viridis(2.0), viridis(1.0));
		assert_eq!(viridis(f64::NAN), viridis(0.0));
	}

	#[test]
	fn figure5_writes_svg_and_png_with_labels() {
		if !font_or_skip() {
			return;
		}
		let dir = tempfile::tempdir().unwrap();
		let out = dir.path().join("plots");
		let files = figure5(&Inputs::paper_figure5(), &FIGURE5_NS, &out).unwrap();
		assert_eq!(files, [out.join("figure5.svg"), out.join("figure5.png")]);
		for f in &files {
			assert!(std::fs::metadata(f).unwrap().len() > 1000, "{} is too small", f.display());
		}
		let svg = std::fs::read_to_string(&files[0]).unwrap();
		for needle in [
			"chance a cheating JC",
			"looks deterministic to the mediator",
			"∂U_JC/∂p_a",
			"n = 1 mediator runs: best p_a = 0.500",
			"n = 4 mediator runs: best p_a = 0.943",
			"where a curve crosses it",
		] {
			assert!(svg.contains(needle), "figure5.svg lacks {needle:?}");
		}
		let png = std::fs::read(&files[1]).unwrap();
		assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
	}

	#[test]
	fn heatmaps_write_four_files_with_labels_and_annotations() {
		if !font_or_skip() {
			return;
		}
		let dir = tempfile::tempdir().unwrap();
		let thetas = [0.0, 10.0, 50.0];
		let out = heatmaps(&Inputs::default(), 1..=3, &thetas, dir.path()).unwrap();
		let names: Vec<String> = out
			.files
			.iter()
			.filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
			.collect();
		assert_eq!(names, ["min_pa.svg", "min_pa.png", "pv.svg", "pv.png"]);
		for f in &out.files {
			assert!(std::fs::metadata(f).unwrap().len() > 1000, "{} is too small", f.display());
		}
		let min_pa = std::fs::read_to_string(dir.path().join("min_pa.svg")).unwrap();
		for needle in
			["penalty rate", "mediator re-runs", "optimal p_a", "Optimal p_a of a rational JC"]
		{
			assert!(min_pa.contains(needle), "min_pa.svg lacks {needle:?}");
		}
		// Small grids carry each cell's value: n = 2, θ = 50 gives p_a ≈ 0.990.
		let c = out.grid.cell(1, 2).unwrap();
		assert!(min_pa.contains(&short(c.p_a)), "min_pa.svg lacks the cell value {}", short(c.p_a));
		let pv = std::fs::read_to_string(dir.path().join("pv.svg")).unwrap();
		assert!(pv.contains("share of results the JC checks"));
		assert!(pv.contains("verification rate"));
	}
}
