//! The Resource Provider daemon (`modicum rp run`): registers, keeps resource offers
//! posted, runs every job matched to it through the shared [`job`](crate::job)
//! pipeline, uploads the result to the job's directory, posts it, and accepts on the
//! JC's behalf once the reaction window has passed in silence. What it has done is
//! persisted per match ([`phase`]), so after a restart it resumes each open match
//! without running or posting anything twice; a post the chain refuses for good is
//! never retried.

mod offers;
pub mod phase;
pub mod probe;
mod publish;
mod settings;
mod tracking;

pub use phase::{
	CommittedMatch, Fingerprint, GaveUp, JobPhase, ReadyResult, RpState, MAX_RUN_ATTEMPTS,
};
pub use settings::{OfferSettings, RpConfig, RpSettings};

use crate::directory::phase::JobProgress;
use crate::{
	daemon::{self, Declarations, OpenError, Opened, Retry, Wake},
	directory::{self, DirectoryEndpoint},
	docker,
	image_cache::ImageCache,
	job::{self, timing, JobError, Runner, Schedule},
	state::{StateError, StateFile},
};
use modicum_client::{
	batch::Batcher,
	calls::Market,
	chain::{Head, MatchInfo},
	events::{match_id, parties},
	guard::job_fingerprint,
	records, reference_text,
	types::{Architecture, MatchState, ResultStatus},
	AccountId, Chain, ClientError, Keypair, MarketEvent,
};
use std::{
	collections::BTreeSet,
	path::{Path, PathBuf},
	sync::{atomic::AtomicU32, Arc},
	time::Duration,
};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

