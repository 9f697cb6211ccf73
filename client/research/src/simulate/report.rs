//! The simulation's report: a markdown file with tables and plots (SVG and PNG), and a
//! sweep of the claims over a grid of (n, θ).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::stats::{SimSummary, TypeStats};
use super::{simulate, SimConfig, SimError};
use crate::fonts::{ensure_font, FAMILY};
use crate::sweep::{create_dir, plot_err, PALETTE};
use crate::ResearchError;

/// Pixel size of the report's plots.
const PLOT_SIZE: (u32, u32) = (1200, 720);

/// One point of a sweep: the run at (n, θ).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
	/// n.
	pub n: u32,
	/// θ.
	pub theta: f64,
	/// The run's results.
	pub summary: SimSummary,
}

/// Runs `base` at every (n, θ) of the grid with `jobs` jobs each.
pub fn sweep(
	base: &SimConfig,
	ns: &[u32],
	thetas: &[f64],
	jobs: usize,
) -> Result<Vec<SweepPoint>, SimError> {
	let mut points = Vec::new();
	for &n in ns {
		for &theta in thetas {
			let config = SimConfig { n, theta, jobs, ..base.clone() };
			points.push(SweepPoint { n, theta, summary: simulate(&config)? });
		}
	}
	Ok(points)
}

/// Everything `write_report` failed on.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
	/// Writing a file failed.
	#[error("cannot write {path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
	/// Plotting failed.
	#[error(transparent)]
	Research(#[from] ResearchError),
}

fn units(v: f64) -> String {
	format!("{v:.3}")
}

fn share(v: Option<f64>) -> String {
	v.map_or("–".into(), |v| format!("{:.1} %", 100.0 * v))
}

fn check(holds: bool) -> &'static str {
	if holds {
		"holds"
	} else {
		"**fails**"
	}
}

