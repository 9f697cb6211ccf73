//! Figure 6, the solver: time `modicum_offchain::solver`'s minimum-cost maximum
//! matching on 10,000 open job offers × 10,000 open resource offers (realistic and
//! varied: 200 providers and 500 job creators with partial trust lists, 10 mediators,
//! 4 directories and base layers, two architectures, prices, caps and limits spread
//! wide: `solver::sample::market_book`, which the solver's tests use too). Baseline: the
//! same solver on a tenth of the book, and the original MODiCuM's greedy first fit
//! (each job in turn takes its cheapest feasible offer) on that tenth, which it cannot
//! do at full size in reasonable time.
//!
//! Then the growth: the same on 100,000 × 100,000 (`solver.large`, beside the 10,000
//! one), and arrivals into that book once its solve is posted (`solver.incremental`):
//! one new job offer or resource offer at a time, matched by [`Book::solve_new`] as
//! the solver daemon does between its periodic whole solves, beside a whole solve of
//! the same book.

use crate::{
	procfs::round3,
	row::{secs, Quantity, Row},
	setup::say,
	stats::median,
	Ctx,
};
use modicum_offchain::solver::{
	sample::{first_fit, market_book},
	Book, JobOfferView, Proposal, ResourceOfferView, SolveOptions,
};
use std::{collections::BTreeSet, time::Instant};

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
	let small_s = measure(ctx, size, &mut row);
	let mut rows = vec![row];
	rows.extend(growth(ctx, size, small_s));
	rows
}

/// Returns the solve time of the `size` book.
fn measure(ctx: &Ctx, size: usize, row: &mut Row) -> f64 {
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
	full_s
}

/// The large book's rows: its whole solve beside the `size` one (`size_s`), and
/// arrivals into it after that solve is posted.
fn growth(ctx: &Ctx, size: usize, size_s: f64) -> Vec<Row> {
	let large = size * 10;
	let mut whole = Row::new(
		"solver.large",
		&format!("solver: time to match {large} × {large} open offers"),
		"—",
		if ctx.smoke { "≤ 10 s (at 100,000 × 100,000)" } else { "≤ 10 s" },
	);
	let mut incremental = Row::new(
		"solver.incremental",
		&format!("solver: time to match one arriving offer into the {large} × {large} book after its solve was posted"),
		"—",
		if ctx.smoke { "≤ 50 ms (into 100,000 × 100,000)" } else { "≤ 50 ms" },
	);
	say("solver.large", format!("{large} × {large} book, 1 solve"));
	let mut book = market_book(large, 44, NOW);
	let arrivals: Vec<(Option<JobOfferView>, Option<ResourceOfferView>)> = book
		.job_offers()
		.step_by(97)
		.zip(book.resource_offers().step_by(89))
		.take(if ctx.smoke { 5 } else { 20 })
		.flat_map(|(j, r)| [(Some(j.clone()), None), (None, Some(r.clone()))])
		.collect();
	let (large_s, first) = timed(1, || book.solve(NOW));
	let growth = large_s / size_s;
	whole.measured =
		Some(Quantity::new(large_s, "s", format!("{} ({} matches)", secs(large_s), first.len())));
	whole.baseline = Some(Quantity::new(size_s, "s", format!("{size} × {size}: {}", secs(size_s))));
	whole.comparison =
		Some(Quantity::new(growth, "×", format!("×{growth:.0} time for ×100 offer pairs")));
	whole.met = Some(large_s <= 10.0);
	whole.details = serde_json::json!({
		"size": large,
		"solve_s": round3(large_s),
		"matches": first.len(),
		"baseline_size": size,
		"baseline_solve_s": round3(size_s),
	});

	post(&mut book, &first);
	say("solver.incremental", format!("{} arrivals, one at a time", arrivals.len()));
	let (left_jobs, left_resources) = (book.job_offers().count(), book.resource_offers().count());
	let (resolve_s, again) = timed(1, || book.solve(NOW));
	let mut times = Vec::new();
	let mut matched = 0;
	for (i, (job, resource)) in arrivals.into_iter().enumerate() {
		let id = u64::MAX / 2 + i as u64;
		let (mut jobs, mut resources) = (BTreeSet::new(), BTreeSet::new());
		if let Some(job) = job {
			book.insert_job_offer(JobOfferView { id, ..job });
			jobs.insert(id);
		}
		if let Some(resource) = resource {
			book.insert_resource_offer(ResourceOfferView { id, ..resource });
			resources.insert(id);
		}
		let start = Instant::now();
		let proposals = book.solve_new(NOW, &jobs, &resources, SolveOptions::default());
		times.push(start.elapsed().as_secs_f64());
		matched += proposals.len();
		post(&mut book, &proposals);
		book.remove_job_offer(id);
		book.remove_resource_offer(id);
	}
	let (typical, worst) = (median(&times), times.iter().copied().fold(0.0, f64::max));
	incremental.measured = Some(Quantity::new(
		typical,
		"s",
		format!(
			"{} median, {} worst ({} of {} arrivals matched)",
			secs(typical),
			secs(worst),
			matched,
			times.len()
		),
	));
	incremental.baseline = Some(Quantity::new(
		resolve_s,
		"s",
		format!("a whole solve of that book: {}", secs(resolve_s)),
	));
	let speedup = resolve_s / typical;
	incremental.comparison =
		Some(Quantity::new(speedup, "×", format!("×{speedup:.0} faster than a whole solve")));
	incremental.met = Some(worst <= 0.050);
	incremental.notes.push(format!(
		"after the posted solve {left_jobs} job offers and {left_resources} resource offers are left, no pair of them feasible (the whole solve finds {}); each arrival is a copy of an offer of the original book under a new id, alternately a job and a resource offer, removed again after its solve",
		again.len()
	));
	incremental.details = serde_json::json!({
		"book_size": large,
		"left_job_offers": left_jobs,
		"left_resource_offers": left_resources,
		"arrivals": times.len(),
		"matched": matched,
		"median_ms": round3(typical * 1000.0),
		"worst_ms": round3(worst * 1000.0),
		"times_ms": times.iter().map(|t| round3(t * 1000.0)).collect::<Vec<_>>(),
		"whole_solve_s": round3(resolve_s),
	});
	vec![whole, incremental]
}

/// What posting `proposals` does to a book: their offers leave it.
fn post(book: &mut Book, proposals: &[Proposal]) {
	for p in proposals {
		book.remove_job_offer(p.job_offer_id);
		book.remove_resource_offer(p.resource_offer_id);
	}
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
