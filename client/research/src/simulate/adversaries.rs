//! Hostile agents beside the BAR types, each run against the real pallet after the
//! jobs:
//!
//! - a **self-dealer**, one account registered as JC, RP and mediator (its re-run price
//!   set so high that a fee it rules for itself would exceed any bond), which names the
//!   honest directory in its own job, matches itself, claims the directory was down and
//!   rules against it;
//! - a **griefer**, which takes the honest mediator's and directory's open slots with
//!   matches it never finishes, at the longest deadline the chain allows.
//!
//! The claims: the directory and the mediator, who signed nothing in these matches,
//! lose nothing; the self-dealer gains nothing; each slot the griefer takes costs it
//! money and is freed by a stranger once its deadline and the grace have passed.

use frame_support::traits::fungible::Inspect;
use pallet_compute_market::{
	Architecture, Event as MarketEvent, FaultyParty, JobOfferTerms, Matches, Parameters,
	RejectReason, ResourceOfferTerms, ResultStatus, Verdict,
};
use serde::{Deserialize, Serialize};

use super::engine::{self, call, DIRECTORY, INSTRUCTIONS, MEDIATOR, SOLVER, UNIT};
use super::runtime::{
	AccountId, Balance, Balances, Market, RuntimeEvent, RuntimeOrigin, SimClock, SimRuntime, System,
};
use super::{SimConfig, SimError};

/// The self-dealing account.
pub const SELF_DEALER: AccountId = 20;
/// The griefing account.
pub const GRIEFER: AccountId = 21;

/// What the hostile agents achieved.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdversaryClaims {
	/// Self-dealt matches played to a verdict against the directory.
	pub self_dealing_rounds: usize,
	/// What the directory lost over them (currency units; the claim is 0).
	pub directory_loss: f64,
	/// What the self-dealer gained over them (the claim: ≤ 0).
	pub self_dealer_gain: f64,
	/// Slots the griefer took.
	pub griefing_slots: usize,
	/// What they cost it (the claim: at least the availability prices it paid per slot).
	pub griefer_cost: f64,
	/// What each slot costs a griefer by the spec: the mediator's and the directory's
	/// availability prices.
	pub cost_per_slot: f64,
	/// What the honest mediator lost over them (the claim is 0).
	pub mediator_loss: f64,
	/// Whether a stranger freed every slot after its deadline and the grace.
	pub slots_freed: bool,
}

impl AdversaryClaims {
	/// Accounts that signed nothing in the hostile matches lost nothing by them.
	pub fn uninvolved_never_lose(&self) -> bool {
		self.directory_loss <= 0.0 && self.mediator_loss <= 0.0
	}

	/// Self-dealing does not pay, griefing costs the griefer, and grief does not last.
	pub fn attacks_do_not_pay(&self) -> bool {
		self.self_dealer_gain <= 0.0
			&& self.griefer_cost + 1e-9 >= self.griefing_slots as f64 * self.cost_per_slot
			&& self.slots_freed
	}
}

fn total(who: AccountId) -> Balance {
	<Balances as Inspect<AccountId>>::total_balance(&who)
}

/// `after − before` in currency units, subtracted exactly before the conversion (an
/// f64 cannot tell two endowment-sized balances a few planck apart).
fn gain(before: Balance, after: Balance) -> f64 {
	(after as i128 - before as i128) as f64 / UNIT as f64
}

/// Registers the hostile agents: both as JC and RP, the self-dealer also as a mediator.
pub fn register(config: &SimConfig) -> Result<(), SimError> {
	let signed = RuntimeOrigin::signed;
	for who in [SELF_DEALER, GRIEFER] {
		call(0, "register_job_creator", Market::register_job_creator(signed(who)))?;
		call(
			0,
			"register_resource_provider",
			Market::register_resource_provider(signed(who), Architecture::Amd64, 1_000_000),
		)?;
		call(0, "trust_directory", Market::trust_directory(signed(who), DIRECTORY))?;
		call(0, "add_base_layer", Market::add_base_layer(signed(who), engine::LAYER))?;
	}
	// A re-run price 1000 times the job's: its fee would dwarf the directory's bond.
	let greedy = engine::instruction_price(config).saturating_mul(1_000).max(UNIT);
	call(
		0,
		"register_mediator",
		Market::register_mediator(
			signed(SELF_DEALER),
			Architecture::Amd64,
			1_000_000,
			greedy,
			0,
			0,
		),
	)?;
	call(0, "trust_mediator", Market::trust_mediator(signed(SELF_DEALER), SELF_DEALER))?;
	call(0, "trust_mediator", Market::trust_mediator(signed(GRIEFER), MEDIATOR))?;
	Ok(())
}