/// The markdown of one run (without the sweep).
pub fn markdown(summary: &SimSummary) -> String {
	let c = &summary.config;
	let s = &summary.strategies;
	let m = &summary.money;
	let u = m.unit as f64;
	let mut out = String::new();
	let _ =
		writeln!(out, "## Run: {} jobs, n = {}, θ = {}, seed {}\n", c.jobs, c.n, c.theta, c.seed);
	let _ = writeln!(
		out,
		"Prices and costs in currency units: π_c = π̂_c = π_d = {}, b = {}, c_e = {}, c_d = {}, \
		 c_v = {}; deposits (eq. 2, quoted by the pallet): JC {}, RP {}; π_a: JC {}, RP {}; \
		 π_m = {}. {} JC and {} RP agents per type. A byzantine non-deterministic job gives the \
		 normal result with p_a = {}.\n",
		c.pi_c,
		c.b,
		c.c_e,
		c.c_d,
		c.c_v,
		units(m.jc_deposit as f64 / u),
		units(m.rp_deposit as f64 / u),
		units(m.jc_availability() as f64 / u),
		units(m.rp_availability() as f64 / u),
		units(m.mediation_fee as f64 / u),
		c.population.jcs_per_type,
		c.population.rps_per_type,
		c.byzantine_p_a,
	);
	let _ = writeln!(
		out,
		"Rational plays from the analysis: the JC's job has p_a = {:.4} and it checks with \
		 p_v = {:.4}; the RP runs the job with p_e = {:.4}. Jobs mediated: {:.2} %. Solver, \
		 mediator and directory earned {}, {} and {}.\n",
		s.rational_p_a,
		s.rational_p_v,
		s.rational_p_e,
		100.0 * summary.mediation_rate,
		units(summary.platform_income[0]),
		units(summary.platform_income[1]),
		units(summary.platform_income[2]),
	);
	let _ = writeln!(
		out,
		"| agent type | jobs | mean utility (± s.e.) | spec model | paper, same jobs: simulated / Tables 2–3 | mediated: sim / model | cheating caught: sim / model | fined: sim / model | jobs lost |"
	);
	let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
	for t in &summary.types {
		let paper = match (t.paper_jobs_utility, t.paper_utility) {
			(Some(sim), Some(paper)) => format!(
				"{} / {} ({:.0} % of jobs)",
				units(sim),
				units(paper),
				100.0 * t.paper_coverage
			),
			_ => "not in the paper's game".into(),
		};
		let _ = writeln!(
			out,
			"| {} | {} | {} ± {} | {} | {} | {} / {} | {} / {} | {} / {} | {} |",
			t.label,
			t.jobs,
			units(t.mean_utility),
			units(t.utility_stderr),
			units(t.expected_utility),
			paper,
			share(Some(t.mediation_rate)),
			share(Some(t.expected_mediation_rate)),
			share(t.caught_share),
			share(t.expected_caught_share),
			units(t.fined),
			units(t.expected_fined),
			t.losing_jobs,
		);
	}
	let cl = &summary.claims;
	let _ = writeln!(out, "\n### Claims\n");
	let _ = writeln!(
		out,
		"- Funds conserved after every job (balances + burnt fines = endowments, total issuance \
		 fell by exactly the fines, the pallet's `try_state` held): {}; burnt {}.",
		check(cl.funds_conserved),
		units(cl.burnt)
	);
	let _ = writeln!(
		out,
		"- Honest agents never lose money on a job: {}.",
		check(cl.honest_never_lose())
	);
	for l in &cl.honest_losses {
		let _ = writeln!(
			out,
			"  - {} against {}: lost on {} of {} jobs, worst {}.",
			l.honest,
			l.counterpart,
			l.losing_jobs,
			l.jobs,
			units(l.worst)
		);
	}
	let _ = writeln!(
		out,
		"- A cheater's gain on one job is bounded (JC: π_c + π_d, RP: c_e − c_d): {}.",
		check(cl.gains_bounded())
	);
	let _ = writeln!(
		out,
		"- Cheating does not pay (each byzantine type earns less than the honest type of its \
		 role, judged on the spec model's expectation; the simulated difference beside it): {}.",
		check(cl.cheating_does_not_pay())
	);
	for g in &cl.cheat_gains {
		let _ = writeln!(
			out,
			"  - {}: cheated {} times, largest gain {} (bound {}), mean utility {} the honest \
			 type's (simulated: {}).",
			g.cheater,
			g.cheats,
			units(g.max_gain),
			units(g.bound),
			signed(g.expected_advantage),
			signed(g.advantage_over_honest),
		);
	}
	let a = &summary.adversaries;
	let _ = writeln!(
		out,
		"- Accounts that signed nothing in a hostile match lose nothing by it: {}. A \
		 self-dealer (JC, RP and its own mediator) ruled the directory at fault {} times: the \
		 directory's balance changed by {}, the self-dealer's by {}. A griefer took {} of the \
		 mediator's slots at the longest deadline allowed: the mediator's balance changed by \
		 {} (its availability prices).",
		check(a.uninvolved_never_lose()),
		a.self_dealing_rounds,
		units(-a.directory_loss + 0.0),
		units(a.self_dealer_gain + 0.0),
		a.griefing_slots,
		units(-a.mediator_loss + 0.0),
	);
	let _ = writeln!(
		out,
		"- Attacks do not pay: {}. Griefing cost the griefer {} (at least {} a slot, the \
		 availability prices), and a stranger freed every slot once its deadline and the \
		 grace had passed: {}.",
		check(a.attacks_do_not_pay()),
		units(a.griefer_cost),
		units(a.cost_per_slot),
		check(a.slots_freed),
	);
	out
}

/// What the reader needs to read the tables right.
const NOTES: &str = "### Reading the tables\n\n\
- *Rational* agents play the analysis' equilibrium, which assumes a rational counterpart. In \
  a mixed population that play is not a best response: the rational RP forges with \
  probability 1 − p_e and meets JCs that always check, so it loses far more than the paper's \
  tables predict for it against a rational JC.\n\
- The paper's game and the spec differ on one mediation outcome: when a forged result is \
  disputed and all n mediator runs agree on the job's *abnormal* output (probability \
  (1 − p_a)^n), the spec blames the RP (its result matches none of the runs) while the \
  paper's U_DV counts it against the JC. The simulated and spec-model columns follow the \
  spec; the paper column keeps the paper's rule, which is why non-deterministic JCs fare \
  worse there.\n\
- An honest RP can lose its deposit to a non-deterministic job: when its own run is the \
  abnormal one and all n mediator runs are normal (probability (1 − p_a)·p_a^n). The \
  protocol has no defence but n; the losses below say how often it happened.\n";

