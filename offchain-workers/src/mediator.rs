//! The mediator daemon (`modicum mediator run`): when a rejected result is assigned
//! to it, it repeats the RP's steps `n` times and rules per PROTOCOL.md §Mediation:
//!
//! - its own runs differ from each other → NonDeterministic, the JC is at fault;
//! - every run equals the RP's result (root and status) and the RP's claimed usage is
//!   within tolerance of what it measured → CorrectResults, the JC is at fault;
//! - otherwise the RP is at fault (WrongResults, InvalidResultStatus or TooMuchCost);
//! - ResultNotFound: the result blob is in the directory with the posted root → JC
//!   at fault, else the RP;
//! - DirectoryUnavailable: the directory's uptime over the job's span decides between
//!   the claimant and the directory.

use crate::{
	archive,
	directory::{self, BlobRef, DirectoryEndpoint},
	docker,
	executor::{self, JobSpec},
	rp::{chain_status, directory_endpoint},
	state::{StateError, StateFile},
};
use modicum_client::{
	calls::Market,
	chain::MatchInfo,
	events::{parties, MarketEvents},
	keys, reference_text,
	settings::ChainSettings,
	types::{
		Architecture, FaultyParty, MatchState, PostedResult, RejectReason, ResultStatus, Verdict,
	},
	units::Amount,
	AccountId, Chain, ClientError, Keypair,
};
use serde::{Deserialize, Serialize};
use std::{
	collections::{BTreeMap, BTreeSet},
	path::PathBuf,
	sync::Arc,
	time::Duration,
};
use tokio::sync::Mutex;

/// What can stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum MediatorError {
	/// The chain refused or could not be reached.
	#[error(transparent)]
	Chain(#[from] ClientError),
	/// The state file failed.
	#[error(transparent)]
	State(#[from] StateError),
	/// The Docker engine failed.
	#[error(transparent)]
	Docker(#[from] docker::DockerError),
	/// A re-run failed for a reason that is not the job's.
	#[error("re-running the job: {0}")]
	Execution(String),
	/// The configuration is unusable.
	#[error("configuration: {0}")]
	Config(String),
}

/// The `[mediator]` table of a mediator's configuration file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediatorSettings {
	/// The machine's architecture.
	pub arch: String,
	/// Wall-clock nanoseconds per instruction of a re-run (1_000_000 on one full core):
	/// the chain sizes each match's mediation window from it, `n` runs of the job.
	pub time_per_instruction_ns: u64,
	/// Its price per instruction of a mediation run.
	pub instruction_price: Amount,
	/// Its price per byte of a mediation run.
	pub bandwidth_price: Amount,
	/// Its availability price per match.
	pub availability_price: Amount,
	/// Directories to trust.
	pub trusted_directories: Vec<String>,
	/// Base layers to declare (0x hex).
	pub base_layers: Vec<String>,
	/// Local images whose first layer to declare.
	pub base_images: Vec<String>,
	/// Where re-runs and the state file live.
	pub work_dir: PathBuf,
	/// CPU cores per run (keep equal to the RPs' so timing limits behave alike).
	pub cpus: f64,
	/// Most processes per run.
	pub pids_limit: i64,
	/// Relative slack on claimed instructions: CPU time varies between machines and
	/// runs, so a claim up to `measured × (1 + slack) + 50 ms` is honest.
	pub usage_slack: f64,
}

impl Default for MediatorSettings {
	fn default() -> Self {
		MediatorSettings {
			arch: "amd64".into(),
			time_per_instruction_ns: 1_000_000,
			instruction_price: Amount(1_000_000),
			bandwidth_price: Amount(1),
			availability_price: Amount(1_000_000_000),
			trusted_directories: Vec::new(),
			base_layers: Vec::new(),
			base_images: Vec::new(),
			work_dir: PathBuf::from("modicum-mediator"),
			cpus: 1.0,
			pids_limit: 64,
			usage_slack: 0.5,
		}
	}
}

/// A whole mediator configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediatorConfig {
	/// Node and key.
	#[serde(default)]
	pub chain: ChainSettings,
	/// The mediator's own settings.
	#[serde(default)]
	pub mediator: MediatorSettings,
}

