//! One job of a map-reduce, a shard or the reduce, from its offer to an accepted
//! result: posted, matched, its result checked (a spot check and a full download for a
//! shard, a download for the reduce), then accepted or disputed; re-posted when its
//! offer lapses, its RP stays silent, the mediator finds the RP at fault, or the
//! mediator stays silent (the JC closes the failed mediation itself: a hostile RP would
//! never close it, and the shard would wait forever).

use super::{
	super::{
		download_result,
		jobfile::JobRequest,
		open_match, refuse_pointless_reject,
		rerun_check::{rerun_check, RerunCheck},
		spot_check::{check_sample, disputable, RecordJob, SampleVerdict, RECORDS_OUT},
		submit, BadResult, Session,
	},
	plan::ShardRecords,
};
use anyhow::Result;
use modicum_client::{
	calls::Market,
	types::{
		CloseOutcome, FaultyParty, OfferRef, PostedResult, RejectReason, ResultStatus, Role,
		Verdict,
	},
	AccountId, MarketEvent,
};
use modicum_offchain::records;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a task computes.
pub enum Kind {
	/// A map over one shard's records.
	Map(ShardRecords),
	/// The reduce over every shard's outputs.
	Reduce,
}

/// One posting of a task, for the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Attempt {
	pub offer_id: u64,
	pub match_id: Option<u64>,
	pub resource_provider: Option<String>,
	/// How it ended, in words (`None` while it runs).
	pub outcome: Option<String>,
}

/// Where a task stands.
#[derive(Debug)]
pub enum State {
	/// To be posted (again).
	Pending,
	/// Its offer waits for a match; a match must post by `deadline`.
	Open { offer_id: u64, deadline: u64 },
	/// Matched to `resource_provider`; no result yet.
	Running { match_id: u64, resource_provider: AccountId, deadline: u64, timeout_claimed: bool },
	/// Its result was rejected; the mediator rules by `mediation_deadline`.
	Disputed {
		match_id: u64,
		resource_provider: AccountId,
		result: PostedResult,
		reason: RejectReason,
		mediation_deadline: u64,
		failure_claimed: bool,
	},
	/// Accepted (or confirmed by the mediator); its verified outputs are at `outputs`.
	Done { match_id: u64, result: PostedResult, outputs: PathBuf },
	/// Given up.
	Failed(String),
}

/// What the task's owner is told as it moves.
pub trait Progress {
	/// `task` moved on: `what` happened.
	fn say(&self, task: &str, what: &str);
}

/// The settings every task shares.
pub struct Settings<'a> {
	pub spot_check: f64,
	pub attempts: u32,
	/// Whether the reduce is re-run here before it is accepted.
	pub verify_reduce: bool,
	/// Where results are downloaded to.
	pub work: &'a Path,
	pub progress: &'a dyn Progress,
}

/// A shard or the reduce.
pub struct Task {
	pub label: String,
	pub request: JobRequest,
	pub kind: Kind,
	pub attempts: Vec<Attempt>,
	pub state: State,
}

impl Task {
	pub fn new(label: String, request: JobRequest, kind: Kind) -> Task {
		Task { label, request, kind, attempts: Vec::new(), state: State::Pending }
	}

	/// Whether nothing more will happen to it.
	pub fn finished(&self) -> bool {
		matches!(self.state, State::Done { .. } | State::Failed(_))
	}

	fn end_attempt(&mut self, outcome: String, set: &Settings<'_>) {
		set.progress.say(&self.label, &outcome);
		if let Some(last) = self.attempts.last_mut() {
			last.outcome = Some(outcome);
		}
		self.state = if self.attempts.len() as u32 >= set.attempts {
			State::Failed(format!("gave up after {} attempt(s)", self.attempts.len()))
		} else {
			State::Pending
		};
	}

