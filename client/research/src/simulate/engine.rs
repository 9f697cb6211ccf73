//! Drives the real pallet through one job at a time: offers, match, result, reaction,
//! mediation, close. Each agent acts by its type's play; the mediator rules by the spec's
//! rules on what the agents actually did. After every job the books are checked.

use frame_support::traits::fungible::Inspect;
use pallet_compute_market::{
	Architecture, CloseOutcome, ContentHash, Event as MarketEvent, FaultyParty, JobOfferTerms,
	MarketParameters, Matches, RecordRequirement, Reference, RejectReason, ResourceOfferTerms,
	ResultStatus, Verdict,
};
use rand::Rng;
use sp_runtime::FixedU128;

use super::agents::{chance, run_job, JcKind, JcPlay, Output, RpKind, RpPlay};
use super::runtime::{
	AccountId, Balance, Balances, Market, RuntimeEvent, RuntimeOrigin, SimClock, SimRuntime, System,
};
use super::{SimConfig, SimError};

/// Planck per paper currency unit: π_c = 2 units is 2,000,000 planck.
pub const UNIT: Balance = 1_000_000;
/// Every job's instruction limit (the RP's cap is the same, so π̂_c = π_c).
pub const INSTRUCTIONS: u64 = 1_000;
/// The mediator.
pub const MEDIATOR: AccountId = 10;
/// The directory.
pub const DIRECTORY: AccountId = 11;
/// The solver.
pub const SOLVER: AccountId = 12;
const ENDOWMENT: Balance = 1_000_000_000_000_000_000;
pub(crate) const LAYER: ContentHash = [9; 32];
const HOUR_MS: u64 = 3_600_000;
pub(crate) const ARCH: Architecture = Architecture::Amd64;

/// The JC account with index `i`.
pub fn jc_account(i: usize) -> AccountId {
	1_000 + i as AccountId
}

/// The RP account with index `i`.
pub fn rp_account(i: usize) -> AccountId {
	2_000 + i as AccountId
}

/// Everything that happened to one job, and what it was worth to each party.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
	/// The JC's type.
	pub jc: JcKind,
	/// The RP's type.
	pub rp: RpKind,
	/// The RP ran the job (rather than forging a result or staying silent).
	pub rp_ran: bool,
	/// The RP forged a result.
	pub rp_forged: bool,
	/// The RP stayed silent and the JC claimed the timeout.
	pub timed_out: bool,
	/// The RP's determinism probe saw its runs differ, so it declined the job.
	pub declined: bool,
	/// Runs the RP made of the job (its probe's included).
	pub rp_runs: u32,
	/// The JC checked the result.
	pub verified: bool,
	/// The JC disputed the result.
	pub disputed: bool,
	/// The mediator's ruling, if the job was disputed.
	pub verdict: Option<(Verdict, FaultyParty)>,
	/// Change of each party's total balance (free + held) over the job, in planck.
	pub jc_money: i128,
	/// See `jc_money`.
	pub rp_money: i128,
	/// See `jc_money`.
	pub mediator_money: i128,
	/// See `jc_money`.
	pub directory_money: i128,
	/// See `jc_money`.
	pub solver_money: i128,
	/// Fines burnt by this job (from the `Fined` events), in planck.
	pub fined: Balance,
	/// The JC's utility in currency units: money + b if the job was run − c_v if checked.
	pub jc_utility: f64,
	/// The RP's utility in currency units: money − c_e if it ran, − c_d if it forged.
	pub rp_utility: f64,
}

impl JobRecord {
	/// The JC disputed a result the RP had honestly computed.
	pub fn jc_cheated(&self) -> bool {
		self.disputed && self.rp_ran
	}

	/// The RP forged a result or went silent.
	pub fn rp_cheated(&self) -> bool {
		self.rp_forged || self.timed_out
	}

	/// The mediator found the JC at fault.
	pub fn jc_at_fault(&self) -> bool {
		matches!(self.verdict, Some((_, FaultyParty::JobCreator)))
	}

	/// The mediator found the RP at fault, or it paid the timeout compensation.
	pub fn rp_at_fault(&self) -> bool {
		self.timed_out || matches!(self.verdict, Some((_, FaultyParty::ResourceProvider)))
	}
}

