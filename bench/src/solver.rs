//! Figure 6, the solver: time `modicum_offchain::solver`'s minimum-cost maximum
//! matching on 10,000 open job offers × 10,000 open resource offers (realistic and
//! varied: 200 providers and 500 job creators with partial trust lists, 10 mediators,
//! 4 directories and base layers, two architectures, prices, caps and limits spread
//! wide: `solver::sample::market_book`, which the solver's tests use too). Baseline: the
//! same solver on a tenth of the book, and the original MODiCuM's greedy first fit
//! (each job in turn takes its cheapest feasible offer) on that tenth, which it cannot
//! do at full size in reasonable time.

use crate::{
	procfs::round3,
	row::{secs, Quantity, Row},
	setup::say,
	stats::median,
	Ctx,
};
use modicum_offchain::solver::{
	sample::{first_fit, market_book},
	Proposal,
};
use std::time::Instant;

const NOW: u64 = 1_000_000;

/// The figure's row.
pub async fn run(ctx: &Ctx) -> Vec<Row> {
	let size = if ctx.smoke { 100 } else { 10_000 };
	let goal = if ctx.smoke { "≤ 1 s (at 10,000 × 10,000)" } else { "≤ 1 s" };
	let mut row = Row::new(
		"solver",
		&format!("solver: time to match {size} × {size} open offers"),
		"—",
		goal,
	);
	measure(ctx, size, &mut row);
	vec![row]
}

fn measure(ctx: &Ctx, size: usize, row: &mut Row) {
	let reps = if ctx.smoke { 1 } else { 3 };
	let small = size / 10;
	say("solver", format!("{size} × {size} book, {reps} solve(s)"));
	let book = market_book(size, 42, NOW);
	let (full_s, full) = timed(reps, || book.solve(NOW));
	let small_book = market_book(small, 43, NOW);
	let (small_s, small_matches) = timed(reps, || small_book.solve(NOW));
	say("solver", format!("greedy first fit on {small} × {small}"));
	let (greedy_s, greedy) = timed(1, || first_fit(&small_book, NOW));
	let cost = |p: &[Proposal]| p.iter().map(|p| p.cost).sum::<u128>();
	row.measured =
		Some(Quantity::new(full_s, "s", format!("{} ({} matches)", secs(full_s), full.len())));
	row.baseline = Some(Quantity::new(
		small_s,
		"s",
		format!("{small} × {small}: {}; greedy first fit {}", secs(small_s), secs(greedy_s)),
	));
	let ratio = full_s / small_s;
	row.comparison =
		Some(Quantity::new(ratio, "×", format!("×{ratio:.0} time for ×100 offer pairs")));
	row.met = Some(full_s <= 1.0);
	row.notes.push(format!(
		"on the {small} × {small} book the solver matches {} jobs at total cost {}, greedy first fit {} at {}",
		small_matches.len(),
		cost(&small_matches),
		greedy.len(),
		cost(&greedy),
	));
	row.details = serde_json::json!({
		"size": size,
		"repetitions": reps,
		"solve_s": round3(full_s),
		"matches": full.len(),
		"small_size": small,
		"small_solve_s": round3(small_s),
		"small_matches": small_matches.len(),
		"small_total_cost": cost(&small_matches).to_string(),
		"greedy_first_fit_s": round3(greedy_s),
		"greedy_matches": greedy.len(),
		"greedy_total_cost": cost(&greedy).to_string(),
	});
}

/// The median time of `reps` runs of `f`, and its last result.
fn timed<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
	let mut times = Vec::new();
	let mut last = None;
	for _ in 0..reps {
		let start = Instant::now();
		last = Some(f());
		times.push(start.elapsed().as_secs_f64());
	}
	(median(&times), last.expect("at least one run"))
}