	fn fail(&mut self, why: String, set: &Settings<'_>) {
		set.progress.say(&self.label, &format!("failed: {why}"));
		if let Some(last) = self.attempts.last_mut().filter(|a| a.outcome.is_none()) {
			last.outcome = Some(why.clone());
		}
		self.state = State::Failed(why);
	}

	/// Builds and prices the task's job (again) if it is pending, ready to post; a job
	/// that cannot be prepared fails the task.
	pub async fn prepare_if_pending(
		&mut self,
		s: &Session,
		set: &Settings<'_>,
	) -> Option<submit::Prepared> {
		if !matches!(self.state, State::Pending) {
			return None;
		}
		let hidden = super::super::progress::Phases::start(true);
		match submit::prepare(s, &self.request, &hidden).await {
			Ok(prepared) => Some(prepared),
			Err(e) => {
				self.fail(format!("preparing it: {e:#}"), set);
				None
			},
		}
	}

	/// Records how posting the prepared job went.
	pub fn posted(
		&mut self,
		prepared: &submit::Prepared,
		offer_id: anyhow::Result<u64>,
		set: &Settings<'_>,
	) {
		match offer_id {
			Ok(offer_id) => {
				self.attempts.push(Attempt { offer_id, ..Default::default() });
				self.state = State::Open { offer_id, deadline: prepared.terms.completion_deadline };
				let n = self.attempts.len();
				set.progress.say(&self.label, &format!("posted as offer {offer_id} (attempt {n})"));
			},
			Err(e) => self.fail(format!("posting it: {e:#}"), set),
		}
	}

	/// Follows `event` if it concerns this task.
	pub async fn on_event(&mut self, s: &Session, event: &MarketEvent, set: &Settings<'_>) {
		match (&self.state, event) {
			(
				State::Open { offer_id, deadline },
				MarketEvent::Matched { match_id, job_offer_id, resource_provider, .. },
			) if job_offer_id == offer_id => {
				let deadline = *deadline;
				if let Some(last) = self.attempts.last_mut() {
					last.match_id = Some(*match_id);
					last.resource_provider = Some(resource_provider.to_string());
				}
				set.progress.say(
					&self.label,
					&format!("matched: match {match_id} at RP {resource_provider}"),
				);
				self.state = State::Running {
					match_id: *match_id,
					resource_provider: *resource_provider,
					deadline,
					timeout_claimed: false,
				};
			},
			(
				State::Open { offer_id, .. },
				MarketEvent::OfferExpired { offer: OfferRef::Job(id), .. }
				| MarketEvent::OfferCancelled { offer: OfferRef::Job(id), .. },
			) if id == offer_id => {
				self.end_attempt(format!("offer {id} left the book unmatched"), set);
			},
			(
				State::Running { match_id, resource_provider, .. },
				MarketEvent::ResultPosted { match_id: id, result, .. },
			) if id == match_id => {
				let (match_id, rp, result) = (*match_id, *resource_provider, result.clone());
				set.progress
					.say(&self.label, &format!("match {match_id}: {} posted", result.status));
				if let Err(e) = self.react(s, (match_id, rp), result, set).await {
					self.fail(format!("checking match {match_id}: {e:#}"), set);
				}
			},
			(
				State::Running { match_id, resource_provider, .. },
				MarketEvent::MatchClosed { match_id: id, outcome },
			) if id == match_id => {
				let rp = *resource_provider;
				let outcome = match outcome {
					CloseOutcome::TimedOut => {
						self.keep_away(s, &rp, set).await;
						"timed out: its RP posted nothing (its deposit paid you)".to_string()
					},
					other => format!("closed before its result was checked: {other:?}"),
				};
				self.end_attempt(outcome, set);
			},
			(
				State::Disputed { match_id, resource_provider, result, reason, .. },
				MarketEvent::MatchClosed { match_id: id, outcome },
			) if id == match_id => {
				let (match_id, result, reason) = (*match_id, result.clone(), *reason);
				if let CloseOutcome::Mediated { faulty: FaultyParty::ResourceProvider, .. } =
					outcome
				{
					let rp = *resource_provider;
					self.keep_away(s, &rp, set).await;
				}
				self.after_dispute(s, match_id, result, reason, outcome, set).await;
			},
			_ => {},
		}
	}