/// The terms every job offer carries; prices follow from π_c.
pub fn job_terms(config: &SimConfig, now: u64) -> JobOfferTerms<AccountId, Balance> {
	JobOfferTerms {
		provider_record: None,
		instruction_limit: INSTRUCTIONS,
		bandwidth_limit: 0,
		instruction_max_price: instruction_price(config),
		bandwidth_max_price: 0,
		completion_deadline: now + HOUR_MS,
		match_incentive: units(config.match_incentive),
		first_layer_hash: LAYER,
		ram_limit: 512,
		local_storage_limit: 1_024,
		directory: DIRECTORY,
		job_reference: reference(b"sim/job"),
		job_hash: [7; 32],
		arch: ARCH,
	}
}

/// The terms every resource offer carries: caps equal to the job's limits, at its prices.
pub fn resource_terms(config: &SimConfig) -> ResourceOfferTerms<Balance> {
	ResourceOfferTerms {
		creator_record: None,
		instruction_price: instruction_price(config),
		instruction_cap: INSTRUCTIONS,
		memory_cap: 1_024,
		local_storage_cap: 4_096,
		bandwidth_cap: 0,
		bandwidth_price: 0,
		match_incentive: units(config.match_incentive),
	}
}

/// Price per instruction such that a full job costs π_c.
pub fn instruction_price(config: &SimConfig) -> Balance {
	units(config.pi_c) / INSTRUCTIONS as Balance
}

/// Currency units to planck, rounded.
pub fn units(amount: f64) -> Balance {
	(amount * UNIT as f64).round().max(0.0) as Balance
}

/// The chain parameters the run uses.
pub fn parameters(config: &SimConfig) -> MarketParameters<Balance> {
	MarketParameters {
		penalty_rate: FixedU128::from_rational(
			(config.theta * 1_000_000.0).round() as u128,
			1_000_000,
		),
		verification_count: config.n,
		reaction_window: 60_000,
		mediation_window: 600_000,
		registration_bond: UNIT,
		deposit_floor: 1,
		max_offer_lifetime: 24 * HOUR_MS,
		max_completion_horizon: 7 * 24 * HOUR_MS,
		settlement_grace: HOUR_MS,
	}
}

pub(crate) fn reference(bytes: &[u8]) -> Reference {
	Reference::truncate_from(bytes.to_vec())
}

/// Every account the run endows.
pub fn accounts(config: &SimConfig) -> Vec<AccountId> {
	let mut all = vec![
		MEDIATOR,
		DIRECTORY,
		SOLVER,
		super::adversaries::SELF_DEALER,
		super::adversaries::GRIEFER,
	];
	all.extend((0..config.population.jcs().len()).map(jc_account));
	all.extend((0..config.population.rps().len()).map(rp_account));
	all
}

/// The endowment of each account.
pub fn endowment() -> Balance {
	ENDOWMENT
}

pub(crate) fn call<T, E: core::fmt::Debug>(
	job: usize,
	what: &'static str,
	result: Result<T, E>,
) -> Result<(), SimError> {
	result.map(|_| ()).map_err(|error| SimError::Dispatch {
		job,
		call: what,
		error: format!("{error:?}"),
	})
}

/// Registers everyone and sets up trust and base layers, as the daemons would.
pub fn register_everyone(config: &SimConfig) -> Result<(), SimError> {
	register_services(config)?;
	for i in 0..config.population.jcs().len() {
		register_job_creator(0, jc_account(i))?;
	}
	for i in 0..config.population.rps().len() {
		register_provider(0, rp_account(i))?;
	}
	Ok(())
}

/// Registers the mediator and the directory at the run's prices.
pub(crate) fn register_services(config: &SimConfig) -> Result<(), SimError> {
	let signed = RuntimeOrigin::signed;
	let setup = |what, r| call(0, what, r);
	setup(
		"register_mediator",
		Market::register_mediator(
			signed(MEDIATOR),
			ARCH,
			// As fast as the RPs: 1 ms per instruction.
			1_000_000,
			instruction_price(config),
			0,
			units(config.mediator_availability),
		),
	)?;
	setup(
		"register_directory",
		Market::register_directory(
			signed(DIRECTORY),
			reference(b"http://directory.sim"),
			units(config.directory_availability),
		),
	)?;
	setup("trust_directory", Market::trust_directory(signed(MEDIATOR), DIRECTORY))?;
	setup("add_base_layer", Market::add_base_layer(signed(MEDIATOR), LAYER))
}

