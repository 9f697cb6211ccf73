//! The open-offer book: what the solver knows of the chain's open offers and of the
//! accounts (providers, mediators, job creators) whose views feasibility depends on.

use super::{
	feasibility::{self, Infeasible},
	matching,
	stakes::MatchRules,
	AccountId, DirectoryView, JobCreatorView, JobOfferView, MediatorView, Proposal, ProviderView,
	ReplicaRule, ResourceOfferView, SolveOptions,
};
use std::collections::{BTreeMap, BTreeSet};

/// The open-offer book. Offers are keyed by their chain id and accounts by their
/// account id; ordered maps keep every iteration, and so every solve, deterministic.
///
/// The book does not decide when an offer leaves it: the caller removes an offer when
/// the chain reports it matched, cancelled or cleared, and may call
/// [`Book::remove_expired`]. Expired offers still in the book are never proposed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Book {
	job_offers: BTreeMap<u64, JobOfferView>,
	resource_offers: BTreeMap<u64, ResourceOfferView>,
	providers: BTreeMap<AccountId, ProviderView>,
	mediators: BTreeMap<AccountId, MediatorView>,
	job_creators: BTreeMap<AccountId, JobCreatorView>,
	directories: BTreeMap<AccountId, DirectoryView>,
	rules: MatchRules,
}

impl Book {
	/// An empty book.
	pub fn new() -> Self {
		Self::default()
	}

	/// Adds an open job offer, or replaces the one with the same id; returns the
	/// replaced one.
	pub fn insert_job_offer(&mut self, offer: JobOfferView) -> Option<JobOfferView> {
		self.job_offers.insert(offer.id, offer)
	}

	/// Removes a job offer (matched, cancelled or expired); returns it if it was there.
	pub fn remove_job_offer(&mut self, id: u64) -> Option<JobOfferView> {
		self.job_offers.remove(&id)
	}

	/// The open job offer with this id.
	pub fn job_offer(&self, id: u64) -> Option<&JobOfferView> {
		self.job_offers.get(&id)
	}

	/// All open job offers, by id.
	pub fn job_offers(&self) -> impl Iterator<Item = &JobOfferView> {
		self.job_offers.values()
	}

	/// Adds an open resource offer, or replaces the one with the same id; returns the
	/// replaced one.
	pub fn insert_resource_offer(&mut self, offer: ResourceOfferView) -> Option<ResourceOfferView> {
		self.resource_offers.insert(offer.id, offer)
	}

	/// Removes a resource offer (matched, cancelled or expired); returns it if it was
	/// there.
	pub fn remove_resource_offer(&mut self, id: u64) -> Option<ResourceOfferView> {
		self.resource_offers.remove(&id)
	}

	/// The open resource offer with this id.
	pub fn resource_offer(&self, id: u64) -> Option<&ResourceOfferView> {
		self.resource_offers.get(&id)
	}

	/// All open resource offers, by id.
	pub fn resource_offers(&self) -> impl Iterator<Item = &ResourceOfferView> {
		self.resource_offers.values()
	}

	/// Removes every offer expired at `now_ms` (`now_ms > expires_at`); returns the ids
	/// of the job offers and of the resource offers removed.
	pub fn remove_expired(&mut self, now_ms: u64) -> (Vec<u64>, Vec<u64>) {
		let mut jobs = Vec::new();
		self.job_offers.retain(|id, o| {
			let keep = !feasibility::is_expired(o.expires_at, now_ms);
			if !keep {
				jobs.push(*id);
			}
			keep
		});
		let mut resources = Vec::new();
		self.resource_offers.retain(|id, o| {
			let keep = !feasibility::is_expired(o.expires_at, now_ms);
			if !keep {
				resources.push(*id);
			}
			keep
		});
		(jobs, resources)
	}

	/// Registers a provider or replaces its view (trust lists change at any time).
	pub fn upsert_provider(
		&mut self,
		account: AccountId,
		view: ProviderView,
	) -> Option<ProviderView> {
		self.providers.insert(account, view)
	}

	/// Forgets a provider (deregistered); its resource offers become unmatchable.
	pub fn remove_provider(&mut self, account: &AccountId) -> Option<ProviderView> {
		self.providers.remove(account)
	}

	/// The provider's current view.
	pub fn provider(&self, account: &AccountId) -> Option<&ProviderView> {
		self.providers.get(account)
	}

	/// Registers a mediator or replaces its view.
	pub fn upsert_mediator(
		&mut self,
		account: AccountId,
		view: MediatorView,
	) -> Option<MediatorView> {
		self.mediators.insert(account, view)
	}

	/// Forgets a mediator (deregistered); it is no longer proposed.
	pub fn remove_mediator(&mut self, account: &AccountId) -> Option<MediatorView> {
		self.mediators.remove(account)
	}

	/// The mediator's current view.
	pub fn mediator(&self, account: &AccountId) -> Option<&MediatorView> {
		self.mediators.get(account)
	}

