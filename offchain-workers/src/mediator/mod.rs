//! The mediator daemon (`modicum mediator run`): when a rejected result is assigned
//! to it, it gathers the evidence the rejection asks for ([`evidence`]) — the
//! directory's uptime, the posted result, or `n` runs of the job through the same
//! pipeline the RP used — and rules by the pure [`job::ruling`](crate::job::ruling).
//! A ruling is persisted before it is posted, so a restart posts the same one, and a
//! post the chain refuses for good is not retried.

mod evidence;
mod records;
mod replicas;
mod settings;
mod tracking;

pub use replicas::GroupRuling;

pub use settings::{MediatorConfig, MediatorSettings};

use crate::{
	daemon::{self, Declarations, OpenError, Opened, Retry, Wake},
	docker,
	job::{ruling, JobError},
	state::{hex32, StateError, StateFile},
};
use modicum_client::{
	calls::Market,
	chain::MatchInfo,
	types::{Architecture, FaultyParty, MatchState, RejectReason, ResultStatus, Verdict},
	AccountId, Chain, ClientError, Keypair, MarketEvent,
};
use serde::{Deserialize, Serialize};
use std::{
	collections::{BTreeMap, BTreeSet},
	sync::Arc,
	time::Duration,
};
use tokio::sync::Mutex;

/// What can stop the daemon, or fail one mediation.
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
	/// A re-run failed for this machine's reasons, not the job's.
	#[error("re-running the job: {0}")]
	Job(#[from] JobError),
	/// The evidence could not be gathered just now (the directory is unreachable).
	#[error("gathering evidence: {0}")]
	Evidence(String),
	/// The daemon could not start (node, key, Docker, work directory, state file).
	#[error(transparent)]
	Open(#[from] OpenError),
	/// The configuration is unusable.
	#[error("configuration: {0}")]
	Config(String),
	/// The daemon is stopping: a ruling made now is not trusted (a re-run's container
	/// may have been killed under it); the next start mediates again.
	#[error("stopping")]
	Stopping,
}

impl Retry for MediatorError {
	fn is_connection_lost(&self) -> bool {
		matches!(self, MediatorError::Chain(e) if e.is_connection_lost())
	}
}

/// A decided verdict, persisted before posting so a restart posts the same one.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Ruling {
	/// The verdict.
	pub verdict: Verdict,
	/// Who is at fault.
	pub faulty: FaultyParty,
	/// Instructions per run the mediator measured.
	pub instruction_count: u64,
	/// Bytes the image costs to download.
	pub bandwidth_used: u64,
	/// Its own result root.
	#[serde(with = "hex32")]
	pub result_hash: [u8; 32],
	/// Whether nothing more is to be done: on chain, or refused for good.
	pub posted: bool,
}

/// The mediator's persisted state.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct MediatorState {
	/// Per match id.
	pub rulings: BTreeMap<u64, Ruling>,
	/// Per disputed replica group.
	#[serde(default)]
	pub group_rulings: BTreeMap<u64, GroupRuling>,
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
	groups_in_flight: Arc<Mutex<BTreeSet<u64>>>,
	/// The open matches naming this mediator, as far as it knows (closed ones drop out
	/// at the next tick).
	known_matches: Mutex<BTreeSet<u64>>,
	/// The job images pulled for re-runs, kept within a byte budget.
	images: crate::image_cache::ImageCache,
	/// Set once the daemon stops: no ruling made after it is kept or posted.
	stopping: std::sync::atomic::AtomicBool,
}

impl Mediator {
	/// Connects to the chain and the Docker engine and opens the state file.
	pub async fn start(config: MediatorConfig) -> Result<Self, MediatorError> {
		if config.mediator.pids_limit < 1 {
			return Err(MediatorError::Config("pids_limit must be at least 1".into()));
		}
		let Opened { chain, signer, me, docker, state } =
			daemon::open(&config.chain, &config.mediator.work_dir, "mediator-state.json").await?;
		let images = crate::image_cache::ImageCache::new(config.mediator.image_cache_bytes);
		Ok(Mediator {
			chain,
			signer,
			me,
			images,
			stopping: std::sync::atomic::AtomicBool::new(false),
			settings: config.mediator,
			docker,
			state: Arc::new(Mutex::new(state)),
			in_flight: Arc::new(Mutex::new(BTreeSet::new())),
			groups_in_flight: Arc::new(Mutex::new(BTreeSet::new())),
			known_matches: Mutex::new(BTreeSet::new()),
		})
	}