/// Registers `jc` as a JC trusting the mediator.
pub(crate) fn register_job_creator(job: usize, jc: AccountId) -> Result<(), SimError> {
	let signed = RuntimeOrigin::signed;
	call(job, "register_job_creator", Market::register_job_creator(signed(jc)))?;
	call(job, "trust_mediator", Market::trust_mediator(signed(jc), MEDIATOR))
}

/// Registers `rp` as an RP trusting the mediator and the directory; 1 ms per
/// instruction, so a job needs 1 s of its hour.
pub(crate) fn register_provider(job: usize, rp: AccountId) -> Result<(), SimError> {
	let signed = RuntimeOrigin::signed;
	call(
		job,
		"register_resource_provider",
		Market::register_resource_provider(signed(rp), ARCH, 1_000_000),
	)?;
	call(job, "trust_mediator", Market::trust_mediator(signed(rp), MEDIATOR))?;
	call(job, "trust_directory", Market::trust_directory(signed(rp), DIRECTORY))?;
	call(job, "add_base_layer", Market::add_base_layer(signed(rp), LAYER))
}

/// An account's total balance, free and held.
pub(crate) fn total(who: AccountId) -> Balance {
	<Balances as Inspect<AccountId>>::total_balance(&who)
}

/// Every account's balance plus the fines the `Fined` events reported must add up to the
/// endowments, and so must total issuance; the pallet's own invariants must hold.
pub fn check_books(job: usize, accounts: &[AccountId], fined: Balance) -> Result<(), SimError> {
	let held: Balance = accounts.iter().map(|a| total(*a)).sum();
	let issuance = <Balances as Inspect<AccountId>>::total_issuance();
	let expected = endowment() * accounts.len() as Balance;
	if held.checked_add(fined) != Some(expected) || issuance.checked_add(fined) != Some(expected) {
		return Err(SimError::FundsNotConserved { job, accounts: held, fined, issuance, expected });
	}
	Market::do_try_state().map_err(|e| SimError::Invariant { job, error: format!("{e:?}") })
}

/// Posts a job offer of `jc` (asking `provider_record` of its RP) and a resource offer
/// of `rp` at `now`, each with the deposit the chain quotes, and matches them; the
/// match's id.
pub(crate) fn open_match(
	config: &SimConfig,
	job: usize,
	jc: AccountId,
	rp: AccountId,
	now: u64,
	provider_record: Option<RecordRequirement>,
) -> Result<u64, SimError> {
	let terms = JobOfferTerms { provider_record, ..job_terms(config, now) };
	let resource = resource_terms(config);
	let quote = |r: Result<u128, _>| {
		r.map_err(|e| SimError::Dispatch { job, call: "quote", error: format!("{e:?}") })
	};
	let jc_deposit = quote(Market::quote_job_deposit(&terms, Some(&MEDIATOR)))?;
	let rp_deposit =
		quote(Market::quote_resource_deposit(&resource, Some(&MEDIATOR), Some(&DIRECTORY)))?;
	let job_offer = pallet_compute_market::NextOfferId::<SimRuntime>::get();
	let signed = RuntimeOrigin::signed;
	call(
		job,
		"post_job_offer",
		Market::post_job_offer(signed(jc), terms, jc_deposit, now + HOUR_MS),
	)?;
	call(
		job,
		"post_resource_offer",
		Market::post_resource_offer(signed(rp), resource, rp_deposit, now + HOUR_MS),
	)?;
	let match_id = pallet_compute_market::NextMatchId::<SimRuntime>::get();
	call(
		job,
		"post_match",
		Market::post_match(signed(SOLVER), job_offer, job_offer + 1, MEDIATOR),
	)?;
	Ok(match_id)
}

