//! Figure 6, the solver: time `modicum_offchain::solver`'s minimum-cost maximum
//! matching on 10,000 open job offers × 10,000 open resource offers (realistic and
//! varied: 200 providers and 500 job creators with partial trust lists, 10 mediators,
//! 4 directories and base layers, two architectures, prices, caps and limits spread
//! wide; the shape of the solver's own ignored `solve_10k_by_10k` test). Baseline: the
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
	pair_cost, AccountId, Architecture, Book, JobCreatorView, JobOfferView, MediatorView, Proposal,
	ProviderView, ResourceOfferView,
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
	measure(ctx, size, &mut row);
	vec![row]
}

fn measure(ctx: &Ctx, size: usize, row: &mut Row) {
	let reps = if ctx.smoke { 1 } else { 3 };
	let small = size / 10;
	say("solver", format!("{size} × {size} book, {reps} solve(s)"));
	let book = random_book(size, 42);
	let (full_s, full) = timed(reps, || book.solve(NOW));
	let small_book = random_book(small, 43);
	let (small_s, small_matches) = timed(reps, || small_book.solve(NOW));
	say("solver", format!("greedy first fit on {small} × {small}"));
	let (greedy_s, greedy) = timed(1, || first_fit(&small_book));
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

/// splitmix64: tiny and deterministic, so every run solves the same book.
struct Rng(u64);

impl Rng {
	fn next(&mut self) -> u64 {
		self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
		z ^ (z >> 31)
	}

	fn below(&mut self, n: u64) -> u64 {
		self.next() % n.max(1)
	}

	fn chance(&mut self, percent: u64) -> bool {
		self.below(100) < percent
	}

	fn pick<T: Copy>(&mut self, items: &[T]) -> T {
		items[self.below(items.len() as u64) as usize]
	}

	fn subset<T: Copy>(&mut self, items: &[T], percent: u64) -> Vec<T> {
		items.iter().copied().filter(|_| self.chance(percent)).collect()
	}

	fn arch(&mut self) -> Architecture {
		if self.chance(90) {
			Architecture::Amd64
		} else {
			Architecture::Arm64
		}
	}
}

fn account(kind: u8, i: u32) -> AccountId {
	let mut a = [0u8; 32];
	a[..4].copy_from_slice(&i.to_le_bytes());
	a[31] = kind;
	a
}

/// A book of `size` job offers and `size` resource offers; providers and job creators
/// scale with it (200 and 500 at 10,000).
pub fn random_book(size: usize, seed: u64) -> Book {
	let mut rng = Rng(seed);
	let mut book = Book::new();
	let directories: Vec<AccountId> = (0..4).map(|i| account(3, i)).collect();
	let layers: Vec<AccountId> = (0..4).map(|i| account(4, i)).collect();
	let mediators: Vec<AccountId> = (0..10).map(|i| account(5, i)).collect();
	for m in &mediators {
		book.upsert_mediator(
			*m,
			MediatorView {
				arch: rng.arch(),
				availability_price: u128::from(10 + rng.below(50)),
				trusted_directories: rng.subset(&directories, 75),
				base_layers: rng.subset(&layers, 75),
			},
		);
	}
	let providers: Vec<AccountId> = (0..(size / 50).max(2) as u32).map(|i| account(2, i)).collect();
	for p in &providers {
		book.upsert_provider(
			*p,
			ProviderView {
				arch: rng.arch(),
				time_per_instruction_ns: 200_000 + rng.below(1_800_000),
				trusted_mediators: rng.subset(&mediators, 60),
				trusted_directories: rng.subset(&directories, 75),
				base_layers: rng.subset(&layers, 75),
			},
		);
	}
	let job_creators: Vec<AccountId> =
		(0..(size / 20).max(2) as u32).map(|i| account(1, i)).collect();
	for j in &job_creators {
		book.upsert_job_creator(
			*j,
			JobCreatorView { trusted_mediators: rng.subset(&mediators, 60) },
		);
	}
	for i in 0..size as u64 {
		book.insert_resource_offer(ResourceOfferView {
			id: 1_000_000 + i,
			owner: rng.pick(&providers),
			instruction_price: u128::from(1_000 + rng.below(9_000)),
			instruction_cap: 100_000 + rng.below(900_000),
			memory_cap: (256 + rng.below(3_840)) << 20,
			local_storage_cap: (64 + rng.below(1_000)) << 20,
			bandwidth_cap: (100 + rng.below(900)) << 20,
			bandwidth_price: u128::from(rng.below(3)),
			match_incentive: 0,
			expires_at: NOW + 600_000,
		});
	}
	for i in 0..size as u64 {
		let arch = rng.arch();
		book.insert_job_offer(JobOfferView {
			id: 1 + i,
			owner: rng.pick(&job_creators),
			instruction_limit: 10_000 + rng.below(500_000),
			bandwidth_limit: (1 + rng.below(200)) << 20,
			instruction_max_price: u128::from(3_000 + rng.below(9_000)),
			bandwidth_max_price: 2,
			completion_deadline: NOW + 3_600_000,
			match_incentive: 0,
			first_layer_hash: rng.pick(&layers),
			ram_limit: (64 + rng.below(2_048)) << 20,
			local_storage_limit: (16 + rng.below(512)) << 20,
			directory: rng.pick(&directories),
			arch,
			expires_at: NOW + 600_000,
			max_mediator_availability_price: 60,
		});
	}
	book
}

/// The original's matcher: each job in id order takes its cheapest feasible unmatched
/// resource offer, with the cheapest feasible mediator. Checks every pair.
pub fn first_fit(book: &Book) -> Vec<Proposal> {
	let mut mediators: Vec<(AccountId, u128)> =
		book.mediators().map(|(a, m)| (*a, m.availability_price)).collect();
	mediators.sort_by_key(|&(a, price)| (price, a));
	let mut taken = BTreeSet::new();
	let mut out = Vec::new();
	for job in book.job_offers() {
		let best = book
			.resource_offers()
			.filter(|r| !taken.contains(&r.id))
			.filter_map(|r| {
				let (m, price) = mediators
					.iter()
					.find(|(m, _)| book.check_pair(job.id, r.id, m, NOW).is_ok())?;
				Some(Proposal {
					job_offer_id: job.id,
					resource_offer_id: r.id,
					mediator: *m,
					cost: pair_cost(job, r, *price),
				})
			})
			.min_by_key(|p| (p.cost, p.resource_offer_id));
		if let Some(p) = best {
			taken.insert(p.resource_offer_id);
			out.push(p);
		}
	}
	out
}