/// Posts `who`'s own job and resource offer with the chain's quotes for `mediator`,
/// and matches them; returns the match id.
fn self_match(
	config: &SimConfig,
	round: usize,
	who: AccountId,
	mediator: AccountId,
	deadline: u64,
) -> Result<u64, SimError> {
	let now = <SimClock as frame_support::traits::Time>::now();
	let job = JobOfferTerms {
		completion_deadline: deadline,
		match_incentive: 0,
		..engine::job_terms(config, now)
	};
	let resource = ResourceOfferTerms { match_incentive: 0, ..engine::resource_terms(config) };
	let quote = |r: Result<u128, _>| {
		r.map_err(|e| SimError::Dispatch { job: round, call: "quote", error: format!("{e:?}") })
	};
	let job_deposit = quote(Market::quote_job_deposit(&job, Some(&mediator)))?;
	let resource_deposit =
		quote(Market::quote_resource_deposit(&resource, Some(&mediator), Some(&DIRECTORY)))?;
	let offer = pallet_compute_market::NextOfferId::<SimRuntime>::get();
	let expires = now + 3_600_000;
	let signed = RuntimeOrigin::signed;
	call(round, "post_job_offer", Market::post_job_offer(signed(who), job, job_deposit, expires))?;
	call(
		round,
		"post_resource_offer",
		Market::post_resource_offer(signed(who), resource, resource_deposit, expires),
	)?;
	let match_id = pallet_compute_market::NextMatchId::<SimRuntime>::get();
	call(round, "post_match", Market::post_match(signed(who), offer, offer + 1, mediator))?;
	Ok(match_id)
}

/// Plays `rounds` rounds of each attack; every round's books are checked.
pub fn run(
	config: &SimConfig,
	rounds: usize,
	accounts: &[AccountId],
	fined: &mut Balance,
) -> Result<AdversaryClaims, SimError> {
	let signed = RuntimeOrigin::signed;
	let mut claims = AdversaryClaims { slots_freed: true, ..AdversaryClaims::default() };
	let fines_now = || -> Balance {
		System::events()
			.into_iter()
			.filter_map(|r| match r.event {
				RuntimeEvent::Market(MarketEvent::Fined { amount, .. }) => Some(amount),
				_ => None,
			})
			.sum()
	};

	let (directory_before, dealer_before) = (total(DIRECTORY), total(SELF_DEALER));
	for round in 0..rounds {
		System::reset_events();
		SimClock::advance(1_000);
		let now = <SimClock as frame_support::traits::Time>::now();
		let id = self_match(config, round, SELF_DEALER, SELF_DEALER, now + 3_600_000)?;
		let status = ResultStatus::DirectoryUnavailable;
		call(
			round,
			"post_result",
			Market::post_result(
				signed(SELF_DEALER),
				id,
				status,
				engine::reference(b"-"),
				[0; 32],
				INSTRUCTIONS,
				0,
			),
		)?;
		call(
			round,
			"reject_result",
			Market::reject_result(signed(SELF_DEALER), id, RejectReason::DirectoryUnavailable),
		)?;
		call(
			round,
			"post_mediation_result",
			Market::post_mediation_result(
				signed(SELF_DEALER),
				id,
				Verdict::DirectoryUnavailable,
				FaultyParty::Directory,
				INSTRUCTIONS,
				0,
				[0; 32],
			),
		)?;
		*fined += fines_now();
		engine::check_books(round, accounts, *fined)?;
		claims.self_dealing_rounds += 1;
	}
	claims.directory_loss = -gain(directory_before, total(DIRECTORY));
	claims.self_dealer_gain = gain(dealer_before, total(SELF_DEALER));

	let (mediator_before, griefer_before) = (total(MEDIATOR), total(GRIEFER));
	let horizon = Parameters::<SimRuntime>::get().max_completion_horizon;
	let grace = Parameters::<SimRuntime>::get().settlement_grace;
	System::reset_events();
	let now = <SimClock as frame_support::traits::Time>::now();
	let mut taken = Vec::with_capacity(rounds);
	for round in 0..rounds {
		taken.push(self_match(config, round, GRIEFER, MEDIATOR, now + horizon)?);
		claims.griefing_slots += 1;
	}
	// The griefer never posts; a stranger (the solver) closes every match once it may.
	SimClock::advance(horizon + grace + 1);
	for (round, id) in taken.iter().enumerate() {
		call(round, "timeout", Market::timeout(signed(SOLVER), *id))?;
		claims.slots_freed &= !Matches::<SimRuntime>::contains_key(id);
	}
	*fined += fines_now();
	engine::check_books(rounds, accounts, *fined)?;
	claims.mediator_loss = -gain(mediator_before, total(MEDIATOR));
	claims.griefer_cost = -gain(griefer_before, total(GRIEFER));
	claims.cost_per_slot = config.mediator_availability + config.directory_availability;
	Ok(claims)
}