	/// All known mediators, by account id.
	pub fn mediators(&self) -> impl Iterator<Item = (&AccountId, &MediatorView)> {
		self.mediators.iter()
	}

	/// Registers a job creator or replaces its view.
	pub fn upsert_job_creator(
		&mut self,
		account: AccountId,
		view: JobCreatorView,
	) -> Option<JobCreatorView> {
		self.job_creators.insert(account, view)
	}

	/// Forgets a job creator (deregistered); its job offers become unmatchable.
	pub fn remove_job_creator(&mut self, account: &AccountId) -> Option<JobCreatorView> {
		self.job_creators.remove(account)
	}

	/// The job creator's current view.
	pub fn job_creator(&self, account: &AccountId) -> Option<&JobCreatorView> {
		self.job_creators.get(account)
	}

	/// Registers a directory or replaces its view.
	pub fn upsert_directory(
		&mut self,
		account: AccountId,
		view: DirectoryView,
	) -> Option<DirectoryView> {
		self.directories.insert(account, view)
	}

	/// Forgets a directory (deregistered); jobs naming it become unmatchable.
	pub fn remove_directory(&mut self, account: &AccountId) -> Option<DirectoryView> {
		self.directories.remove(account)
	}

	/// The directory's current view.
	pub fn directory(&self, account: &AccountId) -> Option<&DirectoryView> {
		self.directories.get(account)
	}

	/// The market parameters matches are checked against.
	pub fn rules(&self) -> &MatchRules {
		&self.rules
	}

	/// Replaces the market parameters (root changed them on chain).
	pub fn set_rules(&mut self, rules: MatchRules) {
		self.rules = rules;
	}

	/// Checks one candidate match the way `post_match` would at `now_ms`: both offers
	/// open (rule 12), not expired, all accounts known, then [`super::check`].
	/// The order of the checks is the chain's.
	pub fn check_pair(
		&self,
		job_offer_id: u64,
		resource_offer_id: u64,
		mediator: &AccountId,
		now_ms: u64,
	) -> Result<(), Infeasible> {
		let job = self.job_offers.get(&job_offer_id).ok_or(Infeasible::JobOfferNotOpen)?;
		let resource =
			self.resource_offers.get(&resource_offer_id).ok_or(Infeasible::ResourceOfferNotOpen)?;
		// The chain checks expiry before looking the accounts up; so do we, so that the
		// error matches.
		if feasibility::is_expired(job.expires_at, now_ms) {
			return Err(Infeasible::JobOfferExpired);
		}
		if feasibility::is_expired(resource.expires_at, now_ms) {
			return Err(Infeasible::ResourceOfferExpired);
		}
		let provider = self.providers.get(&resource.owner).ok_or(Infeasible::UnknownProvider)?;
		let mediator_view = self.mediators.get(mediator).ok_or(Infeasible::UnknownMediator)?;
		let job_creator = self.job_creators.get(&job.owner).ok_or(Infeasible::UnknownJobCreator)?;
		let directory = self.directories.get(&job.directory).ok_or(Infeasible::UnknownDirectory)?;
		feasibility::check(
			&feasibility::Pair { job, resource, provider, job_creator, directory },
			mediator,
			mediator_view,
			&self.rules,
			now_ms,
		)
	}

	/// Marks an open job offer as a replica bound by `rule`.
	pub fn set_replica_rule(&mut self, job_offer_id: u64, rule: ReplicaRule) {
		if let Some(offer) = self.job_offers.get_mut(&job_offer_id) {
			offer.replica = Some(rule);
		}
	}

	/// A replica of `group` was matched to `provider` with `mediator`: the group's open
	/// replicas may no longer go to that RP, nor to another mediator.
	pub fn replica_matched(&mut self, group: u64, provider: &AccountId, mediator: &AccountId) {
		for offer in self.job_offers.values_mut() {
			if let Some(rule) = offer.replica.as_mut().filter(|rule| rule.group == group) {
				rule.providers.push(*provider);
				rule.mediator.get_or_insert(*mediator);
			}
		}
	}

	/// The minimum-cost maximum matching of the open offers at `now_ms`, with the
	/// default [`SolveOptions`]; see [`Book::solve_with`].
	pub fn solve(&self, now_ms: u64) -> Vec<Proposal> {
		self.solve_with(now_ms, SolveOptions::default())
	}

	/// Matches open job offers to open resource offers at `now_ms`: as many matches as
	/// possible, then the least total [`super::pair_cost`], each with its cheapest
	/// feasible mediator (ties to the smallest account id). Every proposal passes
	/// [`Book::check_pair`] at `now_ms`; no offer appears twice; the result is sorted by
	/// job offer id, and the same book and options always give the same result.
	///
	/// Exact whenever no job has more than `options.candidates_per_job` feasible
	/// resource offers; otherwise exact on the candidate graph, and maximal: no
	/// unmatched job has a feasible unmatched resource offer left.
	/// Two replicas of one job are never proposed to the same RP or with different
	/// mediators in one round: the later one waits for the next round, where the
	/// chain's record of the first rules its RP out.
	pub fn solve_with(&self, now_ms: u64, options: SolveOptions) -> Vec<Proposal> {
		self.keep_replicas_apart(matching::solve(self.parts(), now_ms, options))
	}

