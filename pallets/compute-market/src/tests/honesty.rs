//! The invariant the market sells, checked after every step of a random walk: an
//! account ends a match with what PROTOCOL.md's settlement table says, an account with
//! no part in a match loses nothing by it, and a directory never loses more than the
//! liability it consented to. Conservation alone would let one party's money go to
//! another; these checks name who must get what.

use super::*;
use proptest::{prop_assert, prop_assert_eq, test_runner::TestCaseError};
use std::collections::BTreeMap;

type MatchRecord = crate::types::Match<AccountId, Balance>;

/// What the chain looked like before a step.
pub(super) struct Before {
	totals: BTreeMap<AccountId, Balance>,
	matches: BTreeMap<MatchId, MatchRecord>,
	event_count: usize,
}

/// Which exact checks a walk performed, so a test can insist that it performed them.
#[derive(Default, Debug)]
pub(super) struct Checked {
	/// Closes whose JC and RP nets were compared with the spec, by outcome.
	pub exact_closes: BTreeMap<&'static str, u64>,
	/// Payments out of a directory's bond (each within its liability).
	pub directory_payments: u64,
	/// Shortfalls seen (each a directory's bounded liability).
	pub shortfalls: u64,
}

pub(super) fn snapshot() -> Before {
	Before {
		totals: ACCOUNTS.iter().map(|a| (*a, Balances::total_balance(a))).collect(),
		matches: Matches::<Test>::iter().collect(),
		event_count: events().len(),
	}
}

pub(super) fn outcome_name(outcome: &CloseOutcome) -> &'static str {
	match outcome {
		CloseOutcome::Accepted(Acceptor::ReplicasAgreed) => "Accepted(replicas agreed)",
		CloseOutcome::Accepted(Acceptor::MediatorConfirmed) => "Accepted(mediator confirmed)",
		CloseOutcome::Accepted(_) => "Accepted",
		CloseOutcome::TimedOut => "TimedOut",
		CloseOutcome::Mediated { faulty: FaultyParty::JobCreator, .. } => "Mediated(JC at fault)",
		CloseOutcome::Mediated { faulty: FaultyParty::ResourceProvider, .. } => {
			"Mediated(RP at fault)"
		},
		CloseOutcome::Mediated { faulty: FaultyParty::Directory, .. } => {
			"Mediated(directory at fault)"
		},
		CloseOutcome::MediationFailed => "MediationFailed",
	}
}

fn price(
	instructions: u64,
	instruction_price: Balance,
	bandwidth: u64,
	bandwidth_price: Balance,
) -> i128 {
	crate::economics::job_price(instructions, instruction_price, bandwidth, bandwidth_price)
		.expect("prices of a match that passed its checks fit") as i128
}

fn shares(price: Balance) -> (i128, i128) {
	(
		crate::economics::job_creator_share(price) as i128,
		crate::economics::resource_provider_share(price) as i128,
	)
}

/// The match a payment belongs to: open before the step, or made in it.
fn match_record(before: &Before, id: MatchId) -> Option<MatchRecord> {
	before.matches.get(&id).cloned().or_else(|| Matches::<Test>::get(id))
}

pub(super) fn check_step(before: &Before, checked: &mut Checked) -> Result<(), TestCaseError> {
	let all = events();
	let new = &all[before.event_count..];

	// Events are the truth a user reads: every account's total moved by exactly what
	// they say it was paid, paid out, or fined.
	let mut moved = BTreeMap::<AccountId, i128>::new();
	let mut per_match = BTreeMap::<(MatchId, AccountId), i128>::new();
	for e in new {
		match e {
			Event::Paid { match_id, from, to, amount, .. } => {
				*moved.entry(*from).or_default() -= *amount as i128;
				*moved.entry(*to).or_default() += *amount as i128;
				*per_match.entry((*match_id, *from)).or_default() -= *amount as i128;
				*per_match.entry((*match_id, *to)).or_default() += *amount as i128;
			},
			Event::Fined { match_id, who, amount } => {
				*moved.entry(*who).or_default() -= *amount as i128;
				*per_match.entry((*match_id, *who)).or_default() -= *amount as i128;
			},
			_ => {},
		}
	}
	for who in ACCOUNTS {
		let delta = Balances::total_balance(&who) as i128 - before.totals[&who] as i128;
		prop_assert_eq!(
			delta,
			moved.get(&who).copied().unwrap_or_default(),
			"account {} moved unannounced",
			who
		);
	}

	// Only a match's JC and RP pay out of deposits; a directory pays only from a
	// liability it consented to (it trusted the mediator), and never more than it.
	let mut directory_paid = BTreeMap::<MatchId, Balance>::new();
	for e in new {
		let Event::Paid { match_id, from, amount, reason, .. } = e else { continue };
		let m = match_record(before, *match_id);
		prop_assert!(m.is_some(), "payment for unknown match {}", match_id);
		let m = m.unwrap();
		if *from == m.job_creator || *from == m.resource_provider {
			continue;
		}
		prop_assert_eq!(
			*from,
			m.job.directory,
			"{} paid in match {} it is no party to",
			from,
			match_id
		);
		prop_assert_eq!(*reason, PaymentReason::MediationFee);
		*directory_paid.entry(*match_id).or_default() += *amount;
		checked.directory_payments += 1;
	}
	for (id, paid) in &directory_paid {
		let m = match_record(before, *id).unwrap();
		prop_assert!(
			*paid <= m.directory_liability,
			"directory paid {} over liability {}",
			paid,
			m.directory_liability
		);
	}

	// A new match binds its directory only if the directory trusts its mediator.
	for (id, m) in Matches::<Test>::iter() {
		if before.matches.contains_key(&id) || m.directory_liability == 0 {
			continue;
		}
		prop_assert!(
			MediatorTrust::<Test>::contains_key(m.job.directory, m.mediator),
			"match {} makes directory {} liable without its consent",
			id,
			m.job.directory
		);
	}

	for e in new {
		match e {
			Event::MatchClosed { match_id, outcome } => {
				let m = before.matches.get(match_id);
				prop_assert!(m.is_some(), "closed match {} was not open", match_id);
				check_close(m.unwrap(), *match_id, outcome, new, &per_match, checked)?;
			},
			Event::Shortfall { match_id, who, .. } => {
				let m = before.matches.get(match_id).unwrap();
				let directory_at_fault = new.iter().any(|e| {
					matches!(e, Event::MatchClosed { match_id: id, outcome: CloseOutcome::Mediated { faulty: FaultyParty::Directory, .. } } if id == match_id)
				});
				prop_assert!(
					directory_at_fault,
					"shortfall to {} in match {} without a directory at fault",
					who,
					match_id
				);
				prop_assert_eq!(
					*who,
					m.mediator,
					"only the mediator may be short of a directory's bond"
				);
				checked.shortfalls += 1;
			},
			_ => {},
		}
	}
	Ok(())
}