/// A decided verdict, persisted before posting so a restart posts the same one.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Ruling {
	/// The verdict's name.
	pub verdict: String,
	/// Who is at fault.
	pub faulty: String,
	/// Instructions per run the mediator measured.
	pub instruction_count: u64,
	/// Bytes it pulled.
	pub bandwidth_used: u64,
	/// Its own result root (hex).
	pub result_hash: String,
	/// Whether it is on chain.
	pub posted: bool,
}

/// The mediator's persisted state.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct MediatorState {
	/// Per match id.
	pub rulings: BTreeMap<u64, Ruling>,
}

/// The mediator daemon.
pub struct Mediator {
	chain: Chain,
	signer: Keypair,
	me: AccountId,
	settings: MediatorSettings,
	docker: bollard::Docker,
	state: Arc<Mutex<StateFile<MediatorState>>>,
	in_flight: Arc<Mutex<BTreeSet<u64>>>,
}

/// What the mediator's runs showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
	/// Each run's result root.
	pub roots: Vec<[u8; 32]>,
	/// Each run's status.
	pub statuses: Vec<ResultStatus>,
	/// Largest instruction count of a run.
	pub max_instructions: u64,
	/// Bytes pulled for the image.
	pub bandwidth_used: u64,
}

/// Rules on a disputed result from the mediator's own runs (pure, so it is tested
/// without Docker). `slack` is [`MediatorSettings::usage_slack`].
pub fn judge(posted: &PostedResult, evidence: &Evidence, slack: f64) -> (Verdict, FaultyParty) {
	let first = evidence.roots.first();
	let consistent = evidence.roots.iter().all(|r| Some(r) == first)
		&& evidence.statuses.iter().all(|s| Some(s) == evidence.statuses.first());
	if !consistent || first.is_none() {
		return (Verdict::NonDeterministic, FaultyParty::JobCreator);
	}
	if evidence.statuses.first() != Some(&posted.status) {
		return (Verdict::InvalidResultStatus, FaultyParty::ResourceProvider);
	}
	if first != Some(&posted.hash) {
		return (Verdict::WrongResults, FaultyParty::ResourceProvider);
	}
	let allowed = (evidence.max_instructions as f64 * (1.0 + slack)) as u64 + 50;
	// A mediator that already held the image's layers measured no download; then it
	// cannot judge bandwidth and lets the claim stand.
	let bandwidth_too_high = evidence.bandwidth_used > 0
		&& posted.bandwidth_used > evidence.bandwidth_used.saturating_mul(2);
	if posted.instruction_count > allowed || bandwidth_too_high {
		return (Verdict::TooMuchCost, FaultyParty::ResourceProvider);
	}
	(Verdict::CorrectResults, FaultyParty::JobCreator)
}

impl Mediator {
	/// Connects to the chain and the Docker engine and opens the state file.
	pub async fn start(config: MediatorConfig) -> Result<Self, MediatorError> {
		let chain = Chain::connect(config.chain.url()).await?;
		let signer = config.chain.keypair()?;
		let me = keys::account_of(&signer);
		let docker = docker::connect().await?;
		std::fs::create_dir_all(&config.mediator.work_dir).map_err(|e| {
			MediatorError::Config(format!(
				"cannot create {}: {e}",
				config.mediator.work_dir.display()
			))
		})?;
		let state = StateFile::open(&config.mediator.work_dir.join("mediator-state.json"))?;
		Ok(Mediator {
			chain,
			signer,
			me,
			settings: config.mediator,
			docker,
			state: Arc::new(Mutex::new(state)),
			in_flight: Arc::new(Mutex::new(BTreeSet::new())),
		})
	}

