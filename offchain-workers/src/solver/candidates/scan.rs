//! The scan that finds a job's cheapest feasible resource offers without checking
//! every pair: the bands of its architecture's bucket are walked side by side, each in
//! price order, always the one whose next offer could cost the least, until no offer
//! left in any band could enter either list.

use super::{Candidate, Index, JobEntry, NONE};
use crate::solver::{
	feasibility,
	filters::{FreeSet, JobFilter, JobNeeds},
	price_at_limits,
};
use std::collections::BinaryHeap;

/// The result of scanning one job.
pub(crate) struct Scan {
	/// Its K cheapest feasible resource offers.
	pub all: Vec<Candidate>,
	/// Its few cheapest feasible resource offers that are still unmatched.
	pub free: Vec<Candidate>,
	/// Whether `all` holds every feasible offer (fewer than K were found).
	pub complete: bool,
}

/// Scans jobs against the index, remembering each provider's compatibility with the
/// job being scanned.
///
/// The compatibility is not cached across jobs: job classes are nearly as many as
/// jobs in a varied book, so a (class, provider) table is mostly misses, and on the
/// 10,000 × 10,000 benchmark book filling it cost more than recomputing (a few binary
/// searches in short sorted lists).
pub(crate) struct Scanner<'a> {
	index: &'a Index,
	/// The current job's result per provider, valid where `seen[p] == stamp`, so a
	/// provider with many offers is checked once per job.
	seen: Vec<u32>,
	local: Vec<u32>,
	stamp: u32,
	/// The current scan's place in each band, kept to reuse its allocation.
	cursors: Vec<(usize, usize)>,
}

/// Pushes `c` into a max-heap that keeps the `k` smallest candidates.
fn keep_smallest(heap: &mut BinaryHeap<Candidate>, c: Candidate, k: usize) {
	if heap.len() < k {
		heap.push(c);
	} else if heap.peek().is_some_and(|top| c < *top) {
		heap.pop();
		heap.push(c);
	}
}

/// Whether a candidate of this cost could enter a heap keeping the `k` smallest (ties
/// are decided by position, which the cost alone does not know: they are let in).
fn admits_into(heap: &BinaryHeap<Candidate>, k: usize, cost: u128) -> bool {
	heap.len() < k || heap.peek().is_some_and(|top| cost <= top.cost)
}

/// Whether a full heap's worst candidate is cheaper than `bound`, so nothing at or
/// beyond the current scan position can enter it.
fn closed(heap: &BinaryHeap<Candidate>, k: usize, bound: u128) -> bool {
	heap.len() >= k && heap.peek().is_some_and(|top| bound > top.cost)
}

impl<'a> Scanner<'a> {
	/// A scanner with an empty cache.
	pub fn new(index: &'a Index) -> Self {
		Scanner {
			index,
			seen: vec![0; index.providers.len()],
			local: vec![NONE; index.providers.len()],
			stamp: 0,
			cursors: Vec::new(),
		}
	}

	/// The cheapest mediator for the job on `provider`, computed once per job.
	fn mediator(&mut self, job: &JobEntry, provider: u32) -> u32 {
		let p = provider as usize;
		if self.seen[p] == self.stamp {
			return self.local[p];
		}
		let m = self.index.mediator_for(job, provider);
		self.seen[p] = self.stamp;
		self.local[p] = m;
		m
	}

	/// Whether `job` can run on the resource offer at `position` and at what cost:
	/// rules 1 to 4, 6, 11 and 13, then 7 to 10 through the per-job cache, then the
	/// deposits the match needs. Rule 5 and expiry were applied when the index was
	/// built. A pair whose cost `admits` refuses is dropped before the deposits are
	/// checked (their U256 arithmetic is most of a scan's time).
	fn evaluate(
		&mut self,
		job: &JobEntry,
		position: usize,
		admits: &dyn Fn(u128) -> bool,
	) -> Option<Candidate> {
		let index = self.index;
		let r = index.resources.get(position)?;
		if r.bandwidth_price > job.bandwidth_max_price
			|| r.instruction_cap < job.instruction_limit
			|| r.memory_cap < job.ram_limit
			|| r.local_storage_cap < job.local_storage_limit
			|| r.bandwidth_cap < job.bandwidth_limit
		{
			return None;
		}
		let provider = index.providers.get(r.provider as usize)?;
		let run_ns = u128::from(provider.time_per_instruction_ns)
			.saturating_mul(u128::from(job.instruction_limit));
		if run_ns > job.budget_ns {
			return None;
		}
		let class = index.classes.get(job.class as usize)?;
		let creator = index.job_creator_records.get(class.job_creator as usize)?;
		let records = feasibility::records_meet(
			(job.provider_record.as_ref(), &provider.record),
			(r.creator_record.as_ref(), creator),
		);
		if records.is_err() {
			return None;
		}
		if let Some(bar) = &job.replica {
			if bar.barred.contains(&r.provider) {
				return None;
			}
			if let Some(fixed) = bar.mediator {
				// The group's mediator or none: it must be capable and fit the deposits.
				let capable = index.capable_mediators(job, r.provider).any(|m| m == fixed);
				let candidate = index.candidate(job, r, position, fixed)?;
				if !capable || !admits(candidate.cost) || !index.deposits_cover(job, r, fixed) {
					return None;
				}
				return Some(candidate);
			}
		}
		// The cheapest capable mediator nearly always fits the deposits; when it does
		// not, the next ones in preference order are tried, as the chain would accept
		// any of them.
		let first = self.mediator(job, r.provider);
		if first == NONE {
			return None;
		}
		// Mediators come cheapest first: no other one gives a lower cost.
		if !admits(index.candidate(job, r, position, first)?.cost) {
			return None;
		}
		let m = if index.deposits_cover(job, r, first) {
			first
		} else {
			index
				.capable_mediators(job, r.provider)
				.skip_while(|m| *m != first)
				.skip(1)
				.find(|m| index.deposits_cover(job, r, *m))?
		};
		index.candidate(job, r, position, m)
	}

