//! The solver daemon (`modicum solver run`): keeps the open-offer book from the
//! chain's events (seeded from the runtime API at start), solves a minimum-cost
//! maximum matching over the feasible pairs ([`crate::solver`]) and posts the
//! matches. Another solver may take an offer first; such lost races are dropped
//! quietly and the book moves on.

use crate::daemon::{self, Wake};
use crate::records;
use crate::solver::{
	self, Book, DirectoryView, JobCreatorView, JobOfferView, MatchRules, MediatorView,
	ProviderView, ReplicaRule, ResourceOfferView, SolveOptions,
};
use modicum_client::{
	calls::Market,
	chain::{Head, JobOffer, ResourceOffer},
	keys,
	settings::ChainSettings,
	types::{Architecture, OfferRef, ReplicaMember, Role},
	AccountId, Chain, ClientError, Keypair, MarketEvent,
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeSet, time::Duration};

/// The solver's view of a job offer.
pub fn job_offer_view(id: u64, offer: &JobOffer) -> JobOfferView {
	let t = &offer.terms;
	JobOfferView {
		provider_record: t.provider_record.as_ref().map(records::rule),
		id,
		owner: bytes(&offer.owner),
		instruction_limit: t.instruction_limit,
		bandwidth_limit: t.bandwidth_limit,
		instruction_max_price: t.instruction_max_price,
		bandwidth_max_price: t.bandwidth_max_price,
		completion_deadline: t.completion_deadline,
		match_incentive: t.match_incentive,
		first_layer_hash: t.first_layer_hash,
		ram_limit: t.ram_limit,
		local_storage_limit: t.local_storage_limit,
		directory: bytes(&t.directory),
		arch: arch(&t.arch),
		expires_at: offer.expires_at,
		deposit: offer.deposit,
		replica: None,
	}
}

/// The `[solver]` table.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SolverSettings {
	/// Candidates kept per job before the exact matching (see [`SolveOptions`]).
	pub candidates_per_job: usize,
	/// Seconds between re-solves when no event arrives (offers expire, deadlines near).
	pub resolve_every_secs: u64,
	/// Which blocks the solver reads its book from and waits for its matches to reach:
	/// `best` (the default: an offer is matched one slot after it is posted) or
	/// `finalized`. A match is checked by the chain when it lands, so a book read from
	/// a block later retracted costs at most a refused match; the book is read again
	/// from the chain after a retraction.
	pub follow: Head,
}

impl Default for SolverSettings {
	fn default() -> Self {
		SolverSettings {
			candidates_per_job: SolveOptions::default().candidates_per_job,
			resolve_every_secs: 5,
			follow: Head::Best,
		}
	}
}

/// A whole solver configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SolverConfig {
	/// Node and key.
	#[serde(default)]
	pub chain: ChainSettings,
	/// The solver's settings.
	#[serde(default)]
	pub solver: SolverSettings,
}

/// The solver daemon.
pub struct Matchmaker {
	chain: Chain,
	signer: Keypair,
	settings: SolverSettings,
	book: Book,
	/// Pairs the chain refused for a reason other than a lost race; not retried.
	refused: BTreeSet<(u64, u64)>,
	/// Offers this solver saw leave the market (it matched them, or lost them to a
	/// race) before the event stream, which trails the chain's head, reported them
	/// closed. Without this, a late `…OfferPosted` event would put them back.
	gone: Gone,
	/// Refusals per rule over the unmatched jobs, as last logged.
	refusal_counts: std::collections::BTreeMap<String, u64>,
	/// What changed since the last solve, so the next one knows how much to solve.
	pending: Pending,
}

/// What the next solve must cover.
///
/// A solve whose matches all landed leaves no feasible pair among the offers left, so
/// while only offers arrive, the next solve needs to look only where they are
/// ([`Book::solve_new`]). Anything else that can make an old pair feasible (an
/// account's trust lists, base layers or record, the rules, a proposal that did not
/// land, the periodic resync) asks for the whole book.
#[derive(Default)]
struct Pending {
	whole: bool,
	jobs: BTreeSet<u64>,
	resources: BTreeSet<u64>,
}