/// One job between the JC with index `jc` and the RP with index `rp`.
pub fn run_one(
	config: &SimConfig,
	rng: &mut impl Rng,
	job: usize,
	(jc_index, jc_kind, jc_play): (usize, JcKind, JcPlay),
	(rp_index, rp_kind, rp_play): (usize, RpKind, RpPlay),
) -> Result<JobRecord, SimError> {
	let (jc, rp) = (jc_account(jc_index), rp_account(rp_index));
	let parties = [jc, rp, MEDIATOR, DIRECTORY, SOLVER];
	let before = parties.map(total);
	System::reset_events();
	SimClock::advance(1_000);
	let now = <SimClock as frame_support::traits::Time>::now();

	let match_id = open_match(config, job, jc, rp, now, None)?;
	let signed = RuntimeOrigin::signed;

	let mut record = JobRecord {
		jc: jc_kind,
		rp: rp_kind,
		rp_ran: false,
		rp_forged: false,
		timed_out: false,
		declined: false,
		rp_runs: 0,
		verified: false,
		disputed: false,
		verdict: None,
		jc_money: 0,
		rp_money: 0,
		mediator_money: 0,
		directory_money: 0,
		solver_money: 0,
		fined: 0,
		jc_utility: 0.0,
		rp_utility: 0.0,
	};

	if rp_play.silent {
		SimClock::advance(HOUR_MS + 1);
		call(job, "timeout", Market::timeout(signed(jc), match_id))?;
		record.timed_out = true;
	} else {
		record.rp_ran = chance(rng, rp_play.p_e);
		record.rp_forged = !record.rp_ran;
		let output = if record.rp_ran { run_job(rng, jc_play.p_a) } else { Output::Forged };
		record.rp_runs = u32::from(record.rp_ran);
		if record.rp_ran && rp_kind == RpKind::Altruistic {
			for _ in 0..config.probe_runs {
				record.rp_runs += 1;
				if run_job(rng, jc_play.p_a) != output {
					record.declined = true;
					break;
				}
			}
		}
		let (status, hash, instructions) = if record.declined {
			(ResultStatus::Declined, declined_root(), 0)
		} else {
			(ResultStatus::Completed, output.hash(), INSTRUCTIONS)
		};
		SimClock::advance(1_000);
		call(
			job,
			"post_result",
			Market::post_result(
				signed(rp),
				match_id,
				status,
				reference(b"sim/result"),
				hash,
				instructions,
				0,
			),
		)?;
		if jc_play.silent {
			// The match's own window: the parameter plus the RP's run time of the job.
			let window = Matches::<SimRuntime>::get(match_id)
				.map(|m| m.reaction_window)
				.ok_or(SimError::Invariant { job, error: "the match vanished".into() })?;
			SimClock::advance(window + 1);
			call(job, "accept_result", Market::accept_result(signed(rp), match_id))?;
		} else {
			record.verified =
				!record.declined && !jc_play.rejects_always && chance(rng, jc_play.p_v);
			record.disputed =
				jc_play.rejects_always || (record.verified && output != Output::Normal);
			if record.disputed {
				call(
					job,
					"reject_result",
					Market::reject_result(signed(jc), match_id, RejectReason::WrongResults),
				)?;
				let (verdict, faulty, runs) = if record.declined {
					// It ran nothing it charges for: the rejection is unfounded.
					(Verdict::CorrectResults, FaultyParty::JobCreator, output)
				} else {
					mediate(rng, config.n, jc_play.p_a, output)
				};
				call(
					job,
					"post_mediation_result",
					Market::post_mediation_result(
						signed(MEDIATOR),
						match_id,
						verdict,
						faulty,
						INSTRUCTIONS,
						0,
						runs.hash(),
					),
				)?;
				record.verdict = Some((verdict, faulty));
			} else {
				call(job, "accept_result", Market::accept_result(signed(jc), match_id))?;
			}
		}
	}
	// Closed matches leave storage.
	if Matches::<SimRuntime>::contains_key(match_id) {
		return Err(SimError::Invariant { job, error: "the match did not close".into() });
	}

	let after = parties.map(total);
	let delta = |i: usize| after[i] as i128 - before[i] as i128;
	record.jc_money = delta(0);
	record.rp_money = delta(1);
	record.mediator_money = delta(2);
	record.directory_money = delta(3);
	record.solver_money = delta(4);
	record.fined = System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Market(MarketEvent::Fined { amount, .. }) => Some(amount),
			_ => None,
		})
		.sum();
	let unit = UNIT as f64;
	let delivered = record.rp_ran && !record.declined;
	record.jc_utility = record.jc_money as f64 / unit + if delivered { config.b } else { 0.0 }
		- if record.verified { config.c_v } else { 0.0 };
	record.rp_utility = record.rp_money as f64 / unit
		- if record.rp_ran {
			config.c_e * f64::from(record.rp_runs)
		} else if record.rp_forged {
			config.c_d
		} else {
			0.0
		};
	Ok(record)
}

/// The root a result of `Declined` posts: the Merkle root of the status-only result
/// (no outputs), as the RP daemon posts it.
fn declined_root() -> ContentHash {
	[0; 32]
}