	/// Claims the deposit of a matched RP that let the completion deadline pass, and
	/// closes a mediation whose mediator let its deadline pass. Each is tried once: the
	/// MatchClosed event moves the task on, and a refused claim means the other side
	/// acted in time after all, which its own event reports.
	pub async fn on_tick(&mut self, s: &Session, now: u64, set: &Settings<'_>) {
		let market = Market::new(&s.chain, &s.signer);
		match &mut self.state {
			State::Running { match_id, deadline, timeout_claimed, .. }
				if now > *deadline && !*timeout_claimed =>
			{
				*timeout_claimed = true;
				let match_id = *match_id;
				set.progress.say(&self.label, &format!("match {match_id}: overdue, claiming"));
				if let Err(e) = market.timeout(match_id).await {
					set.progress.say(&self.label, &format!("match {match_id}: claim refused: {e}"));
				}
			},
			State::Disputed { match_id, mediation_deadline, failure_claimed, .. }
				if now > *mediation_deadline && !*failure_claimed =>
			{
				*failure_claimed = true;
				let match_id = *match_id;
				set.progress.say(
					&self.label,
					&format!("match {match_id}: the mediator missed its deadline, closing"),
				);
				if let Err(e) = market.mediation_timeout(match_id).await {
					set.progress.say(&self.label, &format!("match {match_id}: close refused: {e}"));
				}
			},
			_ => {},
		}
	}

	/// Keeps `rp`, which just failed this task, away from its next postings: they ask
	/// for a share of faults below the one its record now shows (rule 13), so the solver
	/// and the chain match them elsewhere. Best effort: if its record cannot be read the
	/// task is posted as before, and says so.
	async fn keep_away(&mut self, s: &Session, rp: &AccountId, set: &Settings<'_>) {
		let records = match s.chain.reputation(rp).await {
			Ok(records) => records,
			Err(e) => {
				let why = format!("RP {rp}'s record could not be read ({e}): it may take it again");
				return set.progress.say(&self.label, &why);
			},
		};
		let record = records::view(&records, Role::ResourceProvider);
		let Some(stricter) = records::excluding(record, self.request.rp_record.clone()) else {
			return;
		};
		set.progress.say(
			&self.label,
			&format!(
				"later postings ask for at most {:.4} % of an RP's endings at its fault (RP {rp}: {} of {})",
				f64::from(stricter.max_fault_ppm) / 10_000.0,
				record.faults,
				record.endings
			),
		);
		self.request.rp_record = Some(stricter);
	}