	/// At shutdown: stops and removes this mediator's re-run containers and unmounts
	/// their outputs; from then on no ruling is kept or posted.
	pub async fn stop_jobs(&self) -> usize {
		self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
		self.clear_leftovers().await
	}

	/// Removes this mediator's re-run containers and unmounts their outputs (at
	/// start-up after a crash).
	async fn clear_leftovers(&self) -> usize {
		let prefix = format!("mediator-{}-", crate::executor::owner_tag(&self.me.0));
		crate::executor::clear_leftovers(&self.docker, &prefix, &self.settings.work_dir).await
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
		let wanted = Declarations {
			trusted_mediators: &[],
			trusted_directories: &self.settings.trusted_directories,
			base_layers: &self.settings.base_layers,
			base_images: &self.settings.base_images,
		};
		daemon::declare(&self.chain, &self.signer, &self.docker, wanted).await?;
		Ok(())
	}

	/// Runs until stopped: mediates each match a block assigns to it, and every few
	/// seconds (and after a reconnect) looks for any it has not finished.
	pub async fn run(self: Arc<Self>) -> Result<(), MediatorError> {
		self.prepare().await?;
		// Nothing of ours runs yet: whatever a killed run left is removed; a mediation
		// still open is started again by the reconcile.
		let removed = self.clear_leftovers().await;
		if removed > 0 {
			tracing::info!(removed, "removed job containers and outputs of an earlier run");
		}
		let chain = self.chain.clone();
		daemon::follow(&chain, Duration::from_secs(5), |wake| {
			let this = Arc::clone(&self);
			async move {
				match wake {
					// The mediator follows finalized blocks, which are never retracted.
					Wake::Tick | Wake::Retracted { .. } => this.reconcile().await,
					Wake::Block(block) => {
						for event in &block.events {
							match event {
								MarketEvent::Matched { match_id, mediator, .. }
									if *mediator == this.me =>
								{
									this.note_match(*match_id).await;
								},
								MarketEvent::JobAssignedForMediation {
									match_id, mediator, ..
								} if *mediator == this.me => {
									this.note_match(*match_id).await;
									if let Some(info) = this.chain.match_info(*match_id).await? {
										this.begin_mediation(*match_id, info).await;
									}
								},
								MarketEvent::ReplicasDisagreed { group, mediator, .. }
									if *mediator == this.me =>
								{
									this.begin_group(*group).await;
								},
								_ => {},
							}
						}
						Ok(())
					},
				}
			}
		})
		.await
	}

	/// Starts a mediation for every match in mediation with this mediator, and a group
	/// ruling for every disputed replica group it mediates, each in its own task and
	/// scratch directories, so mediations never share files.
	pub async fn reconcile(self: &Arc<Self>) -> Result<(), MediatorError> {
		let mut groups = BTreeSet::new();
		for (match_id, info) in self.own_matches().await? {
			// A disputed group's replicas wait in mediation with this reason until its
			// verdict, so the group is found through any of them.
			let replicas = RejectReason::ReplicasDisagree;
			if matches!(&info.state, MatchState::InMediation { reason, .. } if *reason == replicas)
			{
				if let Some(group) = self.chain.match_replica_group(match_id).await? {
					groups.insert(group);
				}
			} else {
				self.begin_mediation(match_id, info).await;
			}
		}
		for group in groups {
			self.begin_group(group).await;
		}
		Ok(())
	}