/// The mediator re-runs the job n times and rules as the spec says: runs that differ from
/// each other mean a non-deterministic job and runs that all equal the RP's mean a correct
/// result (the JC is at fault either way); otherwise the RP is.
pub(crate) fn mediate(
	rng: &mut impl Rng,
	n: u32,
	p_a: f64,
	posted: Output,
) -> (Verdict, FaultyParty, Output) {
	let first = run_job(rng, p_a);
	let agree = (1..n).all(|_| run_job(rng, p_a) == first);
	if !agree {
		(Verdict::NonDeterministic, FaultyParty::JobCreator, first)
	} else if first == posted {
		(Verdict::CorrectResults, FaultyParty::JobCreator, first)
	} else {
		(Verdict::WrongResults, FaultyParty::ResourceProvider, first)
	}
}

/// The money of every job in this run: prices and the deposits the chain quotes.
pub fn job_money(config: &SimConfig) -> Result<super::expect::JobMoney, SimError> {
	let now = <SimClock as frame_support::traits::Time>::now();
	let quote = |r: Result<u128, _>| {
		r.map_err(|e| SimError::Dispatch { job: 0, call: "quote", error: format!("{e:?}") })
	};
	let jc_deposit = quote(Market::quote_job_deposit(&job_terms(config, now), Some(&MEDIATOR)))?;
	let rp_deposit = quote(Market::quote_resource_deposit(
		&resource_terms(config),
		Some(&MEDIATOR),
		Some(&DIRECTORY),
	))?;
	let price = instruction_price(config) * INSTRUCTIONS as Balance;
	Ok(super::expect::JobMoney {
		price,
		jc_deposit,
		rp_deposit,
		match_incentive: units(config.match_incentive),
		mediator_availability: units(config.mediator_availability),
		directory_availability: units(config.directory_availability),
		mediation_fee: price * config.n as Balance,
		directory_bond: parameters(config).registration_bond,
		unit: UNIT,
	})
}

/// How a match closed, from the events since the job began.
pub(crate) struct Closed {
	/// Fines burnt.
	pub fined: Balance,
	/// It closed as accepted (by anyone).
	pub paid: bool,
	/// A verdict found the RP at fault.
	pub rp_fined: bool,
}

/// Reads how the job's match closed from `System::events()`.
pub(crate) fn closed_by_events() -> Closed {
	let mut closed = Closed { fined: 0, paid: false, rp_fined: false };
	for record in System::events() {
		match record.event {
			RuntimeEvent::Market(MarketEvent::Fined { amount, .. }) => closed.fined += amount,
			RuntimeEvent::Market(MarketEvent::MatchClosed { outcome, .. }) => match outcome {
				CloseOutcome::Accepted(_) => closed.paid = true,
				CloseOutcome::Mediated { faulty: FaultyParty::ResourceProvider, .. } => {
					closed.rp_fined = true
				},
				_ => {},
			},
			_ => {},
		}
	}
	closed
}

/// A second later, the RP posts `posted` as a completed run of the whole job.
pub(crate) fn post_completed(
	(job, rp, match_id): (usize, AccountId, u64),
	posted: super::agents::Output,
) -> Result<(), SimError> {
	SimClock::advance(1_000);
	call(
		job,
		"post_result",
		Market::post_result(
			RuntimeOrigin::signed(rp),
			match_id,
			ResultStatus::Completed,
			reference(b"sim/result"),
			posted.hash(),
			INSTRUCTIONS,
			0,
		),
	)
}

/// The JC rejects the result as wrong and the mediator's n runs rule on it.
pub(crate) fn reject_and_mediate(
	config: &SimConfig,
	rng: &mut impl Rng,
	(job, jc, match_id): (usize, AccountId, u64),
	p_a: f64,
	posted: super::agents::Output,
) -> Result<(), SimError> {
	let signed = RuntimeOrigin::signed;
	call(
		job,
		"reject_result",
		Market::reject_result(signed(jc), match_id, RejectReason::WrongResults),
	)?;
	let (verdict, faulty, first) = mediate(rng, config.n, p_a, posted);
	call(
		job,
		"post_mediation_result",
		Market::post_mediation_result(
			signed(MEDIATOR),
			match_id,
			verdict,
			faulty,
			INSTRUCTIONS,
			0,
			first.hash(),
		),
	)
}