/// The JC's and RP's net from one close, against the settlement table; where the four
/// parties are distinct accounts (self-dealing mixes the nets, and the checks above
/// already bound what anyone else can lose).
fn check_close(
	m: &MatchRecord,
	match_id: MatchId,
	outcome: &CloseOutcome,
	new: &[Event<Test>],
	per_match: &BTreeMap<(MatchId, AccountId), i128>,
	checked: &mut Checked,
) -> Result<(), TestCaseError> {
	let parties = [m.job_creator, m.resource_provider, m.mediator, m.job.directory];
	let distinct = parties.iter().collect::<std::collections::BTreeSet<_>>().len() == parties.len();
	let net = |who: AccountId| per_match.get(&(match_id, who)).copied().unwrap_or_default();
	if !distinct {
		return Ok(());
	}
	prop_assert!(net(m.mediator) >= 0, "mediator lost in match {}", match_id);
	prop_assert!(-net(m.job.directory) <= m.directory_liability as i128);

	let (jc_m, rp_m) = shares(m.mediator_terms.availability_price);
	let (jc_d, rp_d) = shares(m.directory_availability_price);
	let estimate = price(
		m.job.instruction_limit,
		m.job.instruction_max_price,
		m.job.bandwidth_limit,
		m.job.bandwidth_max_price,
	);
	let posted = match &m.state {
		MatchState::ResultPosted { result, .. }
		| MatchState::InMediation { result, .. }
		| MatchState::AwaitingReplicas { result } => Some(price(
			result.instruction_count,
			m.resource.instruction_price,
			result.bandwidth_used,
			m.resource.bandwidth_price,
		)),
		MatchState::Matched | MatchState::Committed { .. } => None,
	};
	let (jc, rp) = (net(m.job_creator), net(m.resource_provider));
	match outcome {
		CloseOutcome::Accepted(_) => {
			let pi = posted.unwrap_or_default();
			prop_assert_eq!(
				(jc, rp),
				(-pi - jc_m - jc_d, pi - rp_m - rp_d),
				"accepted match {}",
				match_id
			);
		},
		CloseOutcome::TimedOut => {
			prop_assert_eq!(
				(jc, rp),
				(estimate - jc_m - jc_d, -estimate - rp_m - rp_d),
				"timed-out match {}",
				match_id
			);
		},
		CloseOutcome::MediationFailed => {
			let half = estimate / 2;
			prop_assert_eq!((jc, rp), (-half - jc_d, half - rp_d), "unmediated match {}", match_id);
		},
		CloseOutcome::Mediated { faulty: FaultyParty::JobCreator, .. } => {
			let pi = posted.unwrap_or_default();
			prop_assert_eq!(rp, pi - rp_m - rp_d, "RP right in match {}", match_id);
			prop_assert_eq!(jc, -(m.job_creator_deposit as i128), "JC at fault keeps nothing");
		},
		CloseOutcome::Mediated { faulty: FaultyParty::ResourceProvider, .. } => {
			let measured = new.iter().find_map(|e| match e {
				Event::MediationResultPosted {
					match_id: id,
					instruction_count,
					bandwidth_used,
					..
				} if *id == match_id => Some(price(
					*instruction_count,
					m.resource.instruction_price,
					*bandwidth_used,
					m.resource.bandwidth_price,
				)),
				_ => None,
			});
			prop_assert!(measured.is_some(), "a verdict closes match {}", match_id);
			prop_assert_eq!(jc, measured.unwrap() - jc_m - jc_d, "JC right in match {}", match_id);
			prop_assert_eq!(
				rp,
				-(m.resource_provider_deposit as i128),
				"RP at fault keeps nothing"
			);
		},
		CloseOutcome::Mediated { faulty: FaultyParty::Directory, .. } => {
			prop_assert_eq!((jc, rp), (-jc_m, -rp_m), "directory at fault in match {}", match_id);
		},
	}
	*checked.exact_closes.entry(outcome_name(outcome)).or_default() += 1;
	Ok(())
}
