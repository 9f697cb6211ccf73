//! The Resource Provider daemon (`modicum rp run`): registers, keeps resource offers
//! posted, runs every job matched to it in a hardened container, uploads the result
//! to the job's directory, posts it, and accepts on the JC's behalf once the reaction
//! window has passed in silence. What it has done is persisted per match, so after a
//! restart it resumes each open match without running or posting anything twice.

use crate::{
	archive,
	directory::{self, DirectoryEndpoint},
	docker,
	executor::{self, ExecStatus, JobSpec},
	solver::finish_time_ms,
	state::{StateError, StateFile},
};
use modicum_client::{
	calls::Market,
	chain::{MatchInfo, ResourceTerms},
	events::{parties, MarketEvents},
	keys, reference, reference_text,
	settings::ChainSettings,
	types::{Architecture, MatchState, ResultStatus},
	units::Amount,
	AccountId, Chain, ClientError, Keypair,
};
use serde::{Deserialize, Serialize};
use std::{
	collections::{BTreeMap, BTreeSet},
	path::{Path, PathBuf},
	sync::{
		atomic::{AtomicU32, Ordering},
		Arc,
	},
	time::Duration,
};
use tokio::sync::{Mutex, Semaphore};

/// What can stop the daemon.
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
	/// The configuration is unusable.
	#[error("configuration: {0}")]
	Config(String),
}

/// The terms of the resource offers the daemon keeps posted.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OfferSettings {
	/// Price per instruction (CPU millisecond).
	pub instruction_price: Amount,
	/// Most instructions (CPU ms) one job may use.
	pub instruction_cap: u64,
	/// Most memory (bytes) one job may use.
	pub memory_cap: u64,
	/// Most local storage (bytes) one job may write.
	pub local_storage_cap: u64,
	/// Most bytes one job may download.
	pub bandwidth_cap: u64,
	/// Price per byte downloaded.
	pub bandwidth_price: Amount,
	/// What the RP pays the solver for matching the offer.
	pub match_incentive: Amount,
	/// How long each offer stays open (ms).
	pub lifetime_ms: u64,
}

impl Default for OfferSettings {
	fn default() -> Self {
		OfferSettings {
			instruction_price: Amount(1_000_000),
			instruction_cap: 600_000,
			memory_cap: 256 << 20,
			local_storage_cap: 64 << 20,
			bandwidth_cap: 512 << 20,
			bandwidth_price: Amount(1),
			match_incentive: Amount(1_000_000_000),
			lifetime_ms: 3_600_000,
		}
	}
}

/// The `[rp]` table of an RP's configuration file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpSettings {
	/// The machine's architecture (`amd64`, `arm64`, …).
	pub arch: String,
	/// Wall-clock nanoseconds per instruction (per CPU ms: 1_000_000 on one full core).
	pub time_per_instruction_ns: u64,
	/// Mediators to trust (SS58, 0x hex or //Name).
	pub trusted_mediators: Vec<String>,
	/// Directories to trust.
	pub trusted_directories: Vec<String>,
	/// Base layers to declare, as 0x hex hashes.
	pub base_layers: Vec<String>,
	/// Local images whose first layer to declare as a base layer.
	pub base_images: Vec<String>,
	/// Where jobs, results and the state file live.
	pub work_dir: PathBuf,
	/// How many resource offers to keep open at once. Running jobs do not count, so
	/// the next job is matched while one runs; a matched job waiting for a free slot
	/// does, so at most this many jobs ever wait.
	pub open_offers: u32,
	/// How many jobs to run at once.
	pub concurrent_jobs: u32,
	/// CPU cores each job may use.
	pub cpus: f64,
	/// Most processes each job may start.
	pub pids_limit: i64,
	/// The offers' terms.
	pub offer: OfferSettings,
}

impl Default for RpSettings {
	fn default() -> Self {
		RpSettings {
			arch: "amd64".into(),
			time_per_instruction_ns: 1_000_000,
			trusted_mediators: Vec::new(),
			trusted_directories: Vec::new(),
			base_layers: Vec::new(),
			base_images: Vec::new(),
			work_dir: PathBuf::from("modicum-rp"),
			open_offers: 1,
			concurrent_jobs: 1,
			cpus: 1.0,
			pids_limit: 64,
			offer: OfferSettings::default(),
		}
	}
}