fn signed(v: f64) -> String {
	if v >= 0.0 {
		format!("{} above", units(v))
	} else {
		format!("{} below", units(-v))
	}
}

/// The sweep's table and every failed claim, with numbers.
pub fn sweep_markdown(points: &[SweepPoint]) -> String {
	let mut out = String::new();
	let Some(first) = points.first() else { return out };
	let _ = writeln!(
		out,
		"## Sweep over (n, θ), {} jobs per point\n\nMean utility of each cheating type minus \
		 the honest type of its role, simulated / spec model (negative: cheating does not \
		 pay), and the claims.\n",
		first.summary.config.jobs
	);
	let cheaters: Vec<String> =
		first.summary.claims.cheat_gains.iter().map(|g| g.cheater.clone()).collect();
	let _ = write!(out, "| n | θ | RP deposit |");
	for c in &cheaters {
		let _ = write!(out, " {c} |");
	}
	let _ = writeln!(out, " honest never lose | gains bounded | cheating does not pay |");
	let _ = writeln!(out, "|---:|---:|---:|{}---|---|---|", "---:|".repeat(cheaters.len()));
	for p in points {
		let s = &p.summary;
		let _ = write!(
			out,
			"| {} | {} | {} |",
			p.n,
			p.theta,
			units(s.money.rp_deposit as f64 / s.money.unit as f64)
		);
		for g in &s.claims.cheat_gains {
			let _ = write!(
				out,
				" {} / {} |",
				units(g.advantage_over_honest),
				units(g.expected_advantage)
			);
		}
		let _ = writeln!(
			out,
			" {} | {} | {} |",
			check(s.claims.honest_never_lose()),
			check(s.claims.gains_bounded()),
			check(s.claims.cheating_does_not_pay())
		);
	}
	let _ = writeln!(out, "\n### Where a claim fails\n");
	let mut any = false;
	for p in points {
		let cl = &p.summary.claims;
		for l in &cl.honest_losses {
			any = true;
			let _ = writeln!(
				out,
				"- n = {}, θ = {}: {} lost against {} on {} of {} jobs (worst {}).",
				p.n,
				p.theta,
				l.honest,
				l.counterpart,
				l.losing_jobs,
				l.jobs,
				units(l.worst)
			);
		}
		for g in cl
			.cheat_gains
			.iter()
			.filter(|g| g.expected_advantage >= 0.0 || g.max_gain > g.bound + 1e-5)
		{
			any = true;
			let _ = writeln!(
				out,
				"- n = {}, θ = {}: {} earns {} the honest type in expectation (simulated {}; largest \
				 gain on a job {}, bound {}).",
				p.n,
				p.theta,
				g.cheater,
				signed(g.expected_advantage),
				signed(g.advantage_over_honest),
				units(g.max_gain),
				units(g.bound)
			);
		}
	}
	if !any {
		let _ = writeln!(out, "No claim fails on this grid.");
	}
	out
}

