//! Bitsets over the index's resource positions (bit `i % 64` of word `i / 64`) that let
//! a scan pass over offers a job cannot take 64 at a time, before it checks any pair.
//!
//! Every set holds at least the positions that pass its rule, so a scan that visits
//! only positions in all of a job's sets still visits every feasible pair, and the
//! pair's own check stays the exact one. Late in a large solve most unmatched offers
//! suit nobody still waiting (wrong provider, too small, too thin a deposit); walking
//! them one by one for every such job was most of the solve's time.
//!
//! - Capacities (instructions, memory, local storage, bandwidth) have ladders: the
//!   positions whose cap is at least each of up to [`RUNGS`] thresholds taken from the
//!   caps themselves. A job takes the highest threshold not above its own limit.
//! - Rules 8 and 10 have one set per directory and per base layer that jobs use: the
//!   positions whose provider trusts or supports it. Mediators have one set each (the
//!   first [`MOST_MEDIATOR_SETS`] in preference order): positions whose provider trusts
//!   it. A job ORs the sets of the mediators it could use.
//! - A value without a set (more directories, layers or mediators than are worth a
//!   set each) simply does not filter.

use super::{AccountId, Hash};
use std::collections::HashMap;

/// Whether a solve builds the filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filtering {
	/// When the book has enough jobs for them to pay off.
	Auto,
	/// Always (tests compare a solve with them to one without).
	#[cfg_attr(not(test), allow(dead_code))]
	Always,
	/// Never.
	#[cfg_attr(not(test), allow(dead_code))]
	Never,
}

/// One bit per position.
pub(crate) type Words = Vec<u64>;

/// How many thresholds a capacity ladder has at most: each costs a bit per position,
/// and between two of them the exact check sorts out at most 1/`RUNGS` of the caps.
const RUNGS: usize = 32;
/// Mediators with a set of their own; a job that may use another one is not filtered
/// by mediator.
pub(crate) const MOST_MEDIATOR_SETS: usize = 64;
/// Directories, and base layers, with a set of their own (the ones most jobs use).
const MOST_VALUE_SETS: usize = 64;

fn words_for(len: usize) -> usize {
	len.div_ceil(64)
}

fn set_bit(words: &mut [u64], i: usize) {
	if let Some(w) = words.get_mut(i / 64) {
		*w |= 1 << (i % 64);
	}
}

/// The positions of `bits` (by word) set where `keep(position)`.
fn positions_where(len: usize, keep: impl Fn(usize) -> bool) -> Words {
	let mut words = vec![0; words_for(len)];
	(0..len).filter(|i| keep(*i)).for_each(|i| set_bit(&mut words, i));
	words
}

/// Which positions are still unmatched. Matched positions are never freed again during
/// a solve.
pub(crate) struct FreeSet {
	words: Words,
}

impl FreeSet {
	/// All `len` positions unmatched.
	pub fn new(len: usize) -> Self {
		FreeSet { words: positions_where(len, |_| true) }
	}

	/// Whether `position` is unmatched.
	pub fn is_free(&self, position: usize) -> bool {
		self.words.get(position / 64).is_some_and(|w| w >> (position % 64) & 1 == 1)
	}

	/// Records that `position` is now matched (for the rest of the solve).
	pub fn mark_matched(&mut self, position: usize) {
		if let Some(w) = self.words.get_mut(position / 64) {
			*w &= !(1 << (position % 64));
		}
	}

	/// Word `w`'s unmatched positions.
	pub fn word(&self, w: usize) -> u64 {
		self.words.get(w).copied().unwrap_or(0)
	}
}

/// The positions whose value reaches each threshold.
struct Ladder {
	/// Ascending, distinct, all above the smallest value.
	thresholds: Vec<u64>,
	/// `sets[k]`: positions whose value is at least `thresholds[k]`.
	sets: Vec<Words>,
	/// The largest value: no position reaches a limit above it.
	largest: u64,
}

impl Ladder {
	fn build(values: &[u64]) -> Ladder {
		let mut sorted = values.to_vec();
		sorted.sort_unstable();
		let mut thresholds: Vec<u64> =
			(1..RUNGS).filter_map(|k| sorted.get(k * sorted.len() / RUNGS).copied()).collect();
		thresholds.dedup();
		// A threshold at the smallest value holds every position: it would filter nothing.
		thresholds.retain(|t| sorted.first().is_some_and(|least| t > least));
		let sets =
			thresholds.iter().map(|t| positions_where(values.len(), |i| values[i] >= *t)).collect();
		Ladder { thresholds, sets, largest: sorted.last().copied().unwrap_or(0) }
	}

	/// The narrowest set holding every position whose value is at least `limit`, or
	/// `None` when any position may.
	fn at_least(&self, limit: u64) -> Option<&[u64]> {
		if limit > self.largest {
			return Some(&[]);
		}
		let reached = self.thresholds.partition_point(|t| *t <= limit);
		reached.checked_sub(1).and_then(|k| self.sets.get(k)).map(Vec::as_slice)
	}
}