	/// Matches only where `new_jobs` and `new_resources` (ids of offers in the book)
	/// can take part, at `now_ms`: the solve after offers arrived into a book whose
	/// earlier solve was posted.
	///
	/// Such a book has no feasible pair of unmatched offers left (a solve is maximal),
	/// and arrivals change that only where they are: every new pair has a new offer in
	/// it. So the matching runs on a sub-book of the new offers and the old offers that
	/// pass rules 1 to 8 and the provider's half of rule 10 (what needs no account but
	/// the provider's) with at least one new offer, under the same accounts and rules. The cost is a
	/// pass over the book plus a solve of that sub-book, not a solve of the whole book.
	///
	/// Whatever else has changed since the last solve (an account's trust lists or
	/// record, the rules, a proposal the chain did not take) can make old pairs
	/// feasible: after those, solve the whole book ([`Book::solve_with`]).
	pub fn solve_new(
		&self,
		now_ms: u64,
		new_jobs: &BTreeSet<u64>,
		new_resources: &BTreeSet<u64>,
		options: SolveOptions,
	) -> Vec<Proposal> {
		let provider_of = |r: &ResourceOfferView| self.providers.get(&r.owner);
		let arrived_jobs: Vec<&JobOfferView> =
			new_jobs.iter().filter_map(|id| self.job_offers.get(id)).collect();
		let arrived_resources: Vec<(&ResourceOfferView, &ProviderView)> = new_resources
			.iter()
			.filter_map(|id| self.resource_offers.get(id))
			.filter_map(|r| Some((r, provider_of(r)?)))
			.collect();
		let job_offers: BTreeMap<u64, JobOfferView> = self
			.job_offers
			.iter()
			.filter(|(id, job)| {
				new_jobs.contains(id)
					|| arrived_resources.iter().any(|(r, p)| feasibility::could_pair(job, r, p))
			})
			.map(|(id, job)| (*id, job.clone()))
			.collect();
		let resource_offers: BTreeMap<u64, ResourceOfferView> = self
			.resource_offers
			.iter()
			.filter(|(id, r)| {
				new_resources.contains(id)
					|| provider_of(r).is_some_and(|p| {
						arrived_jobs.iter().any(|job| feasibility::could_pair(job, r, p))
					})
			})
			.map(|(id, r)| (*id, r.clone()))
			.collect();
		let parts = BookParts {
			job_offers: &job_offers,
			resource_offers: &resource_offers,
			..self.parts()
		};
		self.keep_replicas_apart(matching::solve(parts, now_ms, options))
	}

	/// Drops proposals that would put two replicas of one job on one RP or under two
	/// mediators.
	fn keep_replicas_apart(&self, mut proposals: Vec<Proposal>) -> Vec<Proposal> {
		let mut groups: BTreeMap<u64, (Vec<AccountId>, AccountId)> = BTreeMap::new();
		proposals.retain(|p| {
			let job = self.job_offers.get(&p.job_offer_id);
			let Some(rule) = job.and_then(|job| job.replica.as_ref()) else { return true };
			let Some(resource) = self.resource_offers.get(&p.resource_offer_id) else {
				return false;
			};
			match groups.get_mut(&rule.group) {
				Some((providers, mediator)) => {
					let distinct = !providers.contains(&resource.owner) && *mediator == p.mediator;
					if distinct {
						providers.push(resource.owner);
					}
					distinct
				},
				None => {
					groups.insert(rule.group, (vec![resource.owner], p.mediator));
					true
				},
			}
		});
		proposals
	}

	/// The raw maps, for the solver's index.
	pub(crate) fn parts(&self) -> BookParts<'_> {
		BookParts {
			job_offers: &self.job_offers,
			resource_offers: &self.resource_offers,
			providers: &self.providers,
			mediators: &self.mediators,
			job_creators: &self.job_creators,
			directories: &self.directories,
			rules: &self.rules,
		}
	}
}

/// Borrowed access to a [`Book`]'s maps, for building the solver's index.
pub(crate) struct BookParts<'a> {
	/// Open job offers by id.
	pub job_offers: &'a BTreeMap<u64, JobOfferView>,
	/// Open resource offers by id.
	pub resource_offers: &'a BTreeMap<u64, ResourceOfferView>,
	/// Providers by account.
	pub providers: &'a BTreeMap<AccountId, ProviderView>,
	/// Mediators by account.
	pub mediators: &'a BTreeMap<AccountId, MediatorView>,
	/// Job creators by account.
	pub job_creators: &'a BTreeMap<AccountId, JobCreatorView>,
	/// Directories by account.
	pub directories: &'a BTreeMap<AccountId, DirectoryView>,
	/// The market parameters.
	pub rules: &'a MatchRules,
}