/// Writes `report.md`, `report.json`, `utility.{svg,png}` and, with a sweep,
/// `sweep.{svg,png}` into `dir`; returns the files written.
pub fn write_report(
	summary: &SimSummary,
	points: &[SweepPoint],
	dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
	create_dir(dir)?;
	ensure_font()?;
	let mut files = Vec::new();
	let svg = dir.join("utility.svg");
	draw_utilities(&SVGBackend::new(&svg, PLOT_SIZE).into_drawing_area(), summary)?;
	let png = dir.join("utility.png");
	draw_utilities(&BitMapBackend::new(&png, PLOT_SIZE).into_drawing_area(), summary)?;
	files.extend([svg, png]);
	if !points.is_empty() {
		let svg = dir.join("sweep.svg");
		draw_sweep(&SVGBackend::new(&svg, PLOT_SIZE).into_drawing_area(), points)?;
		let png = dir.join("sweep.png");
		draw_sweep(&BitMapBackend::new(&png, PLOT_SIZE).into_drawing_area(), points)?;
		files.extend([svg, png]);
	}
	let mut md = String::from(
		"# BAR simulation against the compute-market pallet\n\nGenerated by `modicum research \
		 simulate`. Every job ran through the real pallet in test externalities; utilities are in \
		 currency units per job (on-chain money, plus b for a job that was run, minus c_e, c_d or \
		 c_v spent). *Spec model*: the expectation from the pairings' plays and the pallet's \
		 close-path rules; *paper*: Tables 2 and 3 for the pairings the paper's game covers.\n\n",
	);
	md.push_str(&markdown(summary));
	md.push('\n');
	md.push_str(NOTES);
	md.push_str("\n![Mean utility per agent type](utility.svg)\n\n");
	if !points.is_empty() {
		md.push_str(&sweep_markdown(points));
		md.push_str("\n![Cheating advantage over (n, θ)](sweep.svg)\n");
	}
	let write = |name: &str, text: &str| -> Result<PathBuf, ReportError> {
		let path = dir.join(name);
		std::fs::write(&path, text)
			.map_err(|source| ReportError::Io { path: path.clone(), source })?;
		Ok(path)
	};
	files.push(write("report.md", &md)?);
	let json = serde_json::json!({ "run": summary, "sweep": points });
	files.push(write(
		"report.json",
		&serde_json::to_string_pretty(&json).map_err(ResearchError::Json)?,
	)?);
	Ok(files)
}

/// Reads one bar's value off a type's figures.
type Figure = fn(&TypeStats) -> Option<f64>;

fn draw_utilities<DB: DrawingBackend>(
	root: &DrawingArea<DB, Shift>,
	summary: &SimSummary,
) -> Result<(), ResearchError> {
	root.fill(&WHITE).map_err(plot_err)?;
	let types: &[TypeStats] = &summary.types;
	let values = types
		.iter()
		.flat_map(|t| [t.mean_utility, t.expected_utility, t.paper_utility.unwrap_or(0.0)]);
	let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
	let pad = 0.08 * (hi - lo).max(1e-9);
	let c = &summary.config;
	let mut chart = ChartBuilder::on(root)
		.caption(
			format!(
				"Mean utility per job by agent type (n = {}, θ = {}, {} jobs)",
				c.n, c.theta, c.jobs
			),
			(FAMILY, 22),
		)
		.margin(20)
		.x_label_area_size(40)
		.y_label_area_size(90)
		.build_cartesian_2d(0f64..types.len() as f64, (lo - pad)..(hi + 2.0 * pad))
		.map_err(plot_err)?;
	chart
		.configure_mesh()
		.disable_x_mesh()
		.x_labels(0)
		.y_desc("utility per job (currency units)")
		.axis_desc_style((FAMILY, 17))
		.label_style((FAMILY, 14))
		.draw()
		.map_err(plot_err)?;
	let series: [(&str, Figure); 3] = [
		("simulated", |t| Some(t.mean_utility)),
		("spec model", |t| Some(t.expected_utility)),
		("paper (Tables 2–3)", |t| t.paper_utility),
	];
	for (k, (name, value)) in series.iter().enumerate() {
		let color = PALETTE[k];
		let bars = types.iter().enumerate().filter_map(|(i, t)| {
			let v = value(t)?;
			let x = i as f64 + 0.12 + 0.25 * k as f64;
			Some(Rectangle::new([(x, 0.0), (x + 0.24, v)], color.filled()))
		});
		chart
			.draw_series(bars)
			.map_err(plot_err)?
			.label(*name)
			.legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled()));
	}
	// Type names above each group, on two lines (role, then kind), so neighbours never
	// overlap and no rotated axis labels are needed.
	for (i, t) in types.iter().enumerate() {
		let (role, kind) = t.label.split_once(' ').unwrap_or(("", t.label.as_str()));
		let kind = kind.replace("byzantine: ", "").replace("non-deterministic", "non-det.");
		let kind = kind.replace(" results", "");
		for (line, text) in [(0.0, role.to_string()), (1.0, kind)] {
			chart
				.draw_series(std::iter::once(Text::new(
					text,
					(i as f64 + 0.1, hi + pad * (0.9 - 0.35 * line)),
					(FAMILY, 13).into_font(),
				)))
				.map_err(plot_err)?;
		}
	}
	chart
		.configure_series_labels()
		.position(SeriesLabelPosition::LowerLeft)
		.background_style(WHITE.mix(0.9))
		.border_style(BLACK)
		.label_font((FAMILY, 15))
		.draw()
		.map_err(plot_err)?;
	Ok(())
}