/// One resource position as the filters see it.
pub(crate) struct Position {
	/// Number of its provider.
	pub provider: u32,
	/// Instruction (as lowered by the deposit), memory, local storage and bandwidth caps.
	pub caps: [u64; 4],
}

/// One provider's lists, sorted.
pub(crate) struct ProviderLists<'a> {
	/// Directories it trusts.
	pub directories: &'a [AccountId],
	/// Base layers it supports.
	pub base_layers: &'a [Hash],
	/// Numbers of the mediators it trusts.
	pub mediators: &'a [u32],
}

/// A job's side of the filters: its limits, and what its class and creator allow.
pub(crate) struct JobNeeds<'a> {
	/// Instruction, memory, local storage and bandwidth limits, in the caps' order.
	pub limits: [u64; 4],
	/// Its directory.
	pub directory: &'a AccountId,
	/// Its base layer.
	pub base_layer: &'a Hash,
	/// Every mediator it could be matched with on some provider, or `None` if unknown.
	pub mediators: Option<&'a [u32]>,
}

/// The index's filters.
pub(crate) struct Filters {
	capacities: [Ladder; 4],
	directories: HashMap<AccountId, Words>,
	base_layers: HashMap<Hash, Words>,
	mediators: Vec<Words>,
}

/// The `most` values used by most jobs, most used first.
fn most_used<T: Copy + Ord + std::hash::Hash>(
	used: impl Iterator<Item = T>,
	most: usize,
) -> Vec<T> {
	let mut counts: HashMap<T, usize> = HashMap::new();
	used.for_each(|v| *counts.entry(v).or_default() += 1);
	let mut by_use: Vec<(usize, T)> = counts.into_iter().map(|(v, n)| (n, v)).collect();
	by_use.sort_unstable_by(|a, b| b.cmp(a));
	by_use.into_iter().take(most).map(|(_, v)| v).collect()
}

impl Filters {
	/// The filters of `positions`, with a set for each of the directories and base
	/// layers `jobs` use most and for the first mediators.
	pub fn build<'a>(
		positions: &[Position],
		providers: &[ProviderLists<'_>],
		jobs: impl Iterator<Item = (&'a AccountId, &'a Hash)> + Clone,
		mediator_count: usize,
	) -> Filters {
		let len = positions.len();
		let capacities = [0, 1, 2, 3]
			.map(|d| Ladder::build(&positions.iter().map(|p| p.caps[d]).collect::<Vec<_>>()));
		// A provider's answer, spread over its positions.
		let spread = |holds: &dyn Fn(&ProviderLists<'_>) -> bool| -> Words {
			let answers: Vec<bool> = providers.iter().map(holds).collect();
			positions_where(len, |i| answers.get(positions[i].provider as usize) == Some(&true))
		};
		let directories = most_used(jobs.clone().map(|(d, _)| *d), MOST_VALUE_SETS)
			.into_iter()
			.map(|d| (d, spread(&|p| p.directories.binary_search(&d).is_ok())))
			.collect();
		let base_layers = most_used(jobs.map(|(_, l)| *l), MOST_VALUE_SETS)
			.into_iter()
			.map(|l| (l, spread(&|p| p.base_layers.binary_search(&l).is_ok())))
			.collect();
		let mediators = (0..mediator_count.min(MOST_MEDIATOR_SETS) as u32)
			.map(|m| spread(&|p| p.mediators.binary_search(&m).is_ok()))
			.collect();
		Filters { capacities, directories, base_layers, mediators }
	}

	/// The sets a job's positions must be in.
	pub fn for_job<'f>(&'f self, needs: &JobNeeds<'_>) -> JobFilter<'f> {
		let mut all: Vec<&'f [u64]> = Vec::with_capacity(6);
		for (ladder, limit) in self.capacities.iter().zip(needs.limits) {
			all.extend(ladder.at_least(limit));
		}
		all.extend(self.directories.get(needs.directory).map(Vec::as_slice));
		all.extend(self.base_layers.get(needs.base_layer).map(Vec::as_slice));
		let any = needs.mediators.and_then(|mediators| {
			mediators
				.iter()
				.map(|m| self.mediators.get(*m as usize).map(Vec::as_slice))
				.collect::<Option<Vec<&'f [u64]>>>()
		});
		JobFilter { all, any }
	}
}

/// The sets one job's positions must be in: all of `all`, and one of `any` when it is
/// known (an empty `any` lets nothing through: no mediator could serve the job).
pub(crate) struct JobFilter<'f> {
	all: Vec<&'f [u64]>,
	any: Option<Vec<&'f [u64]>>,
}