/// A whole RP configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RpConfig {
	/// Node and key.
	#[serde(default)]
	pub chain: ChainSettings,
	/// The RP's own settings.
	#[serde(default)]
	pub rp: RpSettings,
}

/// How far the RP got with a match.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum JobPhase {
	/// The job is (or was, before a crash) running; a restart runs it again.
	Running,
	/// The result is uploaded; only posting remains.
	ResultReady {
		/// The status to post.
		status: String,
		/// The result's reference in the directory.
		reference: String,
		/// Its Merkle root (hex).
		hash: String,
		/// CPU ms used.
		instruction_count: u64,
		/// Bytes pulled.
		bandwidth_used: u64,
	},
	/// The result is on chain.
	Posted,
}

/// The RP's persisted state.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RpState {
	/// Per match id.
	pub jobs: BTreeMap<u64, JobPhase>,
}

/// The RP daemon.
pub struct ResourceProvider {
	chain: Chain,
	signer: Keypair,
	me: AccountId,
	settings: RpSettings,
	docker: bollard::Docker,
	state: Arc<Mutex<StateFile<RpState>>>,
	/// Matches with a task handling them.
	in_flight: Arc<Mutex<BTreeSet<u64>>>,
	/// One permit per job that may run at once.
	slots: Arc<Semaphore>,
	/// Matched jobs that still need a slot to run: they take the place of an offer.
	waiting: AtomicU32,
	/// Held while topping up, so that two top-ups never post the same offer twice.
	top_up: Mutex<()>,
}