	/// Registers (if needed), trusts directories and declares base layers.
	pub async fn prepare(&self) -> Result<(), MediatorError> {
		let market = Market::new(&self.chain, &self.signer);
		let arch: Architecture =
			self.settings.arch.parse().map_err(|e| MediatorError::Config(format!("{e}")))?;
		if self.chain.mediator(&self.me).await?.is_none() {
			tracing::info!(account = %self.me, "registering as a mediator");
			market
				.register_mediator(
					arch,
					self.settings.time_per_instruction_ns,
					self.settings.instruction_price.0,
					self.settings.bandwidth_price.0,
					self.settings.availability_price.0,
				)
				.await?;
		}
		let trusted = self.chain.trusted_directories(&self.me).await?;
		for directory in &self.settings.trusted_directories {
			let directory = keys::parse_account(directory)?;
			if !trusted.contains(&directory) {
				market.trust_directory(directory).await?;
			}
		}
		let declared = self.chain.base_layers(&self.me).await?;
		let mut layers = Vec::new();
		for text in &self.settings.base_layers {
			layers.push(crate::rp::parse_hash(text).map_err(MediatorError::Config)?);
		}
		for image in &self.settings.base_images {
			layers.push(docker::image_first_layer(&self.docker, image).await?);
		}
		for layer in layers {
			if !declared.contains(&layer) {
				market.add_base_layer(layer).await?;
			}
		}
		Ok(())
	}

	/// Runs until the node goes away.
	pub async fn run(self: Arc<Self>) -> Result<(), MediatorError> {
		self.prepare().await?;
		let mut events = MarketEvents::subscribe(&self.chain).await?;
		let mut tick = tokio::time::interval(Duration::from_secs(5));
		loop {
			tokio::select! {
				block = events.next() => match block {
					Some(Ok(block)) => {
						if block.events.iter().any(|e| parties(e).contains(&&self.me)) {
							self.reconcile().await?;
						}
					},
					Some(Err(e)) => return Err(e.into()),
					None => return Err(MediatorError::Chain(ClientError::Read {
						what: "finalized blocks".into(),
						reason: "the node closed the subscription".into(),
					})),
				},
				_ = tick.tick() => self.reconcile().await?,
			}
		}
	}

	/// Starts a mediation for every match in mediation with this mediator.
	pub async fn reconcile(self: &Arc<Self>) -> Result<(), MediatorError> {
		for (match_id, info) in self.chain.matches().await? {
			if info.mediator != self.me || !matches!(info.state, MatchState::InMediation { .. }) {
				continue;
			}
			if !self.in_flight.lock().await.insert(match_id) {
				continue;
			}
			let this = Arc::clone(self);
			tokio::spawn(async move {
				if let Err(e) = this.mediate(match_id, &info).await {
					tracing::error!(match_id, "mediation failed: {e}");
				}
				this.in_flight.lock().await.remove(&match_id);
			});
		}
		Ok(())
	}

	async fn mediate(&self, match_id: u64, info: &MatchInfo) -> Result<(), MediatorError> {
		let known = self.state.lock().await.get().rulings.get(&match_id).cloned();
		let ruling = match known {
			Some(ruling) if ruling.posted => return Ok(()),
			Some(ruling) => ruling,
			None => {
				let ruling = self.decide(match_id, info).await?;
				self.state.lock().await.update(|s| s.rulings.insert(match_id, ruling.clone()))?;
				ruling
			},
		};
		let verdict: Verdict =
			ruling.verdict.parse().map_err(|e| MediatorError::Config(format!("{e}")))?;
		let faulty: FaultyParty =
			ruling.faulty.parse().map_err(|e| MediatorError::Config(format!("{e}")))?;
		let hash = crate::rp::parse_hash(&ruling.result_hash).map_err(MediatorError::Config)?;
		let posted = Market::new(&self.chain, &self.signer)
			.post_mediation_result(
				match_id,
				verdict,
				faulty,
				ruling.instruction_count,
				ruling.bandwidth_used,
				hash,
			)
			.await;
		match posted {
			Ok(_) => tracing::info!(match_id, %verdict, %faulty, "verdict posted"),
			Err(e) if e.is_refusal("NotInMediation") || e.is_refusal("MatchNotFound") => {
				tracing::info!(match_id, "verdict no longer needed: {e}")
			},
			Err(e) => return Err(e.into()),
		}
		self.state.lock().await.update(|s| {
			if let Some(r) = s.rulings.get_mut(&match_id) {
				r.posted = true;
			}
		})?;
		Ok(())
	}

