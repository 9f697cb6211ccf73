//! The solve's index of the book and the scan that finds a job's cheapest feasible
//! resource offers without checking every pair.
//!
//! - Only live offers enter the index: not expired, with a known provider (resource
//!   offers) or job creator (job offers), and for jobs a deadline not already past.
//! - Deposits prune before any pair is seen ([`stakes::dearest_instruction_price_covered`],
//!   [`stakes::most_instructions_covered`]): a job whose deposit covers no match is left
//!   out, or its price range cut where it only covers cheaper instructions; an offer's
//!   instruction cap is lowered to what its deposit can stand behind.
//! - Resource offers are bucketed by their provider's architecture, because rule 7
//!   partitions the market. A bucket is split into bands by bandwidth price (one band
//!   per price when there are few, else about [`MAX_BANDS`] bands of similar prices),
//!   and each band is sorted by instruction price (then id). A global price order
//!   rather than a per-provider one, so the price lower bound prunes across providers
//!   too (many providers may post one offer each); bands, so that the bound knows the
//!   bandwidth price too, which for a job that downloads much and runs little is most
//!   of the cost (the scan walks the bands side by side, cheapest bound first).
//! - Rules 8 to 10 and the choice of mediator depend only on the provider and on the
//!   job's class (creator, architecture, directory, base layer). A scan computes them
//!   once per provider it meets.
//! - Mediators are numbered by (availability price, account id), so "the first
//!   eligible and trusted mediator by number" is the cheapest, with the tie rule. A job
//!   scan skips mediators too slow for its n re-runs (rule 9's horizon part).
//! - Each pair is then checked for the deposits the chain requires of a match with that
//!   mediator; if they fall short, the next capable mediators are tried in order, so a
//!   pair gets the cheapest mediator the chain would accept with it.

use super::{
	book::BookParts,
	feasibility,
	filters::{Filtering, Filters, Position, ProviderLists},
	price_at_limits,
	stakes::{self, MatchRules, MatchTerms},
	AccountId, Architecture, Hash, RecordRule, RecordView,
};
use std::collections::HashMap;

mod scan;
pub(crate) use scan::Scanner;

/// "No value" in the dense u32 tables.
pub(crate) const NONE: u32 = u32::MAX;

/// The fewest jobs for which a solve builds [`Filters`].
const FILTERS_FROM_JOBS: usize = 256;
/// The fewest resource offers for which a solve builds [`Filters`].
const FILTERS_FROM_OFFERS: usize = 1_024;
/// About the most bandwidth-price bands an architecture's offers are split into.
pub(crate) const MAX_BANDS: usize = 8;

/// A known mediator, numbered in preference order.
pub(crate) struct MediatorEntry {
	/// Its account.
	pub account: AccountId,
	/// Its availability price.
	pub price: u128,
	time_per_instruction_ns: u64,
	instruction_price: u128,
	bandwidth_price: u128,
}

/// A known provider with at least one live offer.
struct ProviderEntry {
	arch: Architecture,
	time_per_instruction_ns: u64,
	/// Sorted, for binary search.
	directories: Vec<AccountId>,
	/// Sorted, for binary search.
	base_layers: Vec<Hash>,
	/// Numbers of the known mediators it trusts, sorted.
	mediators: Vec<u32>,
	/// Its record as an RP (rule 13).
	record: RecordView,
}

/// A live resource offer, reduced to what the scan reads.
pub(crate) struct ResourceEntry {
	/// The chain's offer id.
	pub id: u64,
	/// Price per instruction.
	pub instruction_price: u128,
	/// Price per byte.
	pub bandwidth_price: u128,
	instruction_cap: u64,
	memory_cap: u64,
	local_storage_cap: u64,
	bandwidth_cap: u64,
	match_incentive: u128,
	deposit: u128,
	/// Number of its provider.
	provider: u32,
	/// Rule 13: what it requires of a job's creator.
	creator_record: Option<RecordRule>,
}

/// Jobs sharing creator, architecture, directory and base layer: rules 7 to 10 and the
/// mediator choice are the same for all of them against a given provider.
struct ClassEntry {
	arch: Architecture,
	directory: AccountId,
	base_layer: Hash,
	/// Number of the job creator.
	job_creator: u32,
	/// Mediators of the right architecture that trust the directory and support the
	/// base layer, in preference order.
	eligible: Vec<u32>,
}