/// Past this many arrivals since the last solve, solving the whole book is as cheap as
/// the sub-book's filter (a pass over the book per arrival).
const MOST_ARRIVALS_FOR_A_PARTIAL_SOLVE: usize = 256;

/// Offers known closed whose closing event has not been read yet.
#[derive(Default)]
struct Gone {
	jobs: BTreeSet<u64>,
	resources: BTreeSet<u64>,
}

fn bytes(account: &AccountId) -> [u8; 32] {
	account.0
}

fn arch(arch: &Architecture) -> solver::Architecture {
	match arch {
		Architecture::Amd64 => solver::Architecture::Amd64,
		Architecture::Arm64 => solver::Architecture::Arm64,
		Architecture::Arm32 => solver::Architecture::Arm32,
		Architecture::Riscv64 => solver::Architecture::Riscv64,
	}
}

impl Matchmaker {
	/// Connects and loads the book from the chain.
	pub async fn start(config: SolverConfig) -> Result<Self, ClientError> {
		let chain = Chain::connect(config.chain.url()).await?.following(config.solver.follow);
		let signer = config.chain.keypair()?;
		let this = Self::load(chain, signer, config.solver).await?;
		tracing::info!(
			jobs = this.book.job_offers().count(),
			resources = this.book.resource_offers().count(),
			"offer book loaded"
		);
		Ok(this)
	}

	/// Loads the book from `chain` for a solver signing with `signer`; also what a JC's
	/// `explain` reads to see the market as the solver does.
	pub async fn load(
		chain: Chain,
		signer: Keypair,
		settings: SolverSettings,
	) -> Result<Self, ClientError> {
		let mut this = Matchmaker {
			chain,
			signer,
			settings,
			book: Book::new(),
			refused: BTreeSet::new(),
			gone: Gone::default(),
			refusal_counts: Default::default(),
			pending: Pending { whole: true, ..Default::default() },
		};
		this.seed().await?;
		Ok(this)
	}

	/// The book as the solver sees it.
	pub fn book(&self) -> &Book {
		&self.book
	}

	async fn seed(&mut self) -> Result<(), ClientError> {
		self.refresh_rules().await?;
		for (who, info) in self.chain.mediators().await? {
			let view = MediatorView {
				arch: arch(&info.arch),
				time_per_instruction_ns: info.time_per_instruction_ns,
				instruction_price: info.instruction_price,
				bandwidth_price: info.bandwidth_price,
				availability_price: info.availability_price,
				trusted_directories: self
					.chain
					.trusted_directories(&who)
					.await?
					.iter()
					.map(bytes)
					.collect(),
				base_layers: self.chain.base_layers(&who).await?,
			};
			self.book.upsert_mediator(bytes(&who), view);
		}
		for (id, offer) in self.chain.resource_offers().await? {
			self.add_resource_offer(id, &offer).await?;
		}
		for (id, offer) in self.chain.job_offers().await? {
			self.add_job_offer(id, &offer).await?;
		}
		for (group, info) in self.chain.replica_groups().await? {
			let rule = ReplicaRule {
				group,
				providers: info.providers.0.iter().map(bytes).collect(),
				excluded: info.excluded.0.iter().map(bytes).collect(),
				mediator: info.mediator.as_ref().map(bytes),
			};
			for member in &info.members.0 {
				if let ReplicaMember::Offer(id) = member {
					self.book.set_replica_rule(*id, rule.clone());
				}
			}
		}
		tracing::debug!(
			jobs = self.book.job_offers().count(),
			resources = self.book.resource_offers().count(),
			"offer book loaded"
		);
		Ok(())
	}

	/// Reads the whole book again from the chain, forgetting what events said.
	async fn reload(&mut self) -> Result<(), ClientError> {
		self.book = Book::new();
		self.gone = Gone::default();
		self.refused.clear();
		self.pending = Pending { whole: true, ..Default::default() };
		self.seed().await
	}