	async fn decide(&self, match_id: u64, info: &MatchInfo) -> Result<Ruling, MediatorError> {
		let MatchState::InMediation { result, reason, .. } = &info.state else {
			return Err(MediatorError::Config(format!("match {match_id} is not in mediation")));
		};
		let endpoint = directory_endpoint(&self.chain, &info.job.directory).await;
		let ruling = |verdict: Verdict, faulty: FaultyParty, evidence: Option<&Evidence>| Ruling {
			verdict: verdict.name().into(),
			faulty: faulty.name().into(),
			instruction_count: evidence.map_or(0, |e| e.max_instructions),
			bandwidth_used: evidence.map_or(0, |e| e.bandwidth_used),
			result_hash: format!(
				"0x{}",
				hex::encode(evidence.and_then(|e| e.roots.first().copied()).unwrap_or([0; 32]))
			),
			posted: false,
		};
		// A directory failure claim: by the JC when it rejects for that reason, by the RP
		// when it reported the status.
		let claimant = match (reason, result.status) {
			(RejectReason::DirectoryUnavailable, _) => Some(FaultyParty::JobCreator),
			(_, ResultStatus::DirectoryUnavailable) => Some(FaultyParty::ResourceProvider),
			_ => None,
		};
		if let Some(claimant) = claimant {
			let now = self.chain.now_ms().await?;
			let available = match &endpoint {
				Ok(endpoint) => {
					let (endpoint, from, to) = (endpoint.clone(), info.matched_at, now);
					tokio::task::spawn_blocking(move || {
						directory::query_uptime(&endpoint, from, to)
					})
					.await
					.map_err(|e| MediatorError::Execution(e.to_string()))?
					.map(|report| report.fully_available)
					.unwrap_or(false)
				},
				Err(_) => false,
			};
			tracing::info!(match_id, available, "directory uptime over the job's span");
			let faulty = if available { claimant } else { FaultyParty::Directory };
			return Ok(ruling(Verdict::DirectoryUnavailable, faulty, None));
		}
		let Ok(endpoint) = endpoint else {
			return Err(MediatorError::Execution("the job's directory is not usable".into()));
		};
		if *reason == RejectReason::ResultNotFound {
			let found = self.result_in_directory(&endpoint, result).await;
			let faulty =
				if found { FaultyParty::JobCreator } else { FaultyParty::ResourceProvider };
			return Ok(ruling(Verdict::ResultNotFound, faulty, None));
		}
		let evidence = self.rerun(match_id, info, &endpoint).await?;
		let (verdict, faulty) = judge(result, &evidence, self.settings.usage_slack);
		tracing::info!(match_id, %verdict, %faulty, runs = evidence.roots.len(), "ruled");
		Ok(ruling(verdict, faulty, Some(&evidence)))
	}

	/// Whether the posted result's archive is in the directory with the posted root.
	async fn result_in_directory(
		&self,
		endpoint: &DirectoryEndpoint,
		result: &PostedResult,
	) -> bool {
		let Ok(blob) = reference_text(&result.reference).parse::<BlobRef>() else { return false };
		let registry = endpoint.registry.clone();
		let fetched = tokio::task::spawn_blocking(move || {
			directory::download_blob(&registry, &blob.repository, &blob.digest)
		})
		.await;
		let Ok(Ok(bytes)) = fetched else { return false };
		let dir = match tempfile_dir(&self.settings.work_dir) {
			Ok(dir) => dir,
			Err(_) => return false,
		};
		archive::unpack(&bytes, &dir).is_ok()
			&& crate::merkle::root_of_dir(&dir).is_ok_and(|root| root == result.hash)
	}

