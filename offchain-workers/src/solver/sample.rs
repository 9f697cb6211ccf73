//! Synthetic offer books and the original MODiCuM matcher, shared by the solver's
//! tests and the benchmark harness so that both time and check the same market.

use super::{
	pair_cost, AccountId, Architecture, Book, DirectoryView, JobCreatorView, JobOfferView,
	MediatorView, Proposal, ProviderView, ResourceOfferView,
};
use std::collections::BTreeSet;

/// splitmix64: tiny and deterministic, so a seed always gives the same book.
pub struct Rng(pub u64);

impl Rng {
	/// The next 64 random bits.
	pub fn next_u64(&mut self) -> u64 {
		self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
		let mut z = self.0;
		z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
		z ^ (z >> 31)
	}

	/// A number in `0..n` (0 when `n` is 0).
	pub fn below(&mut self, n: u64) -> u64 {
		self.next_u64() % n.max(1)
	}

	/// True with the given chance.
	pub fn chance(&mut self, percent: u64) -> bool {
		self.below(100) < percent
	}

	/// One of `items`, which must not be empty.
	pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
		items[self.below(items.len() as u64) as usize]
	}

	/// Each of `items` with the given chance.
	pub fn subset<T: Copy>(&mut self, items: &[T], percent: u64) -> Vec<T> {
		items.iter().copied().filter(|_| self.chance(percent)).collect()
	}

	/// Mostly amd64, one in ten arm64.
	pub fn arch(&mut self) -> Architecture {
		if self.chance(90) {
			Architecture::Amd64
		} else {
			Architecture::Arm64
		}
	}
}

/// An account id for synthetic actor `i` of a kind (the last byte).
pub fn account(kind: u8, i: u32) -> AccountId {
	let mut a = [0u8; 32];
	a[..4].copy_from_slice(&i.to_le_bytes());
	a[31] = kind;
	a
}

/// The dearest instruction price a sample job accepts.
const MAX_JOB_INSTRUCTION_PRICE: u64 = 12_000;
/// The dearest instruction price of a sample mediator's re-runs.
const MEDIATOR_MAX_INSTRUCTION_PRICE: u128 = 3_000;

/// A deposit covering any sample match of this size at θ = 50, n = 2: 51 times the
/// work at `instruction_price` (bandwidth at most 2 a byte) plus two re-runs at the
/// dearest mediator's prices (bandwidth at most 1), plus room for availability.
fn ample_deposit(instructions: u64, instruction_price: u64, bandwidth: u64) -> u128 {
	let work = u128::from(instructions) * u128::from(instruction_price) + 2 * u128::from(bandwidth);
	let fee =
		2 * (u128::from(instructions) * MEDIATOR_MAX_INSTRUCTION_PRICE + u128::from(bandwidth));
	51 * work + fee + 1_000
}

/// A realistic, varied book at time `now`: `size` job offers and `size` resource
/// offers from `size / 50` providers and `size / 20` job creators with partial trust
/// lists, 10 mediators, 4 directories and 4 base layers, two architectures, and prices,
/// caps and limits spread wide, so that every feasibility rule rejects some pairs.
pub fn market_book(size: usize, seed: u64, now: u64) -> Book {
	let mut rng = Rng(seed);
	let mut book = Book::new();
	let directories: Vec<AccountId> = (0..4).map(|i| account(3, i)).collect();
	let layers: Vec<AccountId> = (0..4).map(|i| account(4, i)).collect();
	for d in &directories {
		book.upsert_directory(
			*d,
			DirectoryView { availability_price: u128::from(5 + rng.below(20)) },
		);
	}
	let mediators: Vec<AccountId> = (0..10).map(|i| account(5, i)).collect();
	for m in &mediators {
		book.upsert_mediator(
			*m,
			MediatorView {
				arch: rng.arch(),
				// One in five too slow for the largest jobs' n re-runs within the horizon.
				time_per_instruction_ns: if rng.below(5) == 0 {
					700_000_000
				} else {
					100_000 + rng.below(1_900_000)
				},
				instruction_price: u128::from(1 + rng.below(MEDIATOR_MAX_INSTRUCTION_PRICE as u64)),
				bandwidth_price: u128::from(rng.below(2)),
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
				record: Default::default(),
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
			JobCreatorView { trusted_mediators: rng.subset(&mediators, 60), ..Default::default() },
		);
	}
	for i in 0..size as u64 {
		let instruction_cap = 100_000 + rng.below(900_000);
		let bandwidth_cap = (100 + rng.below(900)) << 20;
		// Enough for any job it can take at any job's prices, but one in ten offers
		// holds only a fraction, so the deposit rule rejects some pairs too.
		let ample = ample_deposit(instruction_cap, MAX_JOB_INSTRUCTION_PRICE, bandwidth_cap);
		book.insert_resource_offer(ResourceOfferView {
			creator_record: None,
			id: 1_000_000 + i,
			owner: rng.pick(&providers),
			instruction_price: u128::from(1_000 + rng.below(9_000)),
			instruction_cap,
			memory_cap: (256 + rng.below(3_840)) << 20,
			local_storage_cap: (64 + rng.below(1_000)) << 20,
			bandwidth_cap,
			bandwidth_price: u128::from(rng.below(3)),
			match_incentive: 0,
			expires_at: now + 600_000,
			deposit: if rng.below(10) == 0 { ample / 40 } else { ample },
		});
	}
	for i in 0..size as u64 {
		let arch = rng.arch();
		let instruction_limit = 10_000 + rng.below(500_000);
		let bandwidth_limit = (1 + rng.below(200)) << 20;
		let instruction_max_price = 3_000 + rng.below(MAX_JOB_INSTRUCTION_PRICE - 3_000);
		let ample = ample_deposit(instruction_limit, instruction_max_price, bandwidth_limit);
		book.insert_job_offer(JobOfferView {
			provider_record: None,
			id: 1 + i,
			owner: rng.pick(&job_creators),
			instruction_limit,
			bandwidth_limit,
			instruction_max_price: u128::from(instruction_max_price),
			bandwidth_max_price: 2,
			completion_deadline: now + 3_600_000,
			match_incentive: 0,
			first_layer_hash: rng.pick(&layers),
			ram_limit: (64 + rng.below(2_048)) << 20,
			local_storage_limit: (16 + rng.below(512)) << 20,
			directory: rng.pick(&directories),
			arch,
			expires_at: now + 600_000,
			deposit: if rng.below(10) == 0 { ample / 40 } else { ample },
			replica: None,
		});
	}
	book
}

/// The original MODiCuM's matcher: each job in id order takes its cheapest feasible
/// unmatched resource offer at `now`, with the cheapest feasible mediator. It checks
/// every pair, so it is only for small books.
pub fn first_fit(book: &Book, now: u64) -> Vec<Proposal> {
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
					.find(|(m, _)| book.check_pair(job.id, r.id, m, now).is_ok())?;
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