	/// Checks the result `matched` (the match and its RP) posted, and accepts or
	/// disputes it.
	async fn react(
		&mut self,
		s: &Session,
		matched: (u64, AccountId),
		result: PostedResult,
		set: &Settings<'_>,
	) -> Result<()> {
		let match_id = matched.0;
		let market = Market::new(&s.chain, &s.signer);
		if result.status != ResultStatus::Completed {
			if refuse_pointless_reject(&result, RejectReason::InvalidResultStatus).is_err() {
				// It ran nothing and charges nothing: accepting is free; post it again.
				market.accept_result(match_id).await?;
				self.end_attempt(format!("{}: accepted at no cost", result.status), set);
				return Ok(());
			}
			let why = format!("the RP reported {}", result.status);
			return self
				.dispute(s, matched, result, RejectReason::InvalidResultStatus, why, set)
				.await;
		}
		let info = open_match(&s.chain, match_id).await?;
		if let Kind::Map(records) = &self.kind {
			let job =
				RecordJob { request: &self.request, records: &records.dir, names: &records.names };
			let checked = check_sample(s, &job, match_id, &info, &result, set.spot_check).await?;
			let sampled = checked.sampled.len();
			match checked.verdict {
				SampleVerdict::Unproven { reason } => {
					let why =
						format!("the sampled outputs are not proven by the posted root: {reason}");
					return self
						.dispute(s, matched, result, RejectReason::WrongResults, why, set)
						.await;
				},
				SampleVerdict::Compared { mismatches } if !mismatches.is_empty() => {
					let why = format!(
						"{} of {sampled} sampled records differ: {}",
						mismatches.len(),
						mismatches.join(", ")
					);
					// The mediator tries just these records before the whole shard.
					let records = disputable(&mismatches);
					return self.dispute_records(s, matched, result, &records, why, set).await;
				},
				SampleVerdict::Compared { .. } => set.progress.say(
					&self.label,
					&format!("match {match_id}: all {sampled} sampled records agree"),
				),
			}
		}
		let outputs =
			set.work.join(format!("{}-{}", self.label.replace([' ', '/'], "-"), match_id));
		let (directory, storage) = (&info.job.directory, info.job.local_storage_limit);
		if let Some(BadResult { reason, why }) =
			download_result(&s.chain, directory, storage, &result, &outputs).await?
		{
			return self.dispute(s, matched, result, reason, why, set).await;
		}
		if let Some(why) = self.missing_outputs(&outputs) {
			return self.dispute(s, matched, result, RejectReason::WrongResults, why, set).await;
		}
		if matches!(self.kind, Kind::Reduce) && set.verify_reduce {
			let scratch = set.work.join(format!("reduce-rerun-{match_id}"));
			match rerun_check(s, match_id, &info, &result, &scratch).await? {
				RerunCheck::Agrees => set.progress.say(
					&self.label,
					&format!("match {match_id}: re-ran the reduce here: the same root"),
				),
				RerunCheck::Differs { root } => {
					let why = format!(
						"re-running the reduce here gave root 0x{}, not the posted 0x{}",
						hex::encode(root),
						hex::encode(result.hash)
					);
					return self
						.dispute(s, matched, result, RejectReason::WrongResults, why, set)
						.await;
				},
				RerunCheck::Inconclusive(why) => set.progress.say(
					&self.label,
					&format!("match {match_id}: the reduce could not be checked here ({why}); accepting it as downloaded"),
				),
			}
		}
		market.accept_result(match_id).await?;
		self.accepted(match_id, result, outputs, "accepted".into(), set);
		Ok(())
	}

	/// A map result must hold an output for every record it was given, and no other.
	fn missing_outputs(&self, outputs: &Path) -> Option<String> {
		let Kind::Map(records) = &self.kind else { return None };
		let dir = outputs.join(RECORDS_OUT);
		let missing: Vec<&String> =
			records.names.iter().filter(|name| !dir.join(name).is_file()).collect();
		let count = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
		if missing.is_empty() && count == records.names.len() {
			return None;
		}
		let shown: Vec<&str> = missing.iter().take(5).map(|n| n.as_str()).collect();
		Some(format!(
			"{} of {} records have no output ({}), and {RECORDS_OUT} holds {count} file(s)",
			missing.len(),
			records.names.len(),
			shown.join(", ")
		))
	}

	fn accepted(
		&mut self,
		match_id: u64,
		result: PostedResult,
		outputs: PathBuf,
		outcome: String,
		set: &Settings<'_>,
	) {
		set.progress.say(&self.label, &format!("match {match_id}: {outcome}"));
		if let Some(last) = self.attempts.last_mut() {
			last.outcome = Some(outcome);
		}
		self.state = State::Done { match_id, result, outputs };
	}

	async fn dispute(
		&mut self,
		s: &Session,
		matched: (u64, AccountId),
		result: PostedResult,
		reason: RejectReason,
		why: String,
		set: &Settings<'_>,
	) -> Result<()> {
		self.reject(s, matched, result, (reason, &[]), why, set).await
	}