	/// Brings the book in line with the chain: offers missed between the seed and the
	/// subscription (or while the node was briefly away) are added, closed ones dropped,
	/// and mediators refreshed. Cheap when nothing changed: offers already known are
	/// not re-quoted unless no mediator fitted their deposit last time.
	async fn resync(&mut self) -> Result<(), ClientError> {
		self.refresh_rules().await?;
		for (who, _) in self.chain.mediators().await? {
			self.refresh_account(&who).await?;
		}
		let resources = self.chain.resource_offers().await?;
		let open: BTreeSet<u64> = resources.iter().map(|(id, _)| *id).collect();
		let stale: Vec<u64> =
			self.book.resource_offers().map(|o| o.id).filter(|id| !open.contains(id)).collect();
		for id in stale {
			self.book.remove_resource_offer(id);
		}
		for (id, offer) in resources {
			if self.book.resource_offer(id).is_none() {
				self.add_resource_offer(id, &offer).await?;
			}
		}
		let jobs = self.chain.job_offers().await?;
		let open: BTreeSet<u64> = jobs.iter().map(|(id, _)| *id).collect();
		let stale: Vec<u64> =
			self.book.job_offers().map(|o| o.id).filter(|id| !open.contains(id)).collect();
		for id in stale {
			self.book.remove_job_offer(id);
		}
		for (id, offer) in jobs {
			if self.book.job_offer(id).is_none() {
				self.add_job_offer(id, &offer).await?;
			}
		}
		Ok(())
	}

	/// The market parameters a match's stakes depend on, as the chain holds them.
	async fn refresh_rules(&mut self) -> Result<(), ClientError> {
		let p = self.chain.parameters().await?;
		self.book.set_rules(MatchRules {
			penalty_rate_parts: p.penalty_rate.0,
			verification_count: p.verification_count,
			mediation_slack_ms: p.mediation_window,
			max_completion_horizon_ms: p.max_completion_horizon,
		});
		Ok(())
	}

	async fn refresh_account(&mut self, who: &AccountId) -> Result<(), ClientError> {
		self.pending.whole = true;
		let key = bytes(who);
		let provider = self.chain.resource_provider(who).await?;
		let job_creator = self.chain.job_creator(who).await?;
		// Only RPs and JCs are held to records (rule 13): a mediator or directory costs
		// no reputation read.
		let reputation = if provider.is_some() || job_creator.is_some() {
			self.chain.reputation(who).await?
		} else {
			Vec::new()
		};
		match provider {
			Some(info) => {
				let view = ProviderView {
					record: records::view(&reputation, Role::ResourceProvider),
					arch: arch(&info.arch),
					time_per_instruction_ns: info.time_per_instruction_ns,
					trusted_mediators: self
						.chain
						.trusted_mediators(who)
						.await?
						.iter()
						.map(bytes)
						.collect(),
					trusted_directories: self
						.chain
						.trusted_directories(who)
						.await?
						.iter()
						.map(bytes)
						.collect(),
					base_layers: self.chain.base_layers(who).await?,
				};
				self.book.upsert_provider(key, view);
			},
			None => {
				self.book.remove_provider(&key);
			},
		}
		match self.chain.mediator(who).await? {
			Some(info) => {
				let view = MediatorView {
					arch: arch(&info.arch),
					time_per_instruction_ns: info.time_per_instruction_ns,
					instruction_price: info.instruction_price,
					bandwidth_price: info.bandwidth_price,
					availability_price: info.availability_price,
					trusted_directories: self
						.chain
						.trusted_directories(who)
						.await?
						.iter()
						.map(bytes)
						.collect(),
					base_layers: self.chain.base_layers(who).await?,
				};
				self.book.upsert_mediator(key, view);
			},
			None => {
				self.book.remove_mediator(&key);
			},
		}
		match self.chain.directory(who).await? {
			Some(info) => {
				self.book.upsert_directory(
					key,
					DirectoryView { availability_price: info.availability_price },
				);
			},
			None => {
				self.book.remove_directory(&key);
			},
		}
		match job_creator {
			Some(_) => {
				let view = JobCreatorView {
					record: records::view(&reputation, Role::JobCreator),
					trusted_mediators: self
						.chain
						.trusted_mediators(who)
						.await?
						.iter()
						.map(bytes)
						.collect(),
				};
				self.book.upsert_job_creator(key, view);
			},
			None => {
				self.book.remove_job_creator(&key);
			},
		}
		Ok(())
	}

