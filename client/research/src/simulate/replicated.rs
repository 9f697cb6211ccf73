//! Replicated jobs in the simulation (README, "Replicated jobs"): each job runs as k
//! replicas on k distinct RPs drawn from the RP population, against the real pallet.
//! Each RP plays its type (runs, forges — each forger its own garbage — or stays
//! silent); the replicas commit, then reveal; the chain compares; a disagreement goes
//! to the mediator, whose n runs rule on the whole group. One replica alone goes to
//! its JC, which plays its type as in a single job. The books are checked after every
//! job, as in [`super::simulate`].
//!
//! What it reports per RP type: replicas paid, fined and timed out, mean utility; and
//! the two figures replication is for: forged results paid (slipped through) and
//! honest RPs that lost money.

use std::collections::BTreeMap;

use pallet_compute_market::{
	Event as MarketEvent, Matches, ReplicaVerdict, ResultStatus, MAX_REPLICAS,
};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::agents::{chance, run_job, Output, RpKind};
use super::engine::{self, call, jc_account, rp_account, INSTRUCTIONS, MEDIATOR, SOLVER, UNIT};
use super::runtime::{
	AccountId, Balances, Market, RuntimeEvent, RuntimeOrigin, SimClock, SimRuntime, System,
};
use super::{SimConfig, SimError};
use frame_support::traits::fungible::Inspect;

const HOUR_MS: u64 = 3_600_000;

/// One RP type's replicas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaTypeStats {
	/// Replicas it ran (or was matched to).
	pub replicas: usize,
	/// Paid as accepted: replicas agreed, the mediator confirmed it, or the JC accepted.
	pub paid: usize,
	/// Found at fault and fined.
	pub fined: usize,
	/// Timed out (silent, or committed without revealing).
	pub timed_out: usize,
	/// Replicas with a negative utility.
	pub losses: usize,
	/// Sum of utilities (currency units), for the mean.
	pub utility: f64,
}

impl ReplicaTypeStats {
	/// Mean utility per replica.
	pub fn mean_utility(&self) -> f64 {
		if self.replicas == 0 {
			0.0
		} else {
			self.utility / self.replicas as f64
		}
	}
}

/// What a replicated run showed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicaSummary {
	/// k.
	pub replicas: u32,
	/// Jobs run.
	pub jobs: usize,
	/// Jobs whose replicas all agreed.
	pub agreed: usize,
	/// Jobs that went to the mediator.
	pub disputed: usize,
	/// Of those, ruled non-deterministic.
	pub non_deterministic: usize,
	/// Jobs where only one replica revealed (the JC reacted as to one job).
	pub single: usize,
	/// Forged replicas.
	pub forged: usize,
	/// Forged replicas that were paid anyway.
	pub forged_paid: usize,
	/// Per RP type.
	pub by_type: BTreeMap<RpKind, ReplicaTypeStats>,
}

/// How one replica ended, for the tally.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
	Paid,
	Fined,
	TimedOut,
	Other,
}

/// Runs `config.jobs` jobs as `replicas` replicas each.
pub fn simulate_replicated(config: &SimConfig, replicas: u32) -> Result<ReplicaSummary, SimError> {
	config.validate()?;
	if !(2..=MAX_REPLICAS).contains(&replicas) {
		return Err(SimError::InvalidConfig(format!("replicas must be 2 to {MAX_REPLICAS}")));
	}
	let (jcs, rps) = (config.population.jcs(), config.population.rps());
	if rps.len() < replicas as usize {
		return Err(SimError::InvalidConfig("fewer RPs than replicas".into()));
	}
	let strategies = config.strategies()?;
	let accounts = engine::accounts(config);
	let mut ext = super::runtime::new_externalities(
		accounts.iter().copied(),
		engine::endowment(),
		engine::parameters(config),
	)
	.map_err(SimError::Genesis)?;
	let mut rng = StdRng::seed_from_u64(config.seed);
	ext.execute_with(|| {
		engine::register_everyone(config)?;
		let mut summary = ReplicaSummary {
			replicas,
			jobs: config.jobs,
			agreed: 0,
			disputed: 0,
			non_deterministic: 0,
			single: 0,
			forged: 0,
			forged_paid: 0,
			by_type: BTreeMap::new(),
		};
		let mut fined = 0u128;
		let indices: Vec<usize> = (0..rps.len()).collect();
		for job in 0..config.jobs {
			let jc = rng.gen_range(0..jcs.len());
			let chosen: Vec<usize> =
				indices.choose_multiple(&mut rng, replicas as usize).copied().collect();
			let kinds: Vec<RpKind> = chosen.iter().map(|i| rps[*i]).collect();
			let ends = run_group(
				config,
				&mut rng,
				job,
				(jc, strategies.jc(jcs[jc])),
				&chosen,
				&kinds,
				&strategies,
				&mut summary,
			)?;
			fined += ends.fined;
			engine::check_books(job, &accounts, fined)?;
		}
		Ok(summary)
	})
}