/// A live job offer, reduced to what the scan reads.
pub(crate) struct JobEntry {
	/// The chain's offer id.
	pub id: u64,
	/// Most instructions.
	pub instruction_limit: u64,
	/// Most bytes downloaded.
	pub bandwidth_limit: u64,
	instruction_max_price: u128,
	bandwidth_max_price: u128,
	match_incentive: u128,
	deposit: u128,
	directory_availability: u128,
	ram_limit: u64,
	local_storage_limit: u64,
	/// Rule 11 restated: `tpi × instruction_limit ≤ budget_ns`, see [`Index::build`].
	budget_ns: u128,
	class: u32,
	/// Its architecture's bucket in [`Index::bands`].
	arch: usize,
	/// The dearest instruction price it may take (rule 5, and what its deposit covers):
	/// each band of its bucket is scanned up to there.
	dearest: u128,
	/// For a replica: the providers it may not go to and the mediator it must use.
	replica: Option<ReplicaBar>,
	/// Rule 13: what it requires of a provider.
	provider_record: Option<RecordRule>,
	/// Every mediator it could have on some provider (eligible for its class, trusted
	/// by its creator, fast enough for it; for a replica, its group's), cheapest first.
	mediators: Vec<u32>,
}

/// A replica's rules ([`super::ReplicaRule`]) in the index's numbers.
struct ReplicaBar {
	/// Providers already running a replica, or excluded by the JC.
	barred: Vec<u32>,
	/// The group's mediator; [`NONE`] if it is not a known mediator.
	mediator: Option<u32>,
}

/// One feasible (job, resource offer) pair found by a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Candidate {
	/// [`super::pair_cost`] with the cheapest feasible mediator.
	pub cost: u128,
	/// Position of the resource offer in [`Index::resources`] (the matching's column).
	pub column: u32,
	/// Number of the mediator.
	pub mediator: u32,
}

/// The solve's read-only index of a book at one moment.
pub(crate) struct Index {
	/// Known mediators in preference order: (availability price, account id).
	pub mediators: Vec<MediatorEntry>,
	providers: Vec<ProviderEntry>,
	/// Live resource offers, bucket after bucket, band after band, each band sorted by
	/// (instruction price, id).
	pub resources: Vec<ResourceEntry>,
	/// Each architecture's bands: ranges of positions in [`Index::resources`].
	bands: [Vec<(usize, usize)>; Architecture::COUNT],
	/// `suffix_min_bandwidth_price[i]`: the least bandwidth price at positions `≥ i`
	/// of `i`'s band, for the scan's lower bound.
	suffix_min_bandwidth_price: Vec<u128>,
	classes: Vec<ClassEntry>,
	/// Which positions a job may take, 64 at a time (none for a book of few jobs).
	filters: Option<Filters>,
	/// Each job creator's record as a JC (rule 13), by number.
	job_creator_records: Vec<RecordView>,
	/// Live job offers in processing order (see [`Index::build`]).
	pub jobs: Vec<JobEntry>,
	rules: MatchRules,
}

/// Sorted copy, for binary search.
fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
	let mut v = items.to_vec();
	v.sort_unstable();
	v.dedup();
	v
}

/// Numbers of the known mediators among `accounts`, sorted.
fn mediator_numbers(accounts: &[AccountId], numbers: &HashMap<AccountId, u32>) -> Vec<u32> {
	let mut v: Vec<u32> = accounts.iter().filter_map(|a| numbers.get(a).copied()).collect();
	v.sort_unstable();
	v.dedup();
	v
}