	async fn add_resource_offer(
		&mut self,
		id: u64,
		offer: &ResourceOffer,
	) -> Result<(), ClientError> {
		let key = bytes(&offer.owner);
		match self.book.provider(&key).cloned() {
			None => self.refresh_account(&offer.owner).await?,
			// Records change with every close; a new offer is when rule 13 needs it fresh.
			Some(mut provider) => {
				let reputation = self.chain.reputation(&offer.owner).await?;
				let record = records::view(&reputation, Role::ResourceProvider);
				// A new record may let its older offers meet a job's rule 13.
				self.pending.whole |= record != provider.record;
				provider.record = record;
				self.book.upsert_provider(key, provider);
			},
		}
		let t = &offer.terms;
		self.book.insert_resource_offer(ResourceOfferView {
			creator_record: t.creator_record.as_ref().map(records::rule),
			id,
			owner: bytes(&offer.owner),
			instruction_price: t.instruction_price,
			instruction_cap: t.instruction_cap,
			memory_cap: t.memory_cap,
			local_storage_cap: t.local_storage_cap,
			bandwidth_cap: t.bandwidth_cap,
			bandwidth_price: t.bandwidth_price,
			match_incentive: t.match_incentive,
			expires_at: offer.expires_at,
			deposit: offer.deposit,
		});
		Ok(())
	}

	async fn add_job_offer(&mut self, id: u64, offer: &JobOffer) -> Result<(), ClientError> {
		let key = bytes(&offer.owner);
		match self.book.job_creator(&key).cloned() {
			None => self.refresh_account(&offer.owner).await?,
			Some(mut job_creator) => {
				let reputation = self.chain.reputation(&offer.owner).await?;
				let record = records::view(&reputation, Role::JobCreator);
				self.pending.whole |= record != job_creator.record;
				job_creator.record = record;
				self.book.upsert_job_creator(key, job_creator);
			},
		}
		if self.book.directory(&bytes(&offer.terms.directory)).is_none() {
			self.refresh_account(&offer.terms.directory).await?;
		}
		self.book.insert_job_offer(job_offer_view(id, offer));
		Ok(())
	}

	/// For each open resource offer, whether `offer` (posted or not) could be matched
	/// with it now, and with which mediator, or the first rule that rules it out.
	/// `assume_trusted` counts as trusted by the job creator (a dry run of a job that
	/// will trust them).
	pub async fn explain(
		&mut self,
		offer: &JobOffer,
		now_ms: u64,
		assume_trusted: &[solver::AccountId],
	) -> Result<Vec<solver::explain::OfferVerdict>, ClientError> {
		for account in [&offer.owner, &offer.terms.directory] {
			self.refresh_account(account).await?;
		}
		let view = job_offer_view(u64::MAX, offer);
		let mut job_creator = self.book.job_creator(&view.owner).cloned().unwrap_or_default();
		job_creator.trusted_mediators.extend_from_slice(assume_trusted);
		let directory = self.book.directory(&view.directory).copied().unwrap_or_default();
		Ok(solver::explain::explain_job(&self.book, &view, &job_creator, &directory, now_ms))
	}