/// The fines one job burnt.
struct GroupEnd {
	fined: u128,
}

#[allow(clippy::too_many_arguments)]
fn run_group(
	config: &SimConfig,
	rng: &mut impl Rng,
	job: usize,
	(jc_index, jc_play): (usize, super::agents::JcPlay),
	chosen: &[usize],
	kinds: &[RpKind],
	strategies: &super::agents::Strategies,
	summary: &mut ReplicaSummary,
) -> Result<GroupEnd, SimError> {
	let jc = jc_account(jc_index);
	let rp_accounts: Vec<AccountId> = chosen.iter().map(|i| rp_account(*i)).collect();
	let before: Vec<u128> = rp_accounts.iter().map(|a| total(*a)).collect();
	System::reset_events();
	SimClock::advance(1_000);
	let now = <SimClock as frame_support::traits::Time>::now();
	let signed = RuntimeOrigin::signed;
	let terms = engine::job_terms(config, now);
	let resource = engine::resource_terms(config);
	let quote = |r: Result<u128, _>| {
		r.map_err(|e| SimError::Dispatch { job, call: "quote", error: format!("{e:?}") })
	};
	let jc_deposit = quote(Market::quote_job_deposit(&terms, Some(&MEDIATOR)))?;
	let rp_deposit = quote(Market::quote_resource_deposit(
		&resource,
		Some(&MEDIATOR),
		Some(&engine::DIRECTORY),
	))?;
	let first_offer = pallet_compute_market::NextOfferId::<SimRuntime>::get();
	call(
		job,
		"post_replicated_job_offer",
		Market::post_replicated_job_offer(
			signed(jc),
			terms,
			chosen.len() as u32,
			Default::default(),
			jc_deposit,
			now + HOUR_MS,
		),
	)?;
	let mut matches = Vec::new();
	for (i, rp) in rp_accounts.iter().enumerate() {
		let resource_offer = pallet_compute_market::NextOfferId::<SimRuntime>::get();
		call(
			job,
			"post_resource_offer",
			Market::post_resource_offer(signed(*rp), resource.clone(), rp_deposit, now + HOUR_MS),
		)?;
		matches.push(pallet_compute_market::NextMatchId::<SimRuntime>::get());
		let job_offer = first_offer + i as u64;
		call(
			job,
			"post_match",
			Market::post_match(signed(SOLVER), job_offer, resource_offer, MEDIATOR),
		)?;
	}

	// Each RP plays its type; forgers make up garbage of their own.
	let mut outputs: Vec<Option<(Output, [u8; 32])>> = Vec::new();
	let mut ran = Vec::new();
	for (i, kind) in kinds.iter().enumerate() {
		let play = strategies.rp(*kind);
		if play.silent {
			outputs.push(None);
			ran.push(false);
			continue;
		}
		let runs = chance(rng, play.p_e);
		let output = if runs { run_job(rng, jc_play.p_a) } else { Output::Forged };
		let mut hash = output.hash();
		if output == Output::Forged {
			hash[0] = hash[0].wrapping_add(i as u8 + 1);
			summary.forged += 1;
		}
		outputs.push(Some((output, hash)));
		ran.push(runs);
	}
	for ((id, rp), out) in matches.iter().zip(&rp_accounts).zip(&outputs) {
		if let Some((_, hash)) = out {
			let commitment = Market::result_commitment(*id, ResultStatus::Completed, hash);
			call(job, "commit_result", Market::commit_result(signed(*rp), *id, commitment))?;
		}
	}
	// A silent replica blocks the reveals until it can no longer commit.
	SimClock::advance(if outputs.iter().any(Option::is_none) { HOUR_MS + 1 } else { 1_000 });
	for ((id, rp), out) in matches.iter().zip(&rp_accounts).zip(&outputs) {
		if let Some((_, hash)) = out {
			call(
				job,
				"reveal_result",
				Market::reveal_result(
					signed(*rp),
					*id,
					ResultStatus::Completed,
					engine::reference(b"sim/result"),
					*hash,
					INSTRUCTIONS,
					0,
				),
			)?;
		}
	}
	for (id, out) in matches.iter().zip(&outputs) {
		if out.is_none() {
			call(job, "timeout", Market::timeout(signed(jc), *id))?;
		}
	}
	settle_rest(config, rng, job, jc, jc_play, &matches, &outputs, summary)?;
	if matches.iter().any(Matches::<SimRuntime>::contains_key) {
		return Err(SimError::Invariant { job, error: "a replica did not close".into() });
	}

	let ends = closes(&matches);
	let unit = UNIT as f64;
	for (i, kind) in kinds.iter().enumerate() {
		let money = total(rp_accounts[i]) as f64 - before[i] as f64;
		let forged = matches!(outputs[i], Some((Output::Forged, _)));
		let cost = if ran[i] {
			config.c_e
		} else if forged {
			config.c_d
		} else {
			0.0
		};
		let utility = money / unit - cost;
		let stats = summary.by_type.entry(*kind).or_default();
		stats.replicas += 1;
		stats.utility += utility;
		stats.losses += usize::from(utility < 0.0);
		match ends.get(&matches[i]).copied().unwrap_or(End::Other) {
			End::Paid => {
				stats.paid += 1;
				summary.forged_paid += usize::from(forged);
			},
			End::Fined => stats.fined += 1,
			End::TimedOut => stats.timed_out += 1,
			End::Other => {},
		}
	}
	let fined = System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Market(MarketEvent::Fined { amount, .. }) => Some(amount),
			_ => None,
		})
		.sum();
	Ok(GroupEnd { fined })
}