impl Index {
	/// Indexes `book` for a solve at `now_ms`.
	///
	/// Jobs are processed in order of decreasing instruction limit, then bandwidth
	/// limit, then id. The order does not change what is optimal on the candidate
	/// graph, but it shapes the graph: in a market where every job ranks the offers by
	/// the same prices, the optimum gives the cheapest offers to the largest jobs, and
	/// the largest-first order hands them those offers while they are still unmatched.
	pub fn build(book: BookParts<'_>, now_ms: u64, filtering: Filtering) -> Index {
		let mut mediator_list: Vec<(&AccountId, &super::MediatorView)> =
			book.mediators.iter().collect();
		mediator_list.sort_by(|a, b| {
			a.1.availability_price.cmp(&b.1.availability_price).then_with(|| a.0.cmp(b.0))
		});
		let mediator_number: HashMap<AccountId, u32> =
			mediator_list.iter().enumerate().map(|(i, (a, _))| (**a, i as u32)).collect();
		let mediators: Vec<MediatorEntry> = mediator_list
			.iter()
			.map(|(a, m)| MediatorEntry {
				account: **a,
				price: m.availability_price,
				time_per_instruction_ns: m.time_per_instruction_ns,
				instruction_price: m.instruction_price,
				bandwidth_price: m.bandwidth_price,
			})
			.collect();
		// Sorted copies of each mediator's lists, for eligibility per class.
		let mediator_lists: Vec<(Architecture, Vec<AccountId>, Vec<Hash>)> = mediator_list
			.iter()
			.map(|(_, m)| (m.arch, sorted(&m.trusted_directories), sorted(&m.base_layers)))
			.collect();

		// Providers, numbered on first use by a live offer.
		let mut providers: Vec<ProviderEntry> = Vec::new();
		let mut provider_number: HashMap<AccountId, u32> = HashMap::new();
		let mut buckets: Vec<Vec<ResourceEntry>> =
			(0..Architecture::COUNT).map(|_| Vec::new()).collect();
		for offer in book.resource_offers.values() {
			if feasibility::is_expired(offer.expires_at, now_ms) {
				continue;
			}
			let Some(view) = book.providers.get(&offer.owner) else { continue };
			let number = *provider_number.entry(offer.owner).or_insert_with(|| {
				providers.push(ProviderEntry {
					arch: view.arch,
					time_per_instruction_ns: view.time_per_instruction_ns,
					directories: sorted(&view.trusted_directories),
					base_layers: sorted(&view.base_layers),
					mediators: mediator_numbers(&view.trusted_mediators, &mediator_number),
					record: view.record,
				});
				(providers.len() - 1) as u32
			});
			// A deposit that stands behind fewer instructions than the offer's cap
			// lowers the cap; one that does not cover its incentive serves nothing.
			let Some(covered) = stakes::most_instructions_covered(
				book.rules,
				offer.instruction_price,
				offer.deposit,
				offer.match_incentive,
			) else {
				continue;
			};
			buckets[view.arch.index()].push(ResourceEntry {
				id: offer.id,
				instruction_price: offer.instruction_price,
				bandwidth_price: offer.bandwidth_price,
				instruction_cap: offer.instruction_cap.min(covered),
				memory_cap: offer.memory_cap,
				local_storage_cap: offer.local_storage_cap,
				bandwidth_cap: offer.bandwidth_cap,
				match_incentive: offer.match_incentive,
				deposit: offer.deposit,
				provider: number,
				creator_record: offer.creator_record,
			});
		}
		let total: usize = buckets.iter().map(Vec::len).sum();
		let mut resources: Vec<ResourceEntry> = Vec::with_capacity(total);
		let mut suffix_min_bandwidth_price: Vec<u128> = Vec::with_capacity(total);
		let mut bands: [Vec<(usize, usize)>; Architecture::COUNT] = Default::default();
		for (arch, mut bucket) in buckets.into_iter().enumerate() {
			bucket.sort_unstable_by_key(|r| r.bandwidth_price);
			let start = resources.len();
			let mut from = 0;
			for to in band_ends(&bucket) {
				let band = &mut bucket[from..to];
				band.sort_unstable_by(|a, b| {
					a.instruction_price.cmp(&b.instruction_price).then(a.id.cmp(&b.id))
				});
				let mut suffix: Vec<u128> = band.iter().map(|r| r.bandwidth_price).collect();
				for i in (0..suffix.len().saturating_sub(1)).rev() {
					suffix[i] = suffix[i].min(suffix[i + 1]);
				}
				suffix_min_bandwidth_price.extend(suffix);
				bands[arch].push((start + from, start + to));
				from = to;
			}
			resources.extend(bucket);
		}

		let mut job_creator_number: HashMap<AccountId, u32> = HashMap::new();
		let mut job_creator_mediators: Vec<Vec<u32>> = Vec::new();
		let mut job_creator_records: Vec<RecordView> = Vec::new();
		let mut class_number: HashMap<(u32, Architecture, AccountId, Hash), u32> = HashMap::new();
		let mut classes: Vec<ClassEntry> = Vec::new();
		let mut jobs: Vec<JobEntry> = Vec::new();
		for offer in book.job_offers.values() {
			if feasibility::is_expired(offer.expires_at, now_ms) {
				continue;
			}
			let Some(view) = book.job_creators.get(&offer.owner) else { continue };
			let Some(directory) = book.directories.get(&offer.directory) else { continue };
			// Rule 11 as the chain computes it is `now + ceil(tpi·limit / 10^6) ≤
			// deadline`; for whole numbers, `ceil(x / 10^6) ≤ d ⇔ x ≤ d·10^6`, so with
			// d = deadline − now it is `tpi·limit ≤ budget_ns`: one multiplication and
			// one comparison per pair, no division. A deadline already past fails
			// every provider.
			let Some(slack_ms) = offer.completion_deadline.checked_sub(now_ms) else {
				continue;
			};
			let budget_ns = u128::from(slack_ms).saturating_mul(feasibility::NANOS_PER_MILLI);
			let job_creator = *job_creator_number.entry(offer.owner).or_insert_with(|| {
				job_creator_mediators
					.push(mediator_numbers(&view.trusted_mediators, &mediator_number));
				job_creator_records.push(view.record);
				(job_creator_mediators.len() - 1) as u32
			});
			let key = (job_creator, offer.arch, offer.directory, offer.first_layer_hash);
			let class = *class_number.entry(key).or_insert_with(|| {
				let eligible = mediator_lists
					.iter()
					.enumerate()
					.filter(|(_, (arch, directories, layers))| {
						*arch == offer.arch
							&& directories.binary_search(&offer.directory).is_ok()
							&& layers.binary_search(&offer.first_layer_hash).is_ok()
					})
					.map(|(i, _)| i as u32)
					.collect();
				classes.push(ClassEntry {
					arch: offer.arch,
					directory: offer.directory,
					base_layer: offer.first_layer_hash,
					job_creator,
					eligible,
				});
				(classes.len() - 1) as u32
			});
			// The cheapest mediator the class could have: its deposit floor's share.
			let Some(&cheapest) = classes[class as usize].eligible.first() else { continue };
			let terms = MatchTerms {
				instruction_limit: offer.instruction_limit,
				bandwidth_limit: offer.bandwidth_limit,
				instruction_max_price: offer.instruction_max_price,
				bandwidth_max_price: offer.bandwidth_max_price,
				mediator_availability: mediators[cheapest as usize].price,
				directory_availability: directory.availability_price,
				job_incentive: offer.match_incentive,
				..Default::default()
			};
			// A deposit below every match's minimum, or one that only covers cheaper
			// instructions than rule 5 allows, narrows what the job can pair with.
			let Some(affordable) =
				stakes::dearest_instruction_price_covered(book.rules, &terms, offer.deposit)
			else {
				continue;
			};
			let dearest = offer.instruction_max_price.min(affordable);
			let arch = offer.arch.index();
			// Rule 5 as a cut: a band's cheapest offer comes first.
			let within_reach =
				|&(first, _): &(usize, usize)| resources[first].instruction_price <= dearest;
			if !bands[arch].iter().any(within_reach) {
				continue;
			}
			let replica = offer.replica.as_ref().map(|rule| ReplicaBar {
				barred: rule
					.providers
					.iter()
					.chain(&rule.excluded)
					.filter_map(|a| provider_number.get(a).copied())
					.collect(),
				mediator: rule.mediator.map(|m| mediator_number.get(&m).copied().unwrap_or(NONE)),
			});
			let fixed = replica.as_ref().and_then(|bar| bar.mediator);
			let trusted = &job_creator_mediators[job_creator as usize];
			let possible: Vec<u32> = classes[class as usize]
				.eligible
				.iter()
				.copied()
				.filter(|m| {
					fixed.is_none_or(|fixed| fixed == *m)
						&& trusted.binary_search(m).is_ok()
						&& stakes::mediator_fast_enough(
							book.rules,
							mediators[*m as usize].time_per_instruction_ns,
							offer.instruction_limit,
						)
				})
				.collect();
			if possible.is_empty() {
				continue;
			}
			jobs.push(JobEntry {
				id: offer.id,
				instruction_limit: offer.instruction_limit,
				bandwidth_limit: offer.bandwidth_limit,
				instruction_max_price: offer.instruction_max_price,
				bandwidth_max_price: offer.bandwidth_max_price,
				match_incentive: offer.match_incentive,
				deposit: offer.deposit,
				directory_availability: directory.availability_price,
				ram_limit: offer.ram_limit,
				local_storage_limit: offer.local_storage_limit,
				budget_ns,
				class,
				arch,
				dearest,
				replica,
				provider_record: offer.provider_record,
				mediators: possible,
			});
		}
		jobs.sort_by(|a, b| {
			b.instruction_limit
				.cmp(&a.instruction_limit)
				.then(b.bandwidth_limit.cmp(&a.bandwidth_limit))
				.then(a.id.cmp(&b.id))
		});

		let positions: Vec<Position> = resources
			.iter()
			.map(|r| Position {
				provider: r.provider,
				caps: [r.instruction_cap, r.memory_cap, r.local_storage_cap, r.bandwidth_cap],
			})
			.collect();
		let lists: Vec<ProviderLists<'_>> = providers
			.iter()
			.map(|p| ProviderLists {
				directories: &p.directories,
				base_layers: &p.base_layers,
				mediators: &p.mediators,
			})
			.collect();
		let used = jobs.iter().filter_map(|j| classes.get(j.class as usize));
		// The filters cost about 130 bit operations an offer to build, and a count of
		// the jobs' directories and layers; a scan without them at most one check an
		// offer of its range. Worth it only for many jobs over many offers, not for the
		// incremental solve's sub-books around a few arrivals.
		let wanted = match filtering {
			Filtering::Auto => {
				jobs.len() >= FILTERS_FROM_JOBS && resources.len() >= FILTERS_FROM_OFFERS
			},
			Filtering::Always => true,
			Filtering::Never => false,
		};
		let filters = wanted.then(|| {
			Filters::build(
				&positions,
				&lists,
				used.map(|c| (&c.directory, &c.base_layer)),
				mediators.len(),
			)
		});
		drop(lists);

		Index {
			mediators,
			providers,
			resources,
			bands,
			suffix_min_bandwidth_price,
			classes,
			filters,
			job_creator_records,
			jobs,
			rules: *book.rules,
		}
	}