	/// Applies one event to the book; true if the book may now allow new matches.
	async fn apply(&mut self, event: MarketEvent) -> Result<bool, ClientError> {
		use MarketEvent as E;
		match event {
			// Posted before this solver matched it: the stream is catching up.
			E::JobOfferPosted { offer_id, .. } if self.gone.jobs.contains(&offer_id) => {
				return Ok(false);
			},
			E::ResourceOfferPosted { offer_id, .. } if self.gone.resources.contains(&offer_id) => {
				return Ok(false);
			},
			E::JobOfferPosted { offer_id, creator, terms, deposit, expires_at } => {
				let offer = JobOffer { owner: creator, terms, deposit, expires_at };
				self.add_job_offer(offer_id, &offer).await?;
				self.pending.jobs.insert(offer_id);
			},
			E::ResourceOfferPosted { offer_id, provider, terms, deposit, expires_at } => {
				let offer = ResourceOffer { owner: provider, terms, deposit, expires_at };
				self.add_resource_offer(offer_id, &offer).await?;
				self.pending.resources.insert(offer_id);
			},
			E::OfferCancelled { offer, .. } | E::OfferExpired { offer, .. } => {
				self.remove(offer);
				return Ok(false);
			},
			E::ReplicatedJobOfferPosted { group, offers, excluded, .. } => {
				let excluded: Vec<_> = excluded.0.iter().map(bytes).collect();
				for id in offers.0 {
					let rule =
						ReplicaRule { group, excluded: excluded.clone(), ..Default::default() };
					self.book.set_replica_rule(id, rule);
				}
			},
			E::Matched { job_offer_id, resource_offer_id, mediator, .. } => {
				self.replica_taken(job_offer_id, resource_offer_id, &bytes(&mediator));
				// The stream has passed every event about these offers: forget them.
				self.remove(OfferRef::Job(job_offer_id));
				self.remove(OfferRef::Resource(resource_offer_id));
				return Ok(false);
			},
			E::Registered { who, .. }
			| E::Deregistered { who, .. }
			| E::MediatorTrusted { who, .. }
			| E::MediatorDistrusted { who, .. }
			| E::DirectoryTrusted { who, .. }
			| E::DirectoryDistrusted { who, .. }
			| E::BaseLayerAdded { who, .. }
			| E::BaseLayerRemoved { who, .. } => self.refresh_account(&who).await?,
			E::ParametersSet { .. } => {
				self.refresh_rules().await?;
				self.pending.whole = true;
			},
			_ => return Ok(false),
		}
		Ok(true)
	}

	fn remove(&mut self, offer: OfferRef) {
		match offer {
			OfferRef::Job(id) => {
				self.book.remove_job_offer(id);
				self.gone.jobs.remove(&id);
			},
			OfferRef::Resource(id) => {
				self.book.remove_resource_offer(id);
				self.gone.resources.remove(&id);
			},
		}
	}

	/// A replica's offer was matched (by this solver or another): its group's open
	/// replicas may no longer go to that RP, nor to another mediator.
	fn replica_taken(&mut self, job_offer_id: u64, resource_offer_id: u64, mediator: &[u8; 32]) {
		let group = self.book.job_offer(job_offer_id).and_then(|o| o.replica.as_ref());
		let provider = self.book.resource_offer(resource_offer_id).map(|r| r.owner);
		if let (Some(rule), Some(provider)) = (group, provider) {
			let group = rule.group;
			self.book.replica_matched(group, &provider, mediator);
		}
	}

	/// Drops offers this solver knows are closed before the chain's events say so.
	fn forget(&mut self, job_offer_id: Option<u64>, resource_offer_id: Option<u64>) {
		if let Some(id) = job_offer_id {
			self.book.remove_job_offer(id);
			self.gone.jobs.insert(id);
		}
		if let Some(id) = resource_offer_id {
			self.book.remove_resource_offer(id);
			self.gone.resources.insert(id);
		}
	}