impl ResourceProvider {
	/// Connects to the chain and the Docker engine and opens the state file.
	pub async fn start(config: RpConfig) -> Result<Self, RpError> {
		let chain = Chain::connect(config.chain.url()).await?;
		let signer = config.chain.keypair()?;
		let me = keys::account_of(&signer);
		let docker = docker::connect().await?;
		std::fs::create_dir_all(&config.rp.work_dir).map_err(|e| {
			RpError::Config(format!("cannot create {}: {e}", config.rp.work_dir.display()))
		})?;
		let state = StateFile::open(&config.rp.work_dir.join("rp-state.json"))?;
		if config.rp.concurrent_jobs == 0 {
			return Err(RpError::Config("concurrent_jobs must be at least 1".into()));
		}
		let concurrent_jobs = config.rp.concurrent_jobs as usize;
		Ok(ResourceProvider {
			chain,
			signer,
			me,
			settings: config.rp,
			docker,
			state: Arc::new(Mutex::new(state)),
			in_flight: Arc::new(Mutex::new(BTreeSet::new())),
			slots: Arc::new(Semaphore::new(concurrent_jobs)),
			waiting: AtomicU32::new(0),
			top_up: Mutex::new(()),
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
		let trusted = self.chain.trusted_mediators(&self.me).await?;
		for mediator in &self.settings.trusted_mediators {
			let mediator = keys::parse_account(mediator)?;
			if !trusted.contains(&mediator) {
				market.trust_mediator(mediator).await?;
			}
		}
		let trusted = self.chain.trusted_directories(&self.me).await?;
		for directory in &self.settings.trusted_directories {
			let directory = keys::parse_account(directory)?;
			if !trusted.contains(&directory) {
				market.trust_directory(directory).await?;
			}
		}
		let declared = self.chain.base_layers(&self.me).await?;
		for layer in self.base_layers().await? {
			if !declared.contains(&layer) {
				market.add_base_layer(layer).await?;
			}
		}
		Ok(())
	}

	async fn base_layers(&self) -> Result<Vec<[u8; 32]>, RpError> {
		let mut layers = Vec::new();
		for text in &self.settings.base_layers {
			layers.push(parse_hash(text).map_err(RpError::Config)?);
		}
		for image in &self.settings.base_images {
			layers.push(docker::image_first_layer(&self.docker, image).await?);
		}
		Ok(layers)
	}

	/// Runs until the node goes away: reacts to market events naming the RP, and
	/// re-checks every few seconds for deadlines that passed.
	pub async fn run(self: Arc<Self>) -> Result<(), RpError> {
		self.prepare().await?;
		let mut events = MarketEvents::subscribe(&self.chain).await?;
		let mut tick = tokio::time::interval(Duration::from_secs(3));
		self.reconcile().await?;
		loop {
			tokio::select! {
				block = events.next() => match block {
					Some(Ok(block)) => {
						if block.events.iter().any(|e| parties(e).contains(&&self.me)) {
							self.reconcile().await?;
						}
					},
					Some(Err(e)) => return Err(e.into()),
					None => return Err(RpError::Chain(ClientError::Read {
						what: "finalized blocks".into(),
						reason: "the node closed the subscription".into(),
					})),
				},
				_ = tick.tick() => self.reconcile().await?,
			}
		}
	}

	/// Acts on every open match of this RP and tops up its offers.
	pub async fn reconcile(self: &Arc<Self>) -> Result<(), RpError> {
		let now = self.chain.now_ms().await?;
		let matches: Vec<(u64, MatchInfo)> = self
			.chain
			.matches()
			.await?
			.into_iter()
			.filter(|(_, m)| m.resource_provider == self.me)
			.collect();
		for (match_id, info) in matches {
			match &info.state {
				MatchState::Matched => self.spawn_job(match_id, info.clone()).await,
				MatchState::ResultPosted { reaction_deadline, .. } if now > *reaction_deadline => {
					tracing::info!(match_id, "reaction window passed in silence; accepting");
					match Market::new(&self.chain, &self.signer).accept_result(match_id).await {
						Ok(_) => {},
						// Someone closed it first (the JC accepted in the same block).
						Err(e) if e.is_refusal("MatchNotFound") => {},
						Err(e) => tracing::warn!(match_id, "accepting failed: {e}"),
					}
				},
				_ => {},
			}
		}
		match self.top_up_offers(now).await {
			// The pool or the pallet turned an offer away (a nonce raced, funds are held by
			// running jobs): the daemon stays up and the next reconcile tries again.
			Err(RpError::Chain(
				e @ (ClientError::Transaction { .. } | ClientError::Refused { .. }),
			)) => {
				tracing::warn!("posting an offer failed (the next reconcile retries): {e}");
				Ok(())
			},
			topped_up => topped_up,
		}
	}

	async fn spawn_job(self: &Arc<Self>, match_id: u64, info: MatchInfo) {
		if !self.in_flight.lock().await.insert(match_id) {
			return;
		}
		// Counted before the task starts, so a top-up running meanwhile already sees
		// the job in its offer's place.
		self.waiting.fetch_add(1, Ordering::SeqCst);
		let this = Arc::clone(self);
		tokio::spawn(async move {
			if let Err(e) = this.handle_job(match_id, &info).await {
				tracing::error!(match_id, "job failed: {e}");
			}
			this.in_flight.lock().await.remove(&match_id);
		});
	}

	/// A job no longer waits (it got a slot, or needs none): its place goes back to an
	/// offer, posted now rather than at the next reconcile.
	async fn stop_waiting(&self) {
		self.waiting.fetch_sub(1, Ordering::SeqCst);
		let topped_up = match self.chain.now_ms().await {
			Ok(now) => self.top_up_offers(now).await,
			Err(e) => Err(e.into()),
		};
		if let Err(e) = topped_up {
			tracing::warn!("posting the next offer failed (the next reconcile retries): {e}");
		}
	}

	async fn handle_job(&self, match_id: u64, info: &MatchInfo) -> Result<(), RpError> {
		let phase = self.state.lock().await.get().jobs.get(&match_id).cloned();
		if !matches!(phase, Some(JobPhase::Running) | None) {
			self.stop_waiting().await;
		}
		let ready = match phase {
			Some(JobPhase::Posted) => return Ok(()),
			Some(ready @ JobPhase::ResultReady { .. }) => ready,
			Some(JobPhase::Running) | None => {
				let (slot, waited) = match Arc::clone(&self.slots).try_acquire_owned() {
					Ok(slot) => (Ok(slot), false),
					Err(_) => {
						tracing::info!(match_id, "all slots busy; the job waits for one");
						(Arc::clone(&self.slots).acquire_owned().await, true)
					},
				};
				// The daemon never closes the semaphore; if it ever did, fail this job only.
				let _slot =
					slot.map_err(|_| RpError::Config("the job slots were closed".into()))?;
				// The offer taking this job's place is for a later job: post it while this
				// one runs rather than before, so the job does not wait for its block.
				let (_, ready) =
					tokio::join!(self.stop_waiting(), self.run_in_slot(match_id, info, waited));
				ready?
			},
		};
		self.post(match_id, ready).await
	}

	/// Runs a job that holds a slot, or declines it if it waited for the slot past the
	/// point where it can finish in time; records and returns the result to post.
	async fn run_in_slot(
		&self,
		match_id: u64,
		info: &MatchInfo,
		waited: bool,
	) -> Result<JobPhase, RpError> {
		let now = self.chain.now_ms().await?;
		let in_time = still_in_time(
			info.job.instruction_limit,
			info.job.completion_deadline,
			self.settings.time_per_instruction_ns,
			now,
		);
		let ready = if waited && !in_time {
			// Matched in time for a start at matching; after the wait the chain's own
			// rule 11 says it can no longer finish. Decline rather than be fined for a
			// timeout.
			tracing::warn!(
				match_id,
				"waited too long for a slot to finish by the deadline; declining"
			);
			ready(ResultStatus::Declined, String::new(), [0; 32], 0, 0)
		} else {
			self.state.lock().await.update(|s| s.jobs.insert(match_id, JobPhase::Running))?;
			self.execute(match_id, info).await?
		};
		self.state.lock().await.update(|s| s.jobs.insert(match_id, ready.clone()))?;
		Ok(ready)
	}

	/// Posts a ready result and records that it is on chain.
	async fn post(&self, match_id: u64, ready: JobPhase) -> Result<(), RpError> {
		let JobPhase::ResultReady {
			status,
			reference: result_ref,
			hash,
			instruction_count,
			bandwidth_used,
		} = ready
		else {
			return Ok(());
		};
		let status: ResultStatus = status.parse().map_err(|e| RpError::Config(format!("{e}")))?;
		let hash = parse_hash(&hash).map_err(RpError::Config)?;
		let posted = Market::new(&self.chain, &self.signer)
			.post_result(
				match_id,
				status,
				reference(&result_ref)?,
				hash,
				instruction_count,
				bandwidth_used,
			)
			.await;
		match posted {
			Ok(_) => tracing::info!(match_id, %status, "result posted"),
			// Already posted before a crash, or the match closed meanwhile (timeout).
			Err(e) if e.is_refusal("NotAwaitingResult") || e.is_refusal("MatchNotFound") => {
				tracing::info!(match_id, "result no longer needed: {e}")
			},
			Err(e) => return Err(e.into()),
		}
		self.state.lock().await.update(|s| s.jobs.insert(match_id, JobPhase::Posted))?;
		Ok(())
	}

	/// Runs the job and uploads its result; the outcome is what to post.
	async fn execute(&self, match_id: u64, info: &MatchInfo) -> Result<JobPhase, RpError> {
		let job = &info.job;
		let now = self.chain.now_ms().await?;
		let work = self.settings.work_dir.join(format!("match-{match_id}"));
		// Fresh directory: a restart re-runs from scratch rather than trusting half a run.
		let _ = std::fs::remove_dir_all(&work);
		let endpoint = match directory_endpoint(&self.chain, &info.job.directory).await {
			Ok(endpoint) => endpoint,
			Err(e) => {
				tracing::warn!(match_id, "directory unusable: {e}");
				return Ok(ready(ResultStatus::DirectoryUnavailable, String::new(), [0; 32], 0, 0));
			},
		};
		let job_reference = reference_text(&job.job_reference);
		if !image_matches_hash(&job_reference, &job.job_hash) {
			tracing::warn!(match_id, "job reference does not name the job hash's digest");
			return Ok(ready(ResultStatus::JobDescriptionError, String::new(), [0; 32], 0, 0));
		}
		let image = format!("{}/{}", endpoint.registry, job_reference);
		let spec = job_spec(&self.settings, info, image.clone(), now);
		tracing::info!(match_id, %image, "running job");
		let outcome =
			match executor::run_job(&self.docker, &spec, &work, &format!("rp-{match_id}")).await {
				Ok(outcome) => outcome,
				Err(executor::ExecError::HardeningRefused(what)) => {
					// Never run with less isolation: decline the job and say why, loudly.
					tracing::error!(
						match_id,
						"the engine refused a hardening option ({what}); declining"
					);
					return Ok(ready(ResultStatus::Declined, String::new(), [0; 32], 0, 0));
				},
				Err(e) => return Err(RpError::Config(format!("running match {match_id}: {e}"))),
			};
		// The image must be built on the base layer the JC declared and the RP installed.
		if outcome.status == ExecStatus::Completed {
			let first_layer = docker::image_first_layer(&self.docker, &image).await?;
			if first_layer != job.first_layer_hash {
				tracing::warn!(match_id, "image's base layer differs from the job's declaration");
				return Ok(ready(
					ResultStatus::JobDescriptionError,
					String::new(),
					[0; 32],
					0,
					outcome.bandwidth_used,
				));
			}
		}
		let status = chain_status(outcome.status);
		let instructions = outcome.instruction_count.min(job.instruction_limit);
		let bandwidth = outcome.bandwidth_used.min(job.bandwidth_limit);
		let tarball = archive::pack_dir(&outcome.result_dir)
			.map_err(|e| RpError::Config(format!("packing the result: {e}")))?;
		let repository = format!("results/match-{match_id}");
		let registry = endpoint.registry.clone();
		let upload = tokio::task::spawn_blocking(move || {
			directory::upload_blob(&registry, &repository, &tarball).map(|d| (repository, d))
		})
		.await
		.map_err(|e| RpError::Config(format!("upload task: {e}")))?;
		match upload {
			Ok((repository, digest)) => Ok(ready(
				status,
				format!("{repository}@{digest}"),
				outcome.result_root,
				instructions,
				bandwidth,
			)),
			Err(e) => {
				tracing::warn!(match_id, "result upload failed: {e}");
				Ok(ready(
					ResultStatus::DirectoryUnavailable,
					String::new(),
					outcome.result_root,
					instructions,
					bandwidth,
				))
			},
		}
	}

	/// Keeps `open_offers` resource offers posted, less the matched jobs waiting to
	/// run.
	async fn top_up_offers(&self, now: u64) -> Result<(), RpError> {
		let _one_at_a_time = self.top_up.lock().await;
		let open = self
			.chain
			.resource_offers()
			.await?
			.into_iter()
			.filter(|(_, offer)| offer.owner == self.me && offer.expires_at > now)
			.count() as u32;
		let waiting = self.waiting.load(Ordering::SeqCst);
		let wanted = self.settings.open_offers.saturating_sub(waiting);
		for _ in open..wanted {
			let terms = offer_terms(&self.settings.offer);
			let deposit = self.deposit_for(&terms).await?;
			let expires_at = now.saturating_add(self.settings.offer.lifetime_ms);
			Market::new(&self.chain, &self.signer)
				.post_resource_offer(terms, deposit, expires_at)
				.await?;
			tracing::info!(deposit, "resource offer posted");
		}
		Ok(())
	}

	/// The deposit that passes matching with any trusted mediator and directory: the
	/// largest of the chain's quotes over those pairs.
	async fn deposit_for(&self, terms: &ResourceTerms) -> Result<u128, RpError> {
		let mediators = self.chain.trusted_mediators(&self.me).await?;
		let directories = self.chain.trusted_directories(&self.me).await?;
		let mut deposit = self.chain.quote_resource_deposit(terms, None, None).await?;
		for mediator in &mediators {
			for directory in &directories {
				let quote = self
					.chain
					.quote_resource_deposit(terms, Some(*mediator), Some(*directory))
					.await;
				if let Ok(quote) = quote {
					deposit = deposit.max(quote);
				}
			}
		}
		Ok(deposit)
	}
}

/// Whether a job of `instruction_limit` that waited for a slot can still finish by
/// its `completion_deadline` if it starts at `now_ms`, by the chain's rule 11.
fn still_in_time(
	instruction_limit: u64,
	completion_deadline: u64,
	time_per_instruction_ns: u64,
	now_ms: u64,
) -> bool {
	let finish = finish_time_ms(now_ms, time_per_instruction_ns, instruction_limit);
	finish <= u128::from(completion_deadline)
}

fn ready(
	status: ResultStatus,
	reference: String,
	hash: [u8; 32],
	instruction_count: u64,
	bandwidth_used: u64,
) -> JobPhase {
	JobPhase::ResultReady {
		status: status.name().into(),
		reference,
		hash: format!("0x{}", hex::encode(hash)),
		instruction_count,
		bandwidth_used,
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

/// The container limits for a match: the job's limits, and a wall clock that ends
/// early enough to upload and post before the completion deadline.
pub fn job_spec(settings: &RpSettings, info: &MatchInfo, image: String, now_ms: u64) -> JobSpec {
	const UPLOAD_AND_POST_MARGIN_MS: u64 = 10_000;
	let remaining = info.job.completion_deadline.saturating_sub(now_ms);
	let wall_ms = remaining.saturating_sub(UPLOAD_AND_POST_MARGIN_MS).max(1_000);
	JobSpec {
		image,
		memory_limit_bytes: info.job.ram_limit,
		instruction_limit_ms: info.job.instruction_limit,
		storage_limit_bytes: info.job.local_storage_limit,
		bandwidth_limit_bytes: info.job.bandwidth_limit,
		wall_clock_limit: Duration::from_millis(wall_ms),
		cpus: settings.cpus,
		pids_limit: settings.pids_limit,
	}
}

/// The on-chain status for an execution outcome.
pub fn chain_status(status: ExecStatus) -> ResultStatus {
	match status {
		ExecStatus::Completed => ResultStatus::Completed,
		ExecStatus::JobNotFound => ResultStatus::JobNotFound,
		ExecStatus::DirectoryUnavailable => ResultStatus::DirectoryUnavailable,
		ExecStatus::JobDescriptionError => ResultStatus::JobDescriptionError,
		ExecStatus::MemoryExceeded => ResultStatus::MemoryExceeded,
		ExecStatus::StorageExceeded => ResultStatus::StorageExceeded,
		ExecStatus::InstructionsExceeded => ResultStatus::InstructionsExceeded,
		ExecStatus::BandwidthExceeded => ResultStatus::BandwidthExceeded,
		ExecStatus::ExceptionOccurred => ResultStatus::ExceptionOccurred,
	}
}

/// Whether a job reference `repo@sha256:<hex>` names the digest whose bytes are the
/// job hash, so the RP runs exactly what the JC committed to.
pub fn image_matches_hash(job_reference: &str, job_hash: &[u8; 32]) -> bool {
	job_reference
		.rsplit_once("@sha256:")
		.is_some_and(|(_, digest)| digest.eq_ignore_ascii_case(&hex::encode(job_hash)))
}

/// Parses a 0x-prefixed (or bare) 32-byte hex hash.
pub fn parse_hash(text: &str) -> Result<[u8; 32], String> {
	let bytes = hex::decode(text.trim().trim_start_matches("0x"))
		.map_err(|e| format!("{text:?} is not hex: {e}"))?;
	bytes.try_into().map_err(|_| format!("{text:?} is not 32 bytes"))
}

fn offer_terms(offer: &OfferSettings) -> ResourceTerms {
	ResourceTerms {
		instruction_price: offer.instruction_price.0,
		instruction_cap: offer.instruction_cap,
		memory_cap: offer.memory_cap,
		local_storage_cap: offer.local_storage_cap,
		bandwidth_cap: offer.bandwidth_cap,
		bandwidth_price: offer.bandwidth_price.0,
		match_incentive: offer.match_incentive.0,
	}
}

/// The work directory of a match (where its outputs and result live).
pub fn match_dir(work_dir: &Path, match_id: u64) -> PathBuf {
	work_dir.join(format!("match-{match_id}"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn job_reference_must_name_the_job_hash() {
		let hash = [0xab; 32];
		let good = format!("jobs/x@sha256:{}", hex::encode(hash));
		assert!(image_matches_hash(&good, &hash));
		assert!(!image_matches_hash("jobs/x:latest", &hash));
		assert!(!image_matches_hash(&good, &[0; 32]));
	}

	#[test]
	fn a_waiting_job_is_in_time_while_rule_11_holds() {
		// 1,000 CPU ms at 1 ms each: 1 s of run time.
		assert!(still_in_time(1_000, 11_000, 1_000_000, 10_000));
		assert!(!still_in_time(1_000, 11_000, 1_000_000, 10_001));
		// Rounded up to whole milliseconds, as the chain does.
		assert!(!still_in_time(1, 10_000, 1, 10_000));
		assert!(still_in_time(1, 10_001, 1, 10_000));
	}

	#[test]
	fn parse_hash_accepts_prefixed_hex_only_of_32_bytes() {
		assert_eq!(parse_hash(&format!("0x{}", "11".repeat(32))).unwrap(), [0x11; 32]);
		assert!(parse_hash("0x1234").is_err());
		assert!(parse_hash("zz").is_err());
	}
}
