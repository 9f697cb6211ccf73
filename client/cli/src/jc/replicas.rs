//! `modicum jc submit --replicas k`: one job run by k distinct RPs whose results the
//! chain compares (README, "Replicated jobs"). Equal results are accepted without the
//! JC; different ones go to the mediator, which pays the right replicas and fines the
//! wrong ones. With `--wait` this follows every replica to its end, claims the
//! deposit of any replica whose RP stays silent past the deadline, and closes a
//! mediation whose mediator stays silent past its own.

use super::{progress::Phases, Session};
use crate::output;
use anyhow::{anyhow, bail, Result};
use modicum_client::{
	calls::Market,
	chain::JobTerms,
	events::MarketEvents,
	types::{Acceptor, CloseOutcome, MatchState, OfferRef},
	units::format_amount,
	AccountId, MarketEvent,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to post: the job's terms, k and the RPs to leave out.
pub struct ReplicatedJob {
	pub terms: JobTerms,
	pub replicas: u32,
	pub excluded: Vec<AccountId>,
	pub deposit: u128,
	pub expires_at: u64,
	pub wait: bool,
}

/// What `submit --replicas` reports.
#[derive(Serialize)]
struct Report {
	group: u64,
	job_reference: String,
	deposit_per_replica: u128,
	replicas: Vec<Replica>,
}

/// One replica as it stands.
#[derive(Clone, Serialize)]
struct Replica {
	offer_id: u64,
	match_id: Option<u64>,
	resource_provider: Option<String>,
	result_hash: Option<String>,
	/// `open`, `running`, `committed`, `posted`, `in-mediation`, `awaiting-you`,
	/// `closed` or `unmatched`.
	state: &'static str,
	/// How it closed, in words.
	outcome: Option<String>,
}

impl Replica {
	fn done(&self) -> bool {
		matches!(self.state, "closed" | "unmatched" | "awaiting-you")
	}
}

/// How a replica's match closed, in words.
fn outcome_text(outcome: &CloseOutcome) -> String {
	match outcome {
		CloseOutcome::Accepted(Acceptor::ReplicasAgreed) => "accepted: the replicas agreed".into(),
		CloseOutcome::Accepted(Acceptor::MediatorConfirmed) => {
			"accepted: the mediator's runs confirmed it".into()
		},
		CloseOutcome::Accepted(_) => "accepted".into(),
		CloseOutcome::TimedOut => "timed out: its RP posted nothing; its deposit paid you".into(),
		CloseOutcome::Mediated { verdict, faulty } => {
			format!("mediated: {verdict}, {faulty} at fault")
		},
		CloseOutcome::MediationFailed => "the mediator did not rule in time".into(),
	}
}

pub async fn submit_replicated(
	s: &Session,
	job: ReplicatedJob,
	job_reference: String,
	mut events: MarketEvents,
	mut phases: Phases,
	json: bool,
) -> Result<()> {
	phases.note(format!(
		"posting {} replicas of the job offer (deposit {} each)",
		job.replicas,
		format_amount(job.deposit)
	));
	let completion_deadline = job.terms.completion_deadline;
	let posted = Market::new(&s.chain, &s.signer)
		.post_replicated_job_offer(
			job.terms,
			job.replicas,
			job.excluded,
			job.deposit,
			job.expires_at,
		)
		.await?;
	let (group, offers) = posted
		.iter()
		.find_map(|e| match e {
			MarketEvent::ReplicatedJobOfferPosted { group, offers, .. } => {
				Some((*group, offers.0.clone()))
			},
			_ => None,
		})
		.ok_or_else(|| anyhow!("the chain took the offers but reported no replica group"))?;
	let mut replicas: BTreeMap<u64, Replica> = offers
		.iter()
		.map(|&offer_id| {
			let replica = Replica {
				offer_id,
				match_id: None,
				resource_provider: None,
				result_hash: None,
				state: "open",
				outcome: None,
			};
			(offer_id, replica)
		})
		.collect();
	if job.wait {
		phases.enter("posted", format!("replica group {group}: offers {offers:?}"));
		follow(s, &mut events, group, completion_deadline, &mut replicas, &mut phases).await?;
	}
	let timeline = phases.finish();
	let report = Report {
		group,
		job_reference,
		deposit_per_replica: job.deposit,
		replicas: replicas.into_values().collect(),
	};
	output::print(json, &report, || describe(&report, job.wait, &timeline));
	Ok(())
}

fn describe(report: &Report, waited: bool, timeline: &str) -> String {
	let mut text = format!(
		"replica group {}: {} job offers (deposit {} each)",
		report.group,
		report.replicas.len(),
		format_amount(report.deposit_per_replica)
	);
	for (i, r) in report.replicas.iter().enumerate() {
		let place = match (r.match_id, &r.resource_provider) {
			(Some(id), Some(rp)) => format!("match {id} at RP {rp}"),
			_ => format!("offer {}", r.offer_id),
		};
		let end = r.outcome.clone().unwrap_or_else(|| r.state.to_string());
		text.push_str(&format!("\n  replica {}: {place}: {end}", i + 1));
		if r.state == "awaiting-you" {
			let id = r.match_id.unwrap_or_default();
			text.push_str(&format!(
				" (the only replica that posted: `modicum jc accept {id}` or `modicum jc reject {id}`)"
			));
		}
	}
	if waited {
		text.push('\n');
		text.push_str(timeline);
	} else {
		text.push_str("\nfollow them with `modicum jc list`");
	}
	text
}

/// Follows every replica until it is closed, unmatched, or waiting for the JC.
async fn follow(
	s: &Session,
	events: &mut MarketEvents,
	group: u64,
	completion_deadline: u64,
	replicas: &mut BTreeMap<u64, Replica>,
	phases: &mut Phases,
) -> Result<()> {
	let mut by_match: BTreeMap<u64, u64> = BTreeMap::new();
	while let Some(block) = events.next().await {
		for event in block?.events {
			use MarketEvent as E;
			match event {
				E::Matched { match_id, job_offer_id, resource_provider, .. } => {
					if let Some(r) = replicas.get_mut(&job_offer_id) {
						by_match.insert(match_id, job_offer_id);
						r.match_id = Some(match_id);
						r.resource_provider = Some(resource_provider.to_string());
						r.state = "running";
						phases.enter(
							"matched",
							format!("replica offer {job_offer_id}: match {match_id} at RP {resource_provider}"),
						);
					}
				},
				E::OfferExpired { offer: OfferRef::Job(id), .. }
				| E::OfferCancelled { offer: OfferRef::Job(id), .. } => {
					if let Some(r) = replicas.get_mut(&id).filter(|r| r.match_id.is_none()) {
						r.state = "unmatched";
						r.outcome =
							Some("no RP took it before it expired; its deposit is back".into());
					}
				},
				E::ReplicaResultCommitted { match_id, .. } => {
					if let Some(r) = by_match.get(&match_id).and_then(|o| replicas.get_mut(o)) {
						r.state = "committed";
						phases.enter("committed", format!("match {match_id}: result committed"));
					}
				},
				E::ReplicaResultPosted { match_id, result, .. } => {
					if let Some(r) = by_match.get(&match_id).and_then(|o| replicas.get_mut(o)) {
						r.state = "posted";
						r.result_hash = Some(format!("0x{}", hex::encode(result.hash)));
						phases
							.enter("result", format!("match {match_id}: {} posted", result.status));
					}
				},
				E::ReplicasAgreed { group: g, matches } if g == group => {
					phases.enter("compared", format!("{} results agree", matches.0.len()));
				},
				E::ReplicasDisagreed { group: g, mediator, .. } if g == group => {
					for r in replicas.values_mut().filter(|r| r.state == "posted") {
						r.state = "in-mediation";
					}
					phases.enter(
						"mediation",
						format!("results differ: mediator {mediator} re-runs the job"),
					);
				},
				E::ResultPosted { match_id, result, .. } => {
					if let Some(r) = by_match.get(&match_id).and_then(|o| replicas.get_mut(o)) {
						r.state = "awaiting-you";
						r.result_hash = Some(format!("0x{}", hex::encode(result.hash)));
					}
				},
				E::MatchClosed { match_id, outcome } => {
					if let Some(r) = by_match.get(&match_id).and_then(|o| replicas.get_mut(o)) {
						r.state = "closed";
						r.outcome = Some(outcome_text(&outcome));
					}
				},
				_ => {},
			}
		}
		if replicas.values().all(Replica::done) {
			return Ok(());
		}
		if s.chain.now_ms().await? > completion_deadline {
			claim_silent_replicas(s, group, replicas).await?;
			close_failed_mediations(s, replicas).await?;
		}
	}
	bail!("the node closed the event subscription")
}

/// Closes every replica's mediation whose mediator let its deadline pass without a
/// verdict: the RPs need not be there to do it.
async fn close_failed_mediations(s: &Session, replicas: &BTreeMap<u64, Replica>) -> Result<()> {
	let now = s.chain.now_ms().await?;
	for r in replicas.values().filter(|r| r.state == "in-mediation") {
		let Some(match_id) = r.match_id else { continue };
		let Some(info) = s.chain.match_info(match_id).await? else { continue };
		match info.state {
			MatchState::InMediation { mediation_deadline, .. } if now > mediation_deadline => {},
			_ => continue,
		}
		match Market::new(&s.chain, &s.signer).mediation_timeout(match_id).await {
			Ok(_) => {},
			// Another party closed it first; its MatchClosed event reports how.
			Err(e) if e.is_final() => tracing::debug!(match_id, "closing refused: {e}"),
			Err(e) => return Err(e.into()),
		}
	}
	Ok(())
}

/// Past the deadline, a replica whose RP posted nothing owes the JC its estimate: claim
/// it, then have the other replicas compared.
async fn claim_silent_replicas(
	s: &Session,
	group: u64,
	replicas: &BTreeMap<u64, Replica>,
) -> Result<()> {
	let now = s.chain.now_ms().await?;
	let mut claimed = false;
	for r in replicas.values().filter(|r| matches!(r.state, "running" | "committed")) {
		let Some(match_id) = r.match_id else { continue };
		let Some(info) = s.chain.match_info(match_id).await? else { continue };
		// A replica that committed has until its reveal deadline.
		let deadline = match info.state {
			MatchState::Matched => info.job.completion_deadline,
			MatchState::Committed { .. } => {
				info.job.completion_deadline.saturating_add(info.reaction_window)
			},
			_ => continue,
		};
		if now > deadline {
			match Market::new(&s.chain, &s.signer).timeout(match_id).await {
				Ok(_) => claimed = true,
				Err(e) if e.is_final() => tracing::debug!(match_id, "timeout refused: {e}"),
				Err(e) => return Err(e.into()),
			}
		}
	}
	if claimed {
		// The timeout closes only the silent replica; the RPs that revealed would also
		// ask for the comparison, but the JC need not wait for them.
		match Market::new(&s.chain, &s.signer).settle_replicas(group).await {
			Ok(_) => {},
			Err(e) if e.is_final() => tracing::debug!(group, "settling refused: {e}"),
			Err(e) => return Err(e.into()),
		}
	}
	Ok(())
}