	/// The mediators that can serve `job` on `provider` (rules 7 to 10, with the
	/// mediator's speed), cheapest first: those of [`JobEntry::mediators`] the provider
	/// trusts, if it serves the job's class at all.
	fn capable_mediators<'j>(
		&'j self,
		job: &'j JobEntry,
		provider: u32,
	) -> impl Iterator<Item = u32> + 'j {
		let serves =
			self.classes.get(job.class as usize).zip(self.providers.get(provider as usize));
		let serves = serves.filter(|(c, p)| {
			p.arch == c.arch
				&& p.directories.binary_search(&c.directory).is_ok()
				&& p.base_layers.binary_search(&c.base_layer).is_ok()
		});
		serves.into_iter().flat_map(move |(_, p)| {
			job.mediators.iter().copied().filter(move |m| p.mediators.binary_search(m).is_ok())
		})
	}

	/// The cheapest of [`Index::capable_mediators`], or [`NONE`].
	fn mediator_for(&self, job: &JobEntry, provider: u32) -> u32 {
		self.capable_mediators(job, provider).next().unwrap_or(NONE)
	}

	/// The pair of `job` and the offer `r` at `position` with mediator `m`, at its cost.
	fn candidate(
		&self,
		job: &JobEntry,
		r: &ResourceEntry,
		position: usize,
		m: u32,
	) -> Option<Candidate> {
		let mediator = self.mediators.get(m as usize)?;
		let cost = price_at_limits(
			r.instruction_price,
			job.instruction_limit,
			r.bandwidth_price,
			job.bandwidth_limit,
		)
		.saturating_add(mediator.price);
		Some(Candidate { cost, column: position as u32, mediator: m })
	}

	/// The deposits a match of `job` and `r` with mediator `m` needs, checked.
	fn deposits_cover(&self, job: &JobEntry, r: &ResourceEntry, m: u32) -> bool {
		let Some(mediator) = self.mediators.get(m as usize) else { return false };
		let terms = MatchTerms {
			instruction_limit: job.instruction_limit,
			bandwidth_limit: job.bandwidth_limit,
			instruction_max_price: job.instruction_max_price,
			bandwidth_max_price: job.bandwidth_max_price,
			instruction_price: r.instruction_price,
			bandwidth_price: r.bandwidth_price,
			mediator_instruction_price: mediator.instruction_price,
			mediator_bandwidth_price: mediator.bandwidth_price,
			mediator_availability: mediator.price,
			directory_availability: job.directory_availability,
			job_incentive: job.match_incentive,
			resource_incentive: r.match_incentive,
		};
		feasibility::covered(&self.rules, &terms, job.deposit, r.deposit).is_ok()
	}
}

/// Where the bands of a bucket sorted by bandwidth price end: one band per price if
/// there are at most [`MAX_BANDS`] prices; otherwise a band ends at the first change of
/// price once it holds its share of the offers, so equal prices share a band.
fn band_ends(bucket: &[ResourceEntry]) -> Vec<usize> {
	let changes = || {
		bucket.windows(2).enumerate().filter(|(_, w)| w[0].bandwidth_price != w[1].bandwidth_price)
	};
	let mut ends: Vec<usize> = Vec::new();
	if changes().count() < MAX_BANDS {
		ends.extend(changes().map(|(i, _)| i + 1));
	} else {
		let share = bucket.len().div_ceil(MAX_BANDS);
		let mut from = 0;
		for (i, _) in changes() {
			if i + 1 - from >= share {
				ends.push(i + 1);
				from = i + 1;
			}
		}
	}
	if !bucket.is_empty() {
		ends.push(bucket.len());
	}
	ends
}