/// After the reveals: a dispute goes to the mediator's n runs; a single result to its
/// JC, which plays its type.
#[allow(clippy::too_many_arguments)]
fn settle_rest(
	config: &SimConfig,
	rng: &mut impl Rng,
	job: usize,
	jc: AccountId,
	jc_play: super::agents::JcPlay,
	matches: &[u64],
	outputs: &[Option<(Output, [u8; 32])>],
	summary: &mut ReplicaSummary,
) -> Result<(), SimError> {
	let signed = RuntimeOrigin::signed;
	let disputed = System::events().into_iter().find_map(|r| match r.event {
		RuntimeEvent::Market(MarketEvent::ReplicasDisagreed { group, .. }) => Some(group),
		_ => None,
	});
	if let Some(group) = disputed {
		summary.disputed += 1;
		let first = run_job(rng, jc_play.p_a);
		let agree = (1..config.n).all(|_| run_job(rng, jc_play.p_a) == first);
		let verdict = if agree {
			ReplicaVerdict::Deterministic {
				status: ResultStatus::Completed,
				result_hash: first.hash(),
			}
		} else {
			summary.non_deterministic += 1;
			ReplicaVerdict::NonDeterministic
		};
		return call(
			job,
			"post_replica_verdict",
			Market::post_replica_verdict(signed(MEDIATOR), group, verdict, INSTRUCTIONS, 0),
		);
	}
	let waiting: Vec<(u64, Output)> = matches
		.iter()
		.zip(outputs)
		.filter(|(id, _)| {
			matches!(
				Matches::<SimRuntime>::get(**id).map(|m| m.state),
				Some(pallet_compute_market::MatchState::ResultPosted { .. })
			)
		})
		.filter_map(|(id, out)| out.map(|(output, _)| (*id, output)))
		.collect();
	let Some((id, output)) = waiting.first().copied() else {
		summary.agreed +=
			usize::from(matches.iter().all(|m| !Matches::<SimRuntime>::contains_key(m)));
		return Ok(());
	};
	summary.single += 1;
	if jc_play.silent {
		// The JC never reacts: the RP accepts once its reaction window passed.
		let record = Matches::<SimRuntime>::get(id)
			.ok_or(SimError::Invariant { job, error: "the match vanished".into() })?;
		SimClock::advance(record.reaction_window + 1);
		let rp = RuntimeOrigin::signed(record.resource_provider);
		return call(job, "accept_result", Market::accept_result(rp, id));
	}
	let verified = !jc_play.rejects_always && chance(rng, jc_play.p_v);
	if jc_play.rejects_always || (verified && output != Output::Normal) {
		call(
			job,
			"reject_result",
			Market::reject_result(
				signed(jc),
				id,
				pallet_compute_market::RejectReason::WrongResults,
			),
		)?;
		let (verdict, faulty, first) = engine::mediate(rng, config.n, jc_play.p_a, output);
		return call(
			job,
			"post_mediation_result",
			Market::post_mediation_result(
				signed(MEDIATOR),
				id,
				verdict,
				faulty,
				INSTRUCTIONS,
				0,
				first.hash(),
			),
		);
	}
	call(job, "accept_result", Market::accept_result(signed(jc), id))
}