	/// Runs the job `n` times exactly as an RP would.
	async fn rerun(
		&self,
		match_id: u64,
		info: &MatchInfo,
		endpoint: &DirectoryEndpoint,
	) -> Result<Evidence, MediatorError> {
		let image = format!("{}/{}", endpoint.registry, reference_text(&info.job.job_reference));
		let settings = crate::rp::RpSettings {
			cpus: self.settings.cpus,
			pids_limit: self.settings.pids_limit,
			..Default::default()
		};
		let mut evidence = Evidence {
			roots: Vec::new(),
			statuses: Vec::new(),
			max_instructions: 0,
			bandwidth_used: 0,
		};
		let runs = info.verification_count.max(1);
		for run in 0..runs {
			let now = self.chain.now_ms().await?;
			let mut spec: JobSpec = crate::rp::job_spec(&settings, info, image.clone(), now);
			// The RP's completion deadline has passed; give each run the time the job's
			// instruction limit allows on one core, plus start-up.
			spec.wall_clock_limit = Duration::from_millis(
				info.job.instruction_limit.saturating_mul(2).saturating_add(30_000),
			);
			let work = self.settings.work_dir.join(format!("match-{match_id}/run-{run}"));
			let _ = std::fs::remove_dir_all(&work);
			let outcome = executor::run_job(
				&self.docker,
				&spec,
				&work,
				&format!("mediator-{match_id}-{run}"),
			)
			.await
			.map_err(|e| MediatorError::Execution(e.to_string()))?;
			evidence.roots.push(outcome.result_root);
			evidence.statuses.push(chain_status(outcome.status));
			evidence.max_instructions = evidence
				.max_instructions
				.max(outcome.instruction_count.min(info.job.instruction_limit));
			evidence.bandwidth_used = evidence.bandwidth_used.max(outcome.bandwidth_used);
		}
		Ok(evidence)
	}
}

fn tempfile_dir(base: &std::path::Path) -> std::io::Result<PathBuf> {
	let dir = base.join(format!("check-{}", std::process::id()));
	let _ = std::fs::remove_dir_all(&dir);
	std::fs::create_dir_all(&dir)?;
	Ok(dir)
}

#[cfg(test)]
mod tests {
	use super::*;
	use modicum_client::reference;

	fn posted(status: ResultStatus, hash: [u8; 32], instructions: u64) -> PostedResult {
		PostedResult {
			status,
			reference: reference("results/x@sha256:00").unwrap(),
			hash,
			instruction_count: instructions,
			bandwidth_used: 100,
		}
	}

	fn evidence(roots: &[[u8; 32]], instructions: u64) -> Evidence {
		Evidence {
			roots: roots.to_vec(),
			statuses: vec![ResultStatus::Completed; roots.len()],
			max_instructions: instructions,
			bandwidth_used: 100,
		}
	}

	#[test]
	fn verdicts_follow_the_protocol() {
		let (a, b) = ([1; 32], [2; 32]);
		let honest = posted(ResultStatus::Completed, a, 100);
		assert_eq!(
			judge(&honest, &evidence(&[a, a], 100), 0.5),
			(Verdict::CorrectResults, FaultyParty::JobCreator)
		);
		assert_eq!(
			judge(&honest, &evidence(&[a, b], 100), 0.5),
			(Verdict::NonDeterministic, FaultyParty::JobCreator)
		);
		assert_eq!(
			judge(&posted(ResultStatus::Completed, b, 100), &evidence(&[a, a], 100), 0.5),
			(Verdict::WrongResults, FaultyParty::ResourceProvider)
		);
		assert_eq!(
			judge(&posted(ResultStatus::ExceptionOccurred, a, 100), &evidence(&[a, a], 100), 0.5),
			(Verdict::InvalidResultStatus, FaultyParty::ResourceProvider)
		);
		assert_eq!(
			judge(&posted(ResultStatus::Completed, a, 10_000), &evidence(&[a, a], 100), 0.5),
			(Verdict::TooMuchCost, FaultyParty::ResourceProvider)
		);
		// Within the slack, a higher claim is honest measurement noise.
		assert_eq!(
			judge(&posted(ResultStatus::Completed, a, 140), &evidence(&[a, a], 100), 0.5),
			(Verdict::CorrectResults, FaultyParty::JobCreator)
		);
	}
}