	/// Rejects as wrong, naming the `records` whose outputs differ (a whole-job
	/// rejection if none can be named).
	async fn dispute_records(
		&mut self,
		s: &Session,
		matched: (u64, AccountId),
		result: PostedResult,
		records: &[String],
		why: String,
		set: &Settings<'_>,
	) -> Result<()> {
		self.reject(s, matched, result, (RejectReason::WrongResults, records), why, set).await
	}

	async fn reject(
		&mut self,
		s: &Session,
		(match_id, resource_provider): (u64, AccountId),
		result: PostedResult,
		(reason, records): (RejectReason, &[String]),
		why: String,
		set: &Settings<'_>,
	) -> Result<()> {
		set.progress.say(&self.label, &format!("match {match_id}: {why}; rejecting ({reason})"));
		let market = Market::new(&s.chain, &s.signer);
		let events = if records.is_empty() {
			market.reject_result(match_id, reason).await?
		} else {
			market.reject_records(match_id, records).await?
		};
		let mediation_deadline = events
			.iter()
			.find_map(|e| match e {
				MarketEvent::JobAssignedForMediation { match_id: id, mediation_deadline, .. }
					if *id == match_id =>
				{
					Some(*mediation_deadline)
				},
				_ => None,
			})
			.ok_or_else(|| {
				anyhow::anyhow!("the chain took the rejection of match {match_id} but named no mediation deadline")
			})?;
		if let Some(last) = self.attempts.last_mut() {
			last.outcome = Some(format!("rejected ({reason}): {why}"));
		}
		self.state = State::Disputed {
			match_id,
			resource_provider,
			result,
			reason,
			mediation_deadline,
			failure_claimed: false,
		};
		Ok(())
	}

	/// The mediator ruled (or did not): post again, take the result it confirmed, or
	/// give up on a job that cannot succeed.
	async fn after_dispute(
		&mut self,
		s: &Session,
		match_id: u64,
		result: PostedResult,
		reason: RejectReason,
		outcome: &CloseOutcome,
		set: &Settings<'_>,
	) {
		let rejected = self.attempts.last().and_then(|a| a.outcome.clone()).unwrap_or_default();
		let ruling = match outcome {
			CloseOutcome::Mediated { verdict, faulty } => format!("{verdict}, {faulty} at fault"),
			CloseOutcome::MediationFailed => "the mediator did not rule in time".into(),
			other => format!("{other:?}"),
		};
		let said = format!("{rejected}; mediator: {ruling}");
		match outcome {
			CloseOutcome::Mediated { verdict: Verdict::NonDeterministic, .. } => self.fail(
				format!("{said}: the job is not deterministic, so no result can be checked"),
				set,
			),
			CloseOutcome::Mediated { faulty: FaultyParty::JobCreator, .. }
				if reason == RejectReason::WrongResults =>
			{
				// The mediator's runs confirmed the posted result: it is the answer.
				set.progress.say(&self.label, &said);
				let outputs = set.work.join(format!("confirmed-{match_id}"));
				match self.download_closed(s, &result, &outputs).await {
					Ok(()) => self.accepted(match_id, result, outputs, said, set),
					Err(e) => self.fail(format!("{said}; downloading it: {e:#}"), set),
				}
			},
			CloseOutcome::Mediated { faulty: FaultyParty::JobCreator, .. } => {
				self.fail(format!("{said}: the job itself fails; fix the job file"), set)
			},
			_ => self.end_attempt(said, set),
		}
	}

	/// Downloads and verifies the result of a match that has closed (its terms are
	/// gone from chain, so the job's own directory and limits are used).
	async fn download_closed(&self, s: &Session, result: &PostedResult, out: &Path) -> Result<()> {
		let directory = modicum_client::keys::parse_account(&self.request.directory)?;
		match download_result(&s.chain, &directory, self.request.storage, result, out).await? {
			None => Ok(()),
			Some(BadResult { why, .. }) => anyhow::bail!(why),
		}
	}
}