/// How each match closed, from the block's events.
fn closes(matches: &[u64]) -> BTreeMap<u64, End> {
	use pallet_compute_market::{CloseOutcome, FaultyParty};
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Market(MarketEvent::MatchClosed { match_id, outcome })
				if matches.contains(&match_id) =>
			{
				let end = match outcome {
					CloseOutcome::Accepted(_) => End::Paid,
					CloseOutcome::TimedOut => End::TimedOut,
					CloseOutcome::Mediated { faulty: FaultyParty::ResourceProvider, .. } => {
						End::Fined
					},
					_ => End::Other,
				};
				Some((match_id, end))
			},
			_ => None,
		})
		.collect()
}

fn total(who: AccountId) -> u128 {
	<Balances as Inspect<AccountId>>::total_balance(&who)
}

/// The summary as a Markdown table.
pub fn markdown(s: &ReplicaSummary) -> String {
	let mut text = format!(
		"## Replicated jobs: k = {}, {} jobs\n\n{} agreed, {} went to the mediator ({} ruled non-deterministic), {} left one replica to its JC.\n\
		 Forged replicas: {}, of which paid anyway: {}.\n\n\
		 | RP type | replicas | paid | fined | timed out | losing | mean utility |\n|---|---|---|---|---|---|---|\n",
		s.replicas, s.jobs, s.agreed, s.disputed, s.non_deterministic, s.single, s.forged, s.forged_paid
	);
	for (kind, t) in &s.by_type {
		text.push_str(&format!(
			"| {} | {} | {} | {} | {} | {} | {:+.3} |\n",
			kind.label(),
			t.replicas,
			t.paid,
			t.fined,
			t.timed_out,
			t.losses,
			t.mean_utility()
		));
	}
	text
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::simulate::Population;

	fn config(byzantine_p_a: f64) -> SimConfig {
		SimConfig {
			jobs: 240,
			seed: 11,
			byzantine_p_a,
			population: Population { jcs_per_type: 1, rps_per_type: 2 },
			..SimConfig::default()
		}
	}

	#[test]
	fn honest_replicas_rarely_lose_and_forging_does_not_pay() {
		// Byzantine jobs deterministic; only a rational JC's equilibrium mix of
		// non-deterministic jobs can still cost an honest replica.
		let s = simulate_replicated(&config(1.0), 2).unwrap();
		assert_eq!(s.jobs, 240);
		let honest = &s.by_type[&RpKind::Altruistic];
		assert!(honest.replicas > 0);
		assert!(honest.losses * 100 <= honest.replicas, "{s:?}");
		assert!(honest.mean_utility() > 0.0, "{s:?}");
		let forger = &s.by_type[&RpKind::WrongResults];
		assert!(forger.fined > 0 && forger.mean_utility() < 0.0, "{s:?}");
		assert!(s.disputed > 0 && s.agreed > 0, "{s:?}");
		assert!(markdown(&s).contains("| RP altruistic |"));
	}

	#[test]
	fn a_non_deterministic_job_can_still_cost_an_honest_replica() {
		// Replication alone does not remove this risk: two honest runs of a coin-flip
		// job differ half the time, and the mediator's agreeing runs then fine one.
		let s = simulate_replicated(&config(0.5), 2).unwrap();
		assert!(s.non_deterministic > 0, "{s:?}");
		assert!(s.by_type[&RpKind::Altruistic].fined > 0, "{s:?}");
	}

	#[test]
	fn replica_counts_are_checked() {
		assert!(simulate_replicated(&config(1.0), 1).is_err());
		assert!(simulate_replicated(&config(1.0), MAX_REPLICAS + 1).is_err());
	}
}