impl JobFilter<'_> {
	/// A filter that lets every position through.
	pub fn everything() -> Self {
		JobFilter { all: Vec::new(), any: None }
	}

	/// Word `w` of the positions the job may take.
	pub fn word(&self, w: usize) -> u64 {
		let mut bits =
			self.all.iter().fold(!0u64, |acc, set| acc & set.get(w).copied().unwrap_or(0));
		if let Some(any) = &self.any {
			bits &= any.iter().fold(0u64, |acc, set| acc | set.get(w).copied().unwrap_or(0));
		}
		bits
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::solver::{matching::solve_filtered, sample::market_book, SolveOptions};

	#[test]
	fn a_solve_with_the_filters_proposes_exactly_what_one_without_does() {
		const NOW: u64 = 1_000_000;
		for (size, seed, k) in [(300, 1, 32), (1_500, 2, 32), (1_500, 3, 2)] {
			let book = market_book(size, seed, NOW);
			let options = SolveOptions { candidates_per_job: k };
			let with = solve_filtered(book.parts(), NOW, options, Filtering::Always);
			let without = solve_filtered(book.parts(), NOW, options, Filtering::Never);
			assert_eq!(with, without, "{size} offers, seed {seed}, K = {k}");
			assert!(with.len() > size / 3, "only {} matches", with.len());
		}
	}

	fn positions(caps: &[[u64; 4]], providers: &[u32]) -> Vec<Position> {
		caps.iter().zip(providers).map(|(c, p)| Position { provider: *p, caps: *c }).collect()
	}

	#[test]
	fn a_ladder_keeps_every_position_that_reaches_the_limit() {
		let values: Vec<u64> = (0..1_000).map(|i| (i * 7_919) % 1_000).collect();
		let ladder = Ladder::build(&values);
		assert!(ladder.thresholds.len() > 20);
		for limit in [0, 1, 31, 500, 950, 968, 999, 1_000, u64::MAX] {
			let expected = positions_where(values.len(), |i| values[i] >= limit);
			match ladder.at_least(limit) {
				// Every wanted position is kept, and at most a rung's worth besides.
				Some(set) if limit > 999 => assert!(set.is_empty()),
				Some(set) => {
					let kept: u32 = set.iter().map(|w| w.count_ones()).sum();
					let wanted: u32 = expected.iter().map(|w| w.count_ones()).sum();
					assert!(set.iter().zip(&expected).all(|(s, e)| e & !s == 0));
					assert!(kept - wanted <= 1_000 / RUNGS as u32 + 1, "limit {limit}");
				},
				None => assert!(limit < ladder.thresholds[0]),
			}
		}
	}

	#[test]
	fn a_job_filter_keeps_exactly_the_compatible_providers_positions() {
		let dir = [1u8; 32];
		let layer = [2u8; 32];
		let other = [3u8; 32];
		let lists = [
			ProviderLists { directories: &[dir], base_layers: &[layer], mediators: &[0] },
			ProviderLists { directories: &[other], base_layers: &[layer], mediators: &[0] },
			ProviderLists { directories: &[dir], base_layers: &[other], mediators: &[0] },
			ProviderLists { directories: &[dir], base_layers: &[layer], mediators: &[1] },
		];
		let caps = [[10; 4]; 130];
		let owners: Vec<u32> = (0..130).map(|i| i % 4).collect();
		let filters = Filters::build(
			&positions(&caps, &owners),
			&lists,
			[(&dir, &layer), (&other, &other)].into_iter(),
			2,
		);
		let needs = JobNeeds {
			limits: [10; 4],
			directory: &dir,
			base_layer: &layer,
			mediators: Some(&[0]),
		};
		let job = filters.for_job(&needs);
		let kept: Vec<usize> = (0..130).filter(|i| job.word(i / 64) >> (i % 64) & 1 == 1).collect();
		assert_eq!(kept, (0..130).filter(|i| i % 4 == 0).collect::<Vec<_>>());
		// No mediator: nothing; mediator unknown: not filtered by mediator.
		let none = filters.for_job(&JobNeeds { mediators: Some(&[]), ..needs });
		assert!((0..3).all(|w| none.word(w) == 0));
		let unknown = filters.for_job(&JobNeeds { mediators: None, ..needs });
		let kept = (0..130).filter(|i| unknown.word(i / 64) >> (i % 64) & 1 == 1).count();
		assert_eq!(kept, 65, "providers 0 and 3");
		// A limit above every cap leaves nothing.
		let big = filters.for_job(&JobNeeds { limits: [11, 10, 10, 10], ..needs });
		assert!((0..3).all(|w| big.word(w) == 0));
	}

	#[test]
	fn a_free_set_forgets_matched_positions() {
		let mut free = FreeSet::new(70);
		assert!(free.is_free(69) && !free.is_free(70));
		assert_eq!(free.word(1), (1 << 6) - 1);
		free.mark_matched(65);
		assert!(!free.is_free(65));
		assert_eq!(free.word(1), (1 << 6) - 1 - (1 << 1));
	}
}