fn draw_sweep<DB: DrawingBackend>(
	root: &DrawingArea<DB, Shift>,
	points: &[SweepPoint],
) -> Result<(), ResearchError> {
	root.fill(&WHITE).map_err(plot_err)?;
	let mut thetas: Vec<f64> = points.iter().map(|p| p.theta).collect();
	thetas.sort_by(f64::total_cmp);
	thetas.dedup();
	let mut ns: Vec<u32> = points.iter().map(|p| p.n).collect();
	ns.sort_unstable();
	ns.dedup();
	let cheaters: Vec<String> =
		points[0].summary.claims.cheat_gains.iter().map(|g| g.cheater.clone()).collect();
	let all = points
		.iter()
		.flat_map(|p| p.summary.claims.cheat_gains.iter().map(|g| g.expected_advantage));
	let (lo, hi) = all.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
	let pad = 0.08 * (hi - lo).max(1e-9);
	let x_of = |theta: f64| thetas.iter().position(|t| *t == theta).unwrap_or(0) as f64;
	let mut chart = ChartBuilder::on(root)
		.caption(
			"Does cheating pay? Cheater's expected utility minus the honest type's",
			(FAMILY, 22),
		)
		.margin(20)
		.x_label_area_size(60)
		.y_label_area_size(90)
		.build_cartesian_2d(-0.2f64..(thetas.len() as f64 - 0.8), (lo - pad)..(hi + pad))
		.map_err(plot_err)?;
	let theta_labels = thetas.clone();
	chart
		.configure_mesh()
		.x_labels(thetas.len())
		.x_label_formatter(&|x| {
			let i = x.round() as usize;
			theta_labels.get(i).map_or(String::new(), |t| format!("θ = {t}"))
		})
		.x_desc("penalty rate θ")
		.y_desc("advantage per job (currency units; < 0: cheating loses)")
		.axis_desc_style((FAMILY, 17))
		.label_style((FAMILY, 14))
		.draw()
		.map_err(plot_err)?;
	chart
		.draw_series(LineSeries::new(
			[(-0.2, 0.0), (thetas.len() as f64 - 0.8, 0.0)],
			BLACK.stroke_width(1),
		))
		.map_err(plot_err)?;
	for (c, cheater) in cheaters.iter().enumerate() {
		for (k, n) in ns.iter().enumerate() {
			let color = PALETTE[c % PALETTE.len()];
			// Thicker lines for larger n, so one colour per cheater is enough.
			let style = color.stroke_width(1 + 2 * k as u32);
			let line = points.iter().filter(|p| p.n == *n).filter_map(|p| {
				let g = p.summary.claims.cheat_gains.iter().find(|g| &g.cheater == cheater)?;
				Some((x_of(p.theta), g.expected_advantage))
			});
			let line: Vec<(f64, f64)> = line.collect();
			chart
				.draw_series(PointSeries::of_element(
					line.clone(),
					4,
					color.filled(),
					&|c, s, st| Circle::new(c, s, st),
				))
				.map_err(plot_err)?;
			chart
				.draw_series(LineSeries::new(line, style))
				.map_err(plot_err)?
				.label(format!("{cheater}, n = {n}"))
				.legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
		}
	}
	chart
		.configure_series_labels()
		.position(SeriesLabelPosition::LowerLeft)
		.background_style(WHITE.mix(0.9))
		.border_style(BLACK)
		.label_font((FAMILY, 12))
		.draw()
		.map_err(plot_err)?;
	Ok(())
}