	/// Solves the book and posts every proposed match; returns how many landed.
	pub async fn solve_and_post(&mut self) -> Result<usize, ClientError> {
		let now = self.chain.now_ms().await?;
		let (expired_jobs, expired_resources) = self.book.remove_expired(now);
		let options = SolveOptions { candidates_per_job: self.settings.candidates_per_job };
		let pending = std::mem::take(&mut self.pending);
		let arrivals = pending.jobs.len().saturating_add(pending.resources.len());
		let whole = pending.whole || arrivals > MOST_ARRIVALS_FOR_A_PARTIAL_SOLVE;
		tracing::debug!(
			now,
			jobs = self.book.job_offers().count(),
			resources = self.book.resource_offers().count(),
			expired_jobs = expired_jobs.len(),
			expired_resources = expired_resources.len(),
			whole,
			arrivals,
			"solving the book"
		);
		let proposals = if whole {
			self.book.solve_with(now, options)
		} else {
			self.book.solve_new(now, &pending.jobs, &pending.resources, options)
		};
		let matched: BTreeSet<u64> = proposals.iter().map(|p| p.job_offer_id).collect();
		self.explain_unmatched(now, &matched);
		let proposals: Vec<_> = proposals
			.into_iter()
			.filter(|p| !self.refused.contains(&(p.job_offer_id, p.resource_offer_id)))
			.collect();
		if proposals.is_empty() {
			return Ok(0);
		}
		// All of a solve's matches go out together, in nonce order, and land in the same
		// block or the next few instead of one round trip each.
		let matches: Vec<(u64, u64, AccountId)> = proposals
			.iter()
			.map(|p| (p.job_offer_id, p.resource_offer_id, AccountId::from(p.mediator)))
			.collect();
		let outcomes = Market::new(&self.chain, &self.signer).post_matches(&matches).await;
		let mut landed = 0;
		let mut reread: BTreeSet<[u8; 32]> = BTreeSet::new();
		for (proposal, posted) in proposals.iter().zip(outcomes) {
			let pair = (proposal.job_offer_id, proposal.resource_offer_id);
			let mediator = AccountId::from(proposal.mediator);
			// Whatever did not land leaves offers in the book that may now pair with
			// others: the next solve covers the whole book.
			self.pending.whole |= posted.is_err();
			match posted {
				Ok(_) => {
					landed += 1;
					self.replica_taken(pair.0, pair.1, &proposal.mediator);
					self.forget(Some(pair.0), Some(pair.1));
					tracing::info!(job = pair.0, resource = pair.1, %mediator, cost = proposal.cost, "matched");
				},
				Err(e) => match lost_race(&e) {
					Some(lost) => {
						tracing::debug!(job = pair.0, resource = pair.1, "lost a race: {e}");
						let job = (lost != Lost::Resource).then_some(pair.0);
						let resource = (lost != Lost::Job).then_some(pair.1);
						self.forget(job, resource);
					},
					None if matches!(e, ClientError::Refused { .. }) => {
						tracing::warn!(
							job = pair.0,
							resource = pair.1,
							"the chain refused the match: {e}"
						);
						self.refused.insert(pair);
						// The book's view of a party may be stale (a close changed its
						// record since its offer came in): read both again, or the next
						// solve would pick this refused pair again over the next best.
						let owners = [
							self.book.job_offer(pair.0).map(|o| o.owner),
							self.book.resource_offer(pair.1).map(|o| o.owner),
						];
						reread.extend(owners.into_iter().flatten());
					},
					// The node's pool turned it away (or the call was not sent after such a
					// refusal): nothing changed on chain, so the pair stays in the book and
					// the next solve tries it again with a fresh nonce.
					None => tracing::warn!(
						job = pair.0,
						resource = pair.1,
						"the match was not accepted for inclusion; retrying on the next solve: {e}"
					),
				},
			}
		}
		for owner in reread {
			self.refresh_account(&AccountId::from(owner)).await?;
		}
		Ok(landed)
	}

	/// Why the open jobs left unmatched are: each refusal at debug level, with both
	/// sides' values, and the counts of refusals per rule at info level whenever they
	/// change. Skipped on books too large to explain on every solve.
	fn explain_unmatched(&mut self, now: u64, matched: &BTreeSet<u64>) {
		const MOST_PAIRS: usize = 200_000;
		let unmatched: Vec<&JobOfferView> =
			self.book.job_offers().filter(|j| !matched.contains(&j.id)).collect();
		let resources = self.book.resource_offers().count();
		if unmatched.len().saturating_mul(resources) > MOST_PAIRS {
			return;
		}
		let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
		for job in &unmatched {
			let job_creator = self.book.job_creator(&job.owner).cloned().unwrap_or_default();
			let directory = self.book.directory(&job.directory).copied().unwrap_or_default();
			let verdicts =
				solver::explain::explain_job(&self.book, job, &job_creator, &directory, now);
			for verdict in verdicts {
				let Some(refusal) = verdict.refusal else { continue };
				tracing::debug!(
					job = job.id,
					resource = verdict.resource_offer,
					"refused: {}",
					refusal.explanation
				);
				let label = match refusal.rule {
					Some(rule) => format!("rule {rule} ({})", refusal.check),
					None => refusal.check,
				};
				*counts.entry(label).or_default() += 1;
			}
		}
		if counts != self.refusal_counts {
			let summary: Vec<String> =
				counts.iter().map(|(label, count)| format!("{label}: {count}")).collect();
			tracing::info!(
				unmatched = unmatched.len(),
				resource_offers = resources,
				"refusals by rule: {}",
				if summary.is_empty() { "none".into() } else { summary.join(", ") }
			);
			self.refusal_counts = counts;
		}
	}