/// What the RP keeps back before the completion deadline to get its post into a block.
const POST_MARGIN: Duration = Duration::from_secs(6);
/// How often every open match is re-checked (events handle the rest at once).
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// What can stop the daemon, or fail one match.
#[derive(Debug, thiserror::Error)]
pub enum RpError {
	/// The chain refused or could not be reached.
	#[error(transparent)]
	Chain(#[from] ClientError),
	/// The state file failed.
	#[error(transparent)]
	State(#[from] StateError),
	/// The Docker engine failed.
	#[error(transparent)]
	Docker(#[from] docker::DockerError),
	/// A job could not be run for this machine's reasons.
	#[error(transparent)]
	Job(#[from] JobError),
	/// The daemon could not start (node, key, Docker, work directory, state file).
	#[error(transparent)]
	Open(#[from] OpenError),
	/// The result could not be packed (a local failure).
	#[error("packing the result of match {match_id}: {source}")]
	Pack {
		/// The match.
		match_id: u64,
		/// Why.
		#[source]
		source: crate::archive::ArchiveError,
	},
	/// The configuration is unusable.
	#[error("configuration: {0}")]
	Config(String),
	/// The daemon is stopping: what a job run gave now is not trusted (its container
	/// may have been killed under it), and the job runs again at the next start.
	#[error("stopping")]
	Stopping,
}

impl Retry for RpError {
	fn is_connection_lost(&self) -> bool {
		matches!(self, RpError::Chain(e) if e.is_connection_lost())
	}
}

/// The RP daemon.
pub struct ResourceProvider {
	chain: Chain,
	signer: Keypair,
	/// Results that finish together are posted together, in one extrinsic.
	results: Batcher,
	me: AccountId,
	settings: RpSettings,
	docker: bollard::Docker,
	state: Arc<Mutex<StateFile<RpState>>>,
	/// Matches with a task handling them.
	in_flight: Arc<Mutex<BTreeSet<u64>>>,
	/// One permit per job that may run at once.
	slots: Arc<Semaphore>,
	/// One permit per result that may be packed and uploaded at once: as many as
	/// slots, so a slow directory holds the next run back rather than piling up results.
	uploads: Arc<Semaphore>,
	/// Matched jobs that still need a slot to run: they take the place of an offer.
	waiting: AtomicU32,
	/// Held while topping up, so that two top-ups never post the same offer twice.
	top_up: Arc<Mutex<()>>,
	/// The ids of the offers this daemon knows it has open, so that a top-up reads
	/// those rather than the whole book; `None` until the first top-up has looked.
	own_offers: Mutex<Option<BTreeSet<u64>>>,
	/// The ids of the matches this daemon knows it has open, so that a reconcile reads
	/// those rather than every match; `None` until the first reconcile has looked.
	own_matches: Mutex<Option<BTreeSet<u64>>>,
	/// The job images pulled, kept within a byte budget.
	images: ImageCache,
	/// Set once the daemon stops: no run that ends after it is recorded or posted.
	stopping: std::sync::atomic::AtomicBool,
}

impl ResourceProvider {
	/// Connects to the chain and the Docker engine and opens the state file.
	pub async fn start(config: RpConfig) -> Result<Self, RpError> {
		if config.rp.concurrent_jobs == 0 {
			return Err(RpError::Config("concurrent_jobs must be at least 1".into()));
		}
		// The engine reads 0 or less as "no limit": a fork bomb would be unbounded.
		if config.rp.pids_limit < 1 {
			return Err(RpError::Config("pids_limit must be at least 1".into()));
		}
		if config.rp.determinism_probe_runs > probe::MAX_PROBE_RUNS {
			return Err(RpError::Config(format!(
				"determinism_probe_runs must be at most {}",
				probe::MAX_PROBE_RUNS
			)));
		}
		records::requirement(config.rp.offer.jc_min_accepted, config.rp.offer.jc_max_faults)
			.map_err(|e| RpError::Config(format!("[rp.offer] jc_max_faults: {e}")))?;
		let Opened { chain, signer, me, docker, state } =
			daemon::open(&config.chain, &config.rp.work_dir, "rp-state.json").await?;
		let chain = chain.following(config.rp.follow);
		let concurrent_jobs = config.rp.concurrent_jobs as usize;
		let images = ImageCache::new(config.rp.image_cache_bytes);
		Ok(ResourceProvider {
			results: Batcher::spawn(chain.clone(), signer.clone()),
			chain,
			signer,
			me,
			settings: config.rp,
			docker,
			state: Arc::new(Mutex::new(state)),
			in_flight: Arc::new(Mutex::new(BTreeSet::new())),
			slots: Arc::new(Semaphore::new(concurrent_jobs)),
			uploads: Arc::new(Semaphore::new(concurrent_jobs)),
			waiting: AtomicU32::new(0),
			top_up: Arc::new(Mutex::new(())),
			own_offers: Mutex::new(None),
			own_matches: Mutex::new(None),
			images,
			stopping: std::sync::atomic::AtomicBool::new(false),
		})
	}

	/// The RP's account.
	pub fn account(&self) -> &AccountId {
		&self.me
	}

	/// Registers (if needed) and brings trust lists and base layers in line with the
	/// configuration; adds only what is missing, so restarts post nothing twice.
	pub async fn prepare(&self) -> Result<(), RpError> {
		let market = Market::new(&self.chain, &self.signer);
		let arch: Architecture =
			self.settings.arch.parse().map_err(|e| RpError::Config(format!("{e}")))?;
		if self.chain.resource_provider(&self.me).await?.is_none() {
			tracing::info!(account = %self.me, "registering as a resource provider");
			market.register_resource_provider(arch, self.settings.time_per_instruction_ns).await?;
		}
		let wanted = Declarations {
			trusted_mediators: &self.settings.trusted_mediators,
			trusted_directories: &self.settings.trusted_directories,
			base_layers: &self.settings.base_layers,
			base_images: &self.settings.base_images,
		};
		daemon::declare(&self.chain, &self.signer, &self.docker, wanted).await?;
		Ok(())
	}

	/// Runs until stopped: acts on each followed block's events that name the RP's
	/// matches, and every few seconds re-checks all its matches for deadlines that
	/// passed (and after a reconnect, for what happened meanwhile).
	pub async fn run(self: Arc<Self>) -> Result<(), RpError> {
		self.prepare().await?;
		// Nothing of ours runs yet: any container or `/out` of ours is a crashed run's.
		// An open match's job is then run again from its persisted phase.
		let removed = self.clear_leftovers().await;
		if removed > 0 {
			tracing::info!(removed, "removed job containers and outputs of an earlier run");
		}
		let chain = self.chain.clone();
		daemon::follow(&chain, RECONCILE_EVERY, |wake| {
			let this = Arc::clone(&self);
			async move {
				match wake {
					// After a retraction its matches are read again: each is checked
					// against what the RP saw of it (`act_on`).
					Wake::Tick | Wake::Retracted { .. } => this.reconcile().await,
					Wake::Block(block) => this.on_block(&block.events).await,
				}
			}
		})
		.await
	}

	/// Acts on the matches a block's events name, from the events' payload.
	async fn on_block(self: &Arc<Self>, events: &[MarketEvent]) -> Result<(), RpError> {
		let mine: Vec<&MarketEvent> =
			events.iter().filter(|e| parties(e).contains(&&self.me)).collect();
		if mine.is_empty() {
			return Ok(());
		}
		let now = self.chain.now_ms().await?;
		let ids: BTreeSet<u64> = mine.iter().filter_map(|e| match_id(e)).collect();
		for id in ids {
			if let Some(info) = self.chain.match_info(id).await? {
				if info.resource_provider == self.me {
					self.note_own_match(id).await;
					self.act_on(id, info, closing_time(now)).await;
				}
			}
		}
		self.top_up_quietly(now);
		Ok(())
	}

	/// Acts on every open match of this RP and tops up its offers.
	pub async fn reconcile(self: &Arc<Self>) -> Result<(), RpError> {
		let now = self.chain.now_ms().await?;
		let matches = self.own_open_matches().await?;
		let closing_time = closing_time(now);
		for (match_id, info) in matches {
			self.act_on(match_id, info, closing_time).await;
		}
		self.top_up_quietly(now);
		Ok(())
	}

	/// Starts (or resumes) the job of a running match (`now` as [`closing_time`]); accepts a result whose reaction
	/// window passed in silence; closes a mediation whose mediator stayed silent past
	/// its deadline (the RP is then owed half its estimate from the JC).
	async fn act_on(self: &Arc<Self>, match_id: u64, info: MatchInfo, now: u64) {
		let market = Market::new(&self.chain, &self.signer);
		let closed = match &info.state {
			MatchState::Matched => {
				self.spawn_job(match_id, info.clone()).await;
				return;
			},
			MatchState::ResultPosted { reaction_deadline, .. } if now > *reaction_deadline => {
				tracing::info!(match_id, "reaction window passed in silence; accepting");
				market.accept_result(match_id).await
			},
			MatchState::Committed { commitment } => {
				self.resume_commitment(match_id, &info, commitment).await;
				return;
			},
			// No replica can post any more: compare the results (the JC may be away).
			MatchState::AwaitingReplicas { .. } if now > info.job.completion_deadline => {
				let group = match self.chain.match_replica_group(match_id).await {
					Ok(Some(group)) => group,
					Ok(None) => return,
					Err(e) => {
						tracing::warn!(match_id, "reading the replica group failed: {e}");
						return;
					},
				};
				tracing::info!(
					match_id,
					group,
					"the completion deadline passed; settling replicas"
				);
				match market.settle_replicas(group).await {
					Err(e) if e.is_refusal("ReplicaGroupNotFound") => return,
					other => other,
				}
			},
			MatchState::InMediation { mediation_deadline, .. } if now > *mediation_deadline => {
				tracing::warn!(
					match_id,
					"the mediator did not rule in time; closing the mediation"
				);
				market.mediation_timeout(match_id).await
			},
			_ => return,
		};
		match closed {
			Ok(_) => {},
			// Someone closed it first (the JC accepted in the same block).
			Err(e) if e.is_refusal("MatchNotFound") => {},
			Err(e) => tracing::warn!(match_id, "closing the match failed: {e}"),
		}
	}

	/// Reveals this RP's commitment on chain, if its recorded result opens it.
	async fn resume_commitment(&self, match_id: u64, info: &MatchInfo, on_chain: &[u8; 32]) {
		// The task that committed it is still on it: it records and reveals. Checked
		// before the phase is read, so a phase that task writes meanwhile is not undone.
		if self.in_flight.lock().await.contains(&match_id) {
			return;
		}
		let phase = self.phase_of(match_id, info).await;
		let revealed = match CommittedMatch::of(match_id, phase, on_chain) {
			CommittedMatch::Reveal { ready, record } => {
				if record {
					tracing::info!(
						match_id,
						"the replica result was committed before the daemon stopped; revealing it"
					);
					if let Err(e) =
						self.record(match_id, info, JobPhase::Committed(ready.clone())).await
					{
						tracing::warn!(match_id, "recording the commitment failed: {e}");
						return;
					}
				}
				self.reveal(match_id, info, &ready).await
			},
			CommittedMatch::Unknown => {
				tracing::error!(
					match_id,
					"the chain holds a commitment from this RP's account that its recorded \
					 result does not open (was the account used elsewhere?); it cannot be revealed"
				);
				let end = JobPhase::GaveUp { reason: GaveUp::UnknownCommitment };
				self.record_end(match_id, info, end).await
			},
			CommittedMatch::Nothing => return,
		};
		if let Err(e) = revealed {
			tracing::warn!(match_id, "revealing the replica result failed: {e}");
		}
	}

	/// Tops up the offers in the background, unless a top-up is under way: posting
	/// waits for inclusion (on a network a slot, plus the finality lag when following
	/// finalized blocks), and the daemon
	/// must meanwhile go on reading blocks, where its next match may be. A failure
	/// (a lost node, a nonce race, funds held by running jobs, a quote the chain
	/// cannot make) is logged; the next wake, at most [`RECONCILE_EVERY`] away, tries
	/// again, and the daemon's own reads notice a lost node.
	fn top_up_quietly(self: &Arc<Self>, now: u64) {
		let Ok(guard) = Arc::clone(&self.top_up).try_lock_owned() else { return };
		let this = Arc::clone(self);
		tokio::spawn(async move {
			if let Err(e) = this.top_up_offers_locked(now, guard).await {
				tracing::warn!("posting an offer failed (the next wake retries): {e}");
			}
		});
	}

	async fn spawn_job(self: &Arc<Self>, match_id: u64, info: MatchInfo) {
		let phase = self.phase_of(match_id, &info).await;
		if matches!(phase, Some(JobPhase::Posted | JobPhase::GaveUp { .. })) {
			return;
		}
		if !self.in_flight.lock().await.insert(match_id) {
			return;
		}
		let needs_slot = matches!(phase, None | Some(JobPhase::Running { .. }));
		if needs_slot {
			// Counted before the task starts, so a top-up running meanwhile already sees
			// the job in its offer's place.
			self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
		}
		let this = Arc::clone(self);
		tokio::spawn(async move {
			if let Err(e) = this.handle_job(match_id, &info, phase).await {
				tracing::error!(match_id, "job failed (the next reconcile retries): {e}");
			}
			this.in_flight.lock().await.remove(&match_id);
		});
	}

	/// The phase of `match_id` for the match `info`. A phase recorded under the same id
	/// for another match (its blocks were retracted, and the id went to another job) is
	/// dropped: this match starts from nothing.
	async fn phase_of(&self, match_id: u64, info: &MatchInfo) -> Option<JobPhase> {
		let seen = Fingerprint(job_fingerprint(info));
		let mut state = self.state.lock().await;
		let phase = state.get().phase_for(match_id, seen);
		let (phase, known) = match phase {
			Some(phase) => (phase.cloned(), state.get().seen.contains_key(&match_id)),
			None => {
				tracing::warn!(
					match_id,
					"the match this RP worked on was retracted and its id now names another job; \
					 starting that job from the beginning"
				);
				(None, false)
			},
		};
		if !known {
			if let Err(e) = state.update(|s| s.note_seen(match_id, seen)) {
				tracing::error!(match_id, "cannot save the RP's state: {e}");
			}
		}
		phase
	}

	async fn handle_job(
		self: &Arc<Self>,
		match_id: u64,
		info: &MatchInfo,
		phase: Option<JobPhase>,
	) -> Result<(), RpError> {
		let ready = match phase {
			Some(JobPhase::ResultReady(ready)) => ready,
			Some(JobPhase::Running { attempts }) => {
				self.run_in_slot(match_id, info, attempts).await?
			},
			None => self.run_in_slot(match_id, info, 0).await?,
			// The chain shows the match still waiting for a result although this RP
			// committed one: the commitment was in a best block since retracted (the chain
			// refuses a second one as `NotAwaitingResult` otherwise). A commitment on chain
			// is revealed by `act_on` once the chain lets it.
			Some(JobPhase::Committed(ready)) => ready,
			Some(JobPhase::Posted | JobPhase::GaveUp { .. }) => return Ok(()),
		};
		self.post(match_id, info, ready).await
	}

	/// Waits for a slot, runs the job (or declines it once it failed for this machine's
	/// reasons [`MAX_RUN_ATTEMPTS`] times), and records the result to post.
	async fn run_in_slot(
		self: &Arc<Self>,
		match_id: u64,
		info: &MatchInfo,
		attempts: u32,
	) -> Result<ReadyResult, RpError> {
		let slot = match Arc::clone(&self.slots).try_acquire_owned() {
			Ok(slot) => Ok(slot),
			Err(_) => {
				tracing::info!(match_id, "all slots busy; the job waits for one");
				Arc::clone(&self.slots).acquire_owned().await
			},
		};
		// The offer taking this job's place is for a later job: post it in the
		// background, so that neither this job nor its result waits for that offer's
		// block (on a network, at least a slot).
		let this = Arc::clone(self);
		tokio::spawn(async move { this.stop_waiting().await });
		let ready = async {
			// The daemon never closes the semaphore; if it ever did, fail this job only.
			let slot = slot.map_err(|_| RpError::Config("the job slots were closed".into()))?;
			let attempt = attempts.saturating_add(1);
			self.record(match_id, info, JobPhase::Running { attempts: attempt }).await?;
			self.execute(match_id, info, attempt > MAX_RUN_ATTEMPTS, slot).await
		}
		.await?;
		if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
			return Err(RpError::Stopping);
		}
		self.record(match_id, info, JobPhase::ResultReady(ready.clone())).await?;
		Ok(ready)
	}

	/// Persists a match's phase. On a full disk the RP carries on from memory (a
	/// crash then may run a job again, and the chain refuses a second post) rather
	/// than stall every match until its deadline.
	/// The phase is for the match `info`: if its id has since been noted as another
	/// match (the first was retracted), nothing is written.
	async fn record(
		&self,
		match_id: u64,
		info: &MatchInfo,
		phase: JobPhase,
	) -> Result<(), RpError> {
		let seen = Fingerprint(job_fingerprint(info));
		match self.state.lock().await.update(|s| s.record_for(match_id, seen, phase)) {
			Ok(false) => {
				tracing::warn!(match_id, "not recording: the match's id now names another job");
				Ok(())
			},
			Err(e) if job::is_disk_full(&e) => {
				tracing::error!(match_id, "cannot save the RP's state, the disk is full: {e}");
				Ok(())
			},
			saved => saved.map(drop).map_err(Into::into),
		}
	}

	/// Records where publishing a result ended. Following best blocks, an end that a
	/// retraction can undo (posted, or the match found closed) is not recorded: the
	/// phase holding the result stays, and the chain decides whether it goes out again
	/// (a match shown waiting for a result is posted to again).
	async fn record_end(
		&self,
		match_id: u64,
		info: &MatchInfo,
		end: JobPhase,
	) -> Result<(), RpError> {
		let undoable =
			matches!(end, JobPhase::Posted | JobPhase::GaveUp { reason: GaveUp::MatchClosed });
		if undoable && self.chain.head() == Head::Best {
			return Ok(());
		}
		self.record(match_id, info, end).await
	}

	/// Runs the job through the shared pipeline (or declines it) and uploads the result;
	/// what comes back is what to post. A full disk ends in `Declined`, built and
	/// uploaded from memory, rather than in retries until the deadline. `slot` is
	/// given back once the job's containers are done and an upload may start, before
	/// its result is packed and uploaded: the next job's container then runs while this
	/// one's result travels.
	async fn execute(
		&self,
		match_id: u64,
		info: &MatchInfo,
		decline: bool,
		slot: OwnedSemaphorePermit,
	) -> Result<ReadyResult, RpError> {
		let now = self.chain.now_ms().await?;
		let Some(deadline) = timing::local_deadline(info.job.completion_deadline, now, POST_MARGIN)
		else {
			// Posting will find the deadline passed and give up.
			return Ok(unpublished(ResultStatus::Declined, 0, 0));
		};
		let endpoint = match directory_endpoint(&self.chain, &info.job.directory).await {
			Ok(endpoint) => endpoint,
			Err(e) => {
				tracing::warn!(match_id, "directory unusable: {e}");
				return Ok(unpublished(ResultStatus::DirectoryUnavailable, 0, 0));
			},
		};
		match self.run_and_publish(match_id, info, decline, &endpoint, deadline, slot).await {
			Err(e) if job::is_disk_full(&e) => {
				tracing::error!(match_id, "this machine's disk is full ({e}); declining the job");
				let credential = directory::WriteCredential::new(&self.signer, &endpoint.registry);
				let status = ResultStatus::Declined;
				let published = job::publish_status_in_memory(
					&endpoint.registry,
					match_id,
					status,
					deadline,
					&credential,
				);
				Ok(match published.await {
					Ok(reference) => ReadyResult { reference, ..unpublished(status, 0, 0) },
					Err(e) => {
						tracing::warn!(match_id, "result upload failed: {e}");
						unpublished(status, 0, 0)
					},
				})
			},
			ran => ran,
		}
	}

	async fn run_and_publish(
		&self,
		match_id: u64,
		info: &MatchInfo,
		decline: bool,
		endpoint: &DirectoryEndpoint,
		deadline: std::time::Instant,
		slot: OwnedSemaphorePermit,
	) -> Result<ReadyResult, RpError> {
		let work = match_dir(&self.settings.work_dir, match_id);
		let credential = directory::WriteCredential::new(&self.signer, &endpoint.registry);
		let phases = phase_reporter(&endpoint.registry, match_id, &credential);
		let outcome = if decline {
			tracing::error!(
				match_id,
				"the job failed {MAX_RUN_ATTEMPTS} times on this machine; declining"
			);
			job::status_only(&work, ResultStatus::Declined, 0)?
		} else {
			let rp_ns = self.registered_speed().await?;
			let _ = phases.send(JobProgress::Pulling);
			let runner = Runner {
				docker: self.docker.clone(),
				registry: endpoint.registry.clone(),
				cpus: self.settings.cpus,
				pids_limit: self.settings.pids_limit,
				own_ns_per_instruction: rp_ns,
				phases: Some(phases.clone()),
			};
			let terms = job::JobTerms::of_match(info, rp_ns);
			let schedule = Schedule::Provider { deadline, reserve: timing::RP_RESERVE_AFTER_RUN };
			tracing::info!(match_id, reference = %terms.reference, "running job");
			let name = format!("{}{match_id}", self.job_prefix());
			let image = self.images.hold(&format!("{}/{}", endpoint.registry, terms.reference));
			let outcome = job::run(&runner, &terms, &work, &name, schedule).await;
			let outcome = match outcome {
				Ok(first) if first.status == ResultStatus::Completed => {
					self.probed(&runner, &terms, &work, &name, schedule, match_id, first).await
				},
				other => other,
			};
			drop(image);
			let outcome = outcome?;
			if let Err(e) = self.images.prune(&self.docker).await {
				tracing::warn!("cannot prune the job image cache: {e}");
			}
			outcome
		};
		// The slot goes once an upload may start; the daemon never closes the semaphore.
		let _upload = Arc::clone(&self.uploads)
			.acquire_owned()
			.await
			.map_err(|_| RpError::Config("the upload slots were closed".into()))?;
		drop(slot);
		let _ = phases.send(JobProgress::Uploading);
		drop(phases);
		let published =
			job::publish(&endpoint.registry, match_id, &outcome.result_dir, deadline, &credential);
		match published.await {
			Ok(reference) => Ok(ReadyResult::of(&outcome, reference)),
			Err(job::PublishError::Pack(source)) => Err(RpError::Pack { match_id, source }),
			Err(e) => {
				tracing::warn!(match_id, "result upload failed: {e}");
				Ok(unpublished(
					ResultStatus::DirectoryUnavailable,
					outcome.instruction_count,
					outcome.bandwidth_used,
				))
			},
		}
	}

	/// With a determinism probe, runs the job again and declines it if a run differs.
	#[allow(clippy::too_many_arguments)]
	async fn probed(
		&self,
		runner: &Runner,
		terms: &job::JobTerms,
		work: &Path,
		name: &str,
		schedule: Schedule,
		match_id: u64,
		first: job::JobOutcome,
	) -> Result<job::JobOutcome, job::JobError> {
		let runs = self.settings.determinism_probe_runs;
		if runs == 0 {
			return Ok(first);
		}
		match probe::probe(runner, terms, work, name, schedule, &first, runs).await? {
			probe::Probe::Agreed => Ok(first),
			probe::Probe::NoTime => {
				tracing::warn!(
					match_id,
					"no time left for the determinism probe; posting unprobed"
				);
				Ok(first)
			},
			probe::Probe::Differed { run } => {
				tracing::warn!(
					match_id,
					run,
					"the job's runs differ: it is not deterministic, so declining it"
				);
				job::status_only(work, ResultStatus::Declined, 0)
			},
		}
	}

	/// Stops and removes this RP's job containers and unmounts their outputs: for a
	/// clean shutdown, so a stopped RP leaves no job running (its open matches are run
	/// again from their persisted phase at the next start). From then on no run's
	/// outcome is recorded: its container may be killed under it.
	pub async fn stop_jobs(&self) -> usize {
		self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
		self.clear_leftovers().await
	}

	/// Removes this RP's job containers and unmounts their outputs (at start-up).
	async fn clear_leftovers(&self) -> usize {
		crate::executor::clear_leftovers(&self.docker, &self.job_prefix(), &self.settings.work_dir)
			.await
	}

	/// The start of this RP's job names: `rp-<account tag>-`, so RPs and mediators
	/// sharing an engine never touch each other's containers.
	fn job_prefix(&self) -> String {
		format!("rp-{}-", crate::executor::owner_tag(&self.me.0))
	}

	/// The speed the RP registered on chain: the one the mediator reads too.
	async fn registered_speed(&self) -> Result<u64, RpError> {
		Ok(self
			.chain
			.resource_provider(&self.me)
			.await?
			.map_or(self.settings.time_per_instruction_ns, |rp| rp.time_per_instruction_ns))
	}
}

/// Where a registered directory serves, as it registered it on chain. Shared by the
/// RP and the mediator, who both fetch jobs and results from the job's directory.
pub async fn directory_endpoint(
	chain: &Chain,
	directory: &AccountId,
) -> Result<DirectoryEndpoint, String> {
	let info = chain
		.directory(directory)
		.await
		.map_err(|e| e.to_string())?
		.ok_or_else(|| format!("directory {directory} is not registered"))?;
	reference_text(&info.endpoint).parse::<DirectoryEndpoint>().map_err(|e| e.to_string())
}

/// Parses a 0x-prefixed (or bare) 32-byte hex hash.
pub fn parse_hash(text: &str) -> Result<[u8; 32], String> {
	let bytes = hex::decode(text.trim().trim_start_matches("0x"))
		.map_err(|e| format!("{text:?} is not hex: {e}"))?;
	bytes.try_into().map_err(|_| format!("{text:?} is not 32 bytes"))
}

/// A status-only result that is not in the directory (its upload failed, or there was
/// none to upload to): its root computed in memory, no reference.
/// What a refused result, commitment or reveal leaves to do: nothing, for the reason
/// the chain gave. Anything but a refusal (a lost node) is returned to retry.
fn unpublished(status: ResultStatus, instruction_count: u64, bandwidth_used: u64) -> ReadyResult {
	ReadyResult {
		status,
		reference: String::new(),
		hash: job::status_only_root(status),
		instruction_count,
		bandwidth_used,
	}
}

/// The time to judge a close's deadline by: the chain's, or the wall clock less a
/// margin if that is later. An idle instant-seal chain makes no blocks, so its time
/// stands still; the close's own block then carries the current time, which the
/// margin keeps past the deadline.
fn closing_time(chain_now_ms: u64) -> u64 {
	const MARGIN_MS: u64 = 3_000;
	let wall = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map_or(0, |d| d.as_millis() as u64);
	chain_now_ms.max(wall.saturating_sub(MARGIN_MS))
}

/// The work directory of a match (where its outputs and result live).
pub fn match_dir(work_dir: &Path, match_id: u64) -> PathBuf {
	work_dir.join(format!("match-{match_id}"))
}

/// A sender whose phases go, in order, onto the directory's phase board for
/// `match_id`, where the JC's `--wait` reads them. Best effort: a board that does not
/// answer costs a debug line, never the job.
fn phase_reporter(
	registry: &str,
	match_id: u64,
	credential: &directory::WriteCredential,
) -> tokio::sync::mpsc::UnboundedSender<JobProgress> {
	let (send, mut receive) = tokio::sync::mpsc::unbounded_channel::<JobProgress>();
	let (registry, credential) = (registry.to_string(), credential.clone());
	tokio::spawn(async move {
		while let Some(phase) = receive.recv().await {
			let (registry, credential) = (registry.clone(), credential.clone());
			let published = tokio::task::spawn_blocking(move || {
				directory::phase::publish_phase(&registry, match_id, phase, &credential)
			})
			.await;
			if let Ok(Err(e)) = published {
				tracing::debug!(match_id, "cannot put the phase on the directory's board: {e}");
			}
		}
	});
	send
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn parse_hash_accepts_prefixed_hex_only_of_32_bytes() {
		assert_eq!(parse_hash(&format!("0x{}", "11".repeat(32))).unwrap(), [0x11; 32]);
		assert!(parse_hash("0x1234").is_err());
		assert!(parse_hash("zz").is_err());
	}
}