	/// Starts mediating `match_id` unless it is not ours, not in mediation, done, or
	/// already being mediated.
	async fn begin_mediation(self: &Arc<Self>, match_id: u64, info: MatchInfo) {
		let MatchState::InMediation { reason, .. } = &info.state else { return };
		// A replica dispute is ruled for its whole group (`begin_group`).
		if info.mediator != self.me || *reason == RejectReason::ReplicasDisagree {
			return;
		}
		let done = self.state.lock().await.get().rulings.get(&match_id).is_some_and(|r| r.posted);
		if done || !self.in_flight.lock().await.insert(match_id) {
			return;
		}
		let this = Arc::clone(self);
		tokio::spawn(async move {
			if let Err(e) = this.mediate(match_id, &info).await {
				tracing::error!(match_id, "mediation failed (the next tick retries): {e}");
			}
			this.in_flight.lock().await.remove(&match_id);
		});
	}

	async fn mediate(&self, match_id: u64, info: &MatchInfo) -> Result<(), MediatorError> {
		let known = self.state.lock().await.get().rulings.get(&match_id).cloned();
		let ruling = match known {
			Some(ruling) if ruling.posted => return Ok(()),
			Some(ruling) => ruling,
			None => {
				let Some(ruling) = self.decide(match_id, info).await? else {
					return Ok(());
				};
				if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
					// A re-run's container may have been killed under it.
					return Err(MediatorError::Stopping);
				}
				self.state.lock().await.update(|s| s.rulings.insert(match_id, ruling.clone()))?;
				ruling
			},
		};
		let posted = Market::new(&self.chain, &self.signer)
			.post_mediation_result(
				match_id,
				ruling.verdict,
				ruling.faulty,
				ruling.instruction_count,
				ruling.bandwidth_used,
				ruling.result_hash,
			)
			.await;
		match posted {
			Ok(_) => {
				tracing::info!(match_id, verdict = %ruling.verdict, faulty = %ruling.faulty, "verdict posted")
			},
			Err(e) if e.is_final() => {
				tracing::warn!(match_id, "the verdict is not taken and will not be retried: {e}")
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

	/// Gathers the evidence the rejection asks for and rules; `None` when the
	/// mediation deadline leaves no time to.
	async fn decide(
		&self,
		match_id: u64,
		info: &MatchInfo,
	) -> Result<Option<Ruling>, MediatorError> {
		let MatchState::InMediation { result, reason, mediation_deadline } = &info.state else {
			return Err(MediatorError::Config(format!("match {match_id} is not in mediation")));
		};
		if *reason == RejectReason::WrongResults && result.status == ResultStatus::Completed {
			let disputed = self.chain.disputed_records(match_id).await?;
			if !disputed.is_empty() {
				let by_records = self
					.rule_by_records(match_id, info, result, &disputed, *mediation_deadline)
					.await?;
				if let Some(ruling) = by_records {
					return Ok(Some(ruling));
				}
				tracing::info!(match_id, "the disputed records cannot decide: re-running the job");
			}
		}
		let Some(gathered) =
			self.gather(match_id, info, result, *reason, *mediation_deadline).await?
		else {
			tracing::warn!(match_id, "too late to mediate: the mediation deadline is too close");
			return Ok(None);
		};
		let (verdict, faulty) = ruling::rule(result, *reason, &gathered, self.settings.usage_slack)
			.map_err(|e| MediatorError::Evidence(e.to_string()))?;
		let runs = match &gathered {
			ruling::Evidence::Reruns(runs) => runs.as_slice(),
			_ => &[],
		};
		tracing::info!(match_id, %verdict, %faulty, runs = runs.len(), "ruled");
		Ok(Some(Ruling {
			verdict,
			faulty,
			instruction_count: runs.iter().map(|r| r.instruction_count).max().unwrap_or(0),
			bandwidth_used: runs.iter().map(|r| r.bandwidth_used).max().unwrap_or(0),
			result_hash: runs.first().map_or([0; 32], |r| r.root),
			posted: false,
		}))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn rulings_persist_typed() {
		let ruling = Ruling {
			verdict: Verdict::CorrectResults,
			faulty: FaultyParty::JobCreator,
			instruction_count: 3,
			bandwidth_used: 4,
			result_hash: [1; 32],
			posted: false,
		};
		let text = serde_json::to_string(&ruling).unwrap();
		assert!(text.contains(r#""verdict":"correct-results""#), "{text}");
		assert_eq!(serde_json::from_str::<Ruling>(&text).unwrap(), ruling);
	}
}