	/// Runs until stopped: applies each followed block's events to the book and
	/// solves when it changed; on every tick (and after a reconnect) resyncs the book
	/// from the chain and solves.
	pub async fn run(&mut self) -> Result<(), ClientError> {
		let me = keys::account_of(&self.signer);
		tracing::info!(account = %me, "solving");
		let chain = self.chain.clone();
		let tick = Duration::from_secs(self.settings.resolve_every_secs.max(1));
		// The loop owns the solver for the duration; each wake borrows it in turn.
		let solver = tokio::sync::Mutex::new(self);
		daemon::follow(&chain, tick, |wake| {
			let solver = &solver;
			async move {
				let mut this = solver.lock().await;
				match wake {
					Wake::Tick => {
						this.resync().await?;
						this.pending.whole = true;
						this.solve_and_post().await?;
					},
					// Offers the retracted blocks held may be gone, or their ids given to
					// other offers: the book is read again from scratch.
					Wake::Retracted { .. } => this.reload().await?,
					Wake::Block(block) => {
						let started = std::time::Instant::now();
						let mut changed = false;
						let number = block.number;
						for event in block.events {
							changed |= this.apply(event).await?;
						}
						let applied = started.elapsed();
						if changed {
							this.solve_and_post().await?;
						}
						tracing::debug!(block = number, ?applied, total = ?started.elapsed(), "block handled");
					},
				}
				Ok(())
			}
		})
		.await
	}
}

/// Which offer of a pair another solver (or its owner) took first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lost {
	/// The job offer.
	Job,
	/// The resource offer.
	Resource,
	/// One of them; the refusal does not say which.
	Either,
}

/// The refusals that mean a lost race, and which offer each one names.
fn lost_race(error: &ClientError) -> Option<Lost> {
	[
		("JobOfferNotOpen", Lost::Job),
		("JobOfferExpired", Lost::Job),
		("ResourceOfferNotOpen", Lost::Resource),
		("ResourceOfferExpired", Lost::Resource),
		("OfferNotFound", Lost::Either),
	]
	.into_iter()
	.find(|(name, _)| error.is_refusal(name))
	.map(|(_, lost)| lost)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn refused(error: &str) -> ClientError {
		ClientError::Refused {
			call: "ComputeMarket::post_match".into(),
			pallet: "ComputeMarket".into(),
			error: error.into(),
			docs: String::new(),
		}
	}

	#[test]
	fn a_lost_race_names_the_offer_that_is_gone() {
		assert_eq!(lost_race(&refused("JobOfferNotOpen")), Some(Lost::Job));
		assert_eq!(lost_race(&refused("JobOfferExpired")), Some(Lost::Job));
		assert_eq!(lost_race(&refused("ResourceOfferNotOpen")), Some(Lost::Resource));
		assert_eq!(lost_race(&refused("ResourceOfferExpired")), Some(Lost::Resource));
		assert_eq!(lost_race(&refused("OfferNotFound")), Some(Lost::Either));
		// A real refusal is not a race: the pair is remembered and not retried.
		assert_eq!(lost_race(&refused("InstructionCapTooLow")), None);
		let not_sent = ClientError::Transaction { call: "x".into(), reason: "pool".into() };
		assert_eq!(lost_race(&not_sent), None);
	}
}