	/// Finds job `job`'s `k` cheapest feasible resource offers, and its `free_k`
	/// cheapest among those `free` still has unmatched. Ties go to the lower position
	/// (lower band, then instruction price, then id), so scans are deterministic.
	///
	/// Each band of the job's bucket is walked in price order up to the job's dearest
	/// instruction price, 64 positions at a time, always the band whose next offer has
	/// the lowest bound on its cost; the scan stops once that bound exceeds the worst
	/// candidate of both full lists, and a band stops as soon as its own bound does.
	/// Offers the job's filters rule out are passed over 64 at a time
	/// ([`crate::solver::filters`]), and so are matched ones once the first list is
	/// settled.
	pub fn scan(&mut self, job: usize, k: usize, free_k: usize, free: &FreeSet) -> Scan {
		let index = self.index;
		let nothing = || Scan { all: Vec::new(), free: Vec::new(), complete: true };
		let Some(job) = index.jobs.get(job) else { return nothing() };
		let (k, free_k) = (k.max(1), free_k.max(1));
		self.stamp = self.stamp.wrapping_add(1);
		if self.stamp == 0 {
			// Wrapped around: old marks could look current, so clear them.
			self.seen.iter_mut().for_each(|s| *s = 0);
			self.stamp = 1;
		}
		let mut all = BinaryHeap::with_capacity(k + 1);
		let mut unmatched = BinaryHeap::with_capacity(free_k + 1);
		let Some(class) = index.classes.get(job.class as usize) else { return nothing() };
		let needs = JobNeeds {
			limits: [
				job.instruction_limit,
				job.ram_limit,
				job.local_storage_limit,
				job.bandwidth_limit,
			],
			directory: &class.directory,
			base_layer: &class.base_layer,
			mediators: Some(&job.mediators),
		};
		let filter =
			index.filters.as_ref().map_or_else(JobFilter::everything, |f| f.for_job(&needs));
		// Every offer of a band from `i` on costs at least this: prices only rise along
		// the band, the bandwidth price is at least the band's suffix minimum, and the
		// mediator's price is not negative.
		let bound_from = |i: usize| {
			price_at_limits(
				index.resources[i].instruction_price,
				job.instruction_limit,
				index.suffix_min_bandwidth_price[i],
				job.bandwidth_limit,
			)
		};
		// Each band's next position and end (its last offer the job may take, plus one).
		let mut cursors = std::mem::take(&mut self.cursors);
		cursors.clear();
		for &(start, end) in index.bands.get(job.arch).map_or(&[][..], Vec::as_slice) {
			let reach =
				index.resources[start..end].partition_point(|r| r.instruction_price <= job.dearest);
			if reach > 0 {
				cursors.push((start, start + reach));
			}
		}
		loop {
			let next = cursors
				.iter()
				.enumerate()
				.filter(|(_, (at, end))| at < end)
				.map(|(band, &(at, _))| (bound_from(at), band))
				.min();
			let Some((bound, band)) = next else { break };
			let all_closed = closed(&all, k, bound);
			if all_closed && closed(&unmatched, free_k, bound) {
				break;
			}
			let (first, end) = cursors[band];
			let w = first / 64;
			cursors[band].0 = ((w + 1) * 64).min(end);
			// Positions of this band's word that pass the job's filters; once the first
			// list is settled, only unmatched ones.
			let in_band = !0u64 << (first % 64) & (!0u64 >> ((w + 1) * 64).saturating_sub(end));
			let mut bits = filter.word(w) & in_band;
			if all_closed {
				bits &= free.word(w);
			}
			while bits != 0 {
				let i = w * 64 + bits.trailing_zeros() as usize;
				bits &= bits - 1;
				let bound = bound_from(i);
				let all_closed = closed(&all, k, bound);
				if all_closed && closed(&unmatched, free_k, bound) {
					// Nothing further along this band can enter either list.
					cursors[band].0 = end;
					break;
				}
				let is_free = free.is_free(i);
				if all_closed && !is_free {
					continue;
				}
				let admits = |cost: u128| {
					(!all_closed && admits_into(&all, k, cost))
						|| (is_free && admits_into(&unmatched, free_k, cost))
				};
				if let Some(c) = self.evaluate(job, i, &admits) {
					if !all_closed {
						keep_smallest(&mut all, c, k);
					}
					if is_free {
						keep_smallest(&mut unmatched, c, free_k);
					}
				}
			}
		}
		self.cursors = cursors;
		let complete = all.len() < k;
		Scan { all: all.into_sorted_vec(), free: unmatched.into_sorted_vec(), complete }
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::solver::{
		candidates::{band_ends, ResourceEntry, MAX_BANDS},
		filters::Filtering,
		sample::{market_book, Rng},
		Book, ResourceOfferView,
	};

	const NOW: u64 = 1_000_000;

	/// The sample market with bandwidth prices spread over `prices` values and jobs that
	/// download up to 1 GiB, so that for many jobs the bandwidth is most of the cost.
	fn book_with_bandwidth_prices(size: usize, prices: u64, seed: u64) -> Book {
		let mut book = market_book(size, seed, NOW);
		let mut rng = Rng(seed);
		let offers: Vec<ResourceOfferView> = book.resource_offers().cloned().collect();
		for offer in offers {
			let bandwidth_price = u128::from(rng.below(prices));
			book.insert_resource_offer(ResourceOfferView { bandwidth_price, ..offer });
		}
		book
	}

	/// Every candidate of `job` in its reach, found position by position: (all, free).
	fn brute_force(
		scanner: &mut Scanner<'_>,
		job: usize,
		free: &FreeSet,
	) -> (Vec<Candidate>, Vec<Candidate>) {
		let index = scanner.index;
		let entry = &index.jobs[job];
		scanner.stamp = scanner.stamp.wrapping_add(1);
		let mut found = Vec::new();
		for &(start, end) in &index.bands[entry.arch] {
			for i in start..end {
				if index.resources[i].instruction_price > entry.dearest {
					continue;
				}
				if let Some(c) = scanner.evaluate(entry, i, &|_| true) {
					found.push(c);
				}
			}
		}
		found.sort();
		let unmatched = found.iter().copied().filter(|c| free.is_free(c.column as usize)).collect();
		(found, unmatched)
	}

	#[test]
	fn the_banded_scan_finds_the_cheapest_offers_of_every_band() {
		// 3 prices: one band each; 40: bands of a share of the offers each.
		for (prices, seed) in [(3, 5), (40, 6), (1, 7)] {
			let book = book_with_bandwidth_prices(3_000, prices, seed);
			let index = Index::build(book.parts(), NOW, Filtering::Auto);
			let mut rng = Rng(seed);
			let mut free = FreeSet::new(index.resources.len());
			for position in 0..index.resources.len() {
				if rng.chance(40) {
					free.mark_matched(position);
				}
			}
			let mut scanner = Scanner::new(&index);
			let mut checked = 0;
			for job in (0..index.jobs.len()).step_by(7) {
				let (k, free_k) = (1 + rng.below(12) as usize, 1 + rng.below(5) as usize);
				let scan = scanner.scan(job, k, free_k, &free);
				let (all, unmatched) = brute_force(&mut scanner, job, &free);
				let expected_all: Vec<Candidate> = all.iter().copied().take(k).collect();
				let expected_free: Vec<Candidate> = unmatched.into_iter().take(free_k).collect();
				assert_eq!(scan.all, expected_all, "{prices} prices, job {job}, K = {k}");
				assert_eq!(scan.free, expected_free, "{prices} prices, job {job}, {free_k} free");
				assert_eq!(scan.complete, all.len() < k);
				checked += usize::from(all.len() > k);
			}
			assert!(checked > 50, "jobs with more feasible offers than K: {checked}");
		}
	}

	#[test]
	fn bands_keep_equal_prices_together_and_stay_few() {
		let bucket_of = |prices: &[u128]| -> Vec<ResourceEntry> {
			let book = book_with_bandwidth_prices(prices.len() * 2 + 20, 1, 1);
			let index = Index::build(book.parts(), NOW, Filtering::Never);
			let mut entries: Vec<ResourceEntry> = index.resources;
			entries.truncate(prices.len());
			assert_eq!(entries.len(), prices.len());
			for (entry, price) in entries.iter_mut().zip(prices) {
				entry.bandwidth_price = *price;
			}
			entries
		};
		// Few prices: one band each.
		let few = bucket_of(&[0, 0, 0, 1, 1, 5, 5, 5, 5, 9]);
		assert_eq!(band_ends(&few), vec![3, 5, 9, 10]);
		// Many prices: about MAX_BANDS bands, none splitting a price.
		let prices: Vec<u128> = (0..200u128).map(|i| i / 3).collect();
		let many = bucket_of(&prices);
		let ends = band_ends(&many);
		assert!(ends.len() <= MAX_BANDS + 1, "{ends:?}");
		assert!(ends.len() >= MAX_BANDS / 2, "{ends:?}");
		assert_eq!(ends.last(), Some(&many.len()));
		for &end in &ends[..ends.len() - 1] {
			assert_ne!(many[end - 1].bandwidth_price, many[end].bandwidth_price, "split at {end}");
		}
		assert!(band_ends(&[]).is_empty());
	}
}
