//! Whether the pallet's calls cost the same however much is open on chain: the real
//! pallet, run natively on a state of `open` open job offers, resource offers and
//! matches, committed to the in-memory trie (so each read walks a trie as deep as the
//! chain's would be), times `post_match` and a close (`accept_result`) of a fresh
//! lifecycle. The chain charges every call its benchmarked weight whatever the state; this
//! checks that the execution behind that weight does not grow with the state either (no
//! call walks the offers or the matches).

use crate::simulate::{
	engine::{self, job_terms, parameters, resource_terms, units},
	runtime::{AccountId, Market, RuntimeOrigin, SimClock, SimRuntime, System},
	SimConfig,
};
use pallet_compute_market::{Architecture, ResultStatus};
use std::time::{Duration, Instant};

/// Open items each group's accounts hold: the runtime of the simulation allows 64 per
/// account and role, and a group holds this many matches and this many offer pairs.
const PER_GROUP: usize = 30;
/// Offers stay open for this long; the measured lifecycles finish well within it.
const HOUR_MS: u64 = 3_600_000;
/// The base layer every account declares and every job names.
const LAYER: [u8; 32] = [9; 32];

/// What a call took at one state size.
#[derive(Clone, Debug, PartialEq)]
pub struct CallCosts {
	/// Open matches on chain (each with a posted result), and as many open job offers and
	/// as many resource offers.
	pub open: usize,
	/// Storage entries of the pallet when measured.
	pub entries: usize,
	/// Median time of `post_match`.
	pub post_match: Duration,
	/// Median time of `accept_result`, which closes a match.
	pub close: Duration,
	/// Lifecycles timed.
	pub samples: usize,
}

/// Why a measurement could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
	/// The runtime refused a setup or measured call.
	#[error("{call} was refused: {error}")]
	Refused {
		/// Which call.
		call: &'static str,
		/// The runtime's error.
		error: String,
	},
	/// The simulated chain could not start.
	#[error("the simulated chain could not start: {0}")]
	Genesis(String),
	/// Nothing to time.
	#[error("at least one sample is needed")]
	NoSamples,
}

fn ok<T, E: core::fmt::Debug>(call: &'static str, r: Result<T, E>) -> Result<T, ScaleError> {
	r.map_err(|e| ScaleError::Refused { call, error: format!("{e:?}") })
}

/// One group's accounts: a JC, an RP, a mediator and a directory that trust each other.
#[derive(Clone, Copy)]
struct Group {
	jc: AccountId,
	rp: AccountId,
	mediator: AccountId,
	directory: AccountId,
}

impl Group {
	fn new(g: usize) -> Group {
		let base = 1_000 + 4 * g as AccountId;
		Group { jc: base, rp: base + 1, mediator: base + 2, directory: base + 3 }
	}

	fn accounts(self) -> [AccountId; 4] {
		[self.jc, self.rp, self.mediator, self.directory]
	}

	fn register(self, config: &SimConfig) -> Result<(), ScaleError> {
		let signed = RuntimeOrigin::signed;
		let price = engine::instruction_price(config);
		let endpoint = pallet_compute_market::Reference::truncate_from(b"http://d".to_vec());
		ok(
			"register_mediator",
			Market::register_mediator(
				signed(self.mediator),
				Architecture::Amd64,
				1_000_000,
				price,
				0,
				1,
			),
		)?;
		ok("register_directory", Market::register_directory(signed(self.directory), endpoint, 1))?;
		ok("register_job_creator", Market::register_job_creator(signed(self.jc)))?;
		ok(
			"register_resource_provider",
			Market::register_resource_provider(signed(self.rp), Architecture::Amd64, 1_000_000),
		)?;
		for who in [self.jc, self.rp] {
			ok("trust_mediator", Market::trust_mediator(signed(who), self.mediator))?;
		}
		for who in [self.rp, self.mediator] {
			ok("trust_directory", Market::trust_directory(signed(who), self.directory))?;
			ok("add_base_layer", Market::add_base_layer(signed(who), LAYER))?;
		}
		Ok(())
	}

	/// Posts a job offer and a resource offer; their ids.
	fn post_offers(self, config: &SimConfig) -> Result<(u64, u64), ScaleError> {
		let now = <SimClock as frame_support::traits::Time>::now();
		let terms = pallet_compute_market::JobOfferTerms {
			directory: self.directory,
			first_layer_hash: LAYER,
			..job_terms(config, now)
		};
		let resource = resource_terms(config);
		let jc_deposit = ok("quote", Market::quote_job_deposit(&terms, Some(&self.mediator)))?;
		let rp_deposit = ok(
			"quote",
			Market::quote_resource_deposit(&resource, Some(&self.mediator), Some(&self.directory)),
		)?;
		let job = pallet_compute_market::NextOfferId::<SimRuntime>::get();
		let signed = RuntimeOrigin::signed;
		ok(
			"post_job_offer",
			Market::post_job_offer(signed(self.jc), terms, jc_deposit, now + HOUR_MS),
		)?;
		ok(
			"post_resource_offer",
			Market::post_resource_offer(signed(self.rp), resource, rp_deposit, now + HOUR_MS),
		)?;
		Ok((job, job + 1))
	}

	fn post_match(self, (job, resource): (u64, u64)) -> Result<u64, ScaleError> {
		let id = pallet_compute_market::NextMatchId::<SimRuntime>::get();
		ok(
			"post_match",
			Market::post_match(RuntimeOrigin::signed(engine::SOLVER), job, resource, self.mediator),
		)?;
		Ok(id)
	}

	fn post_result(self, match_id: u64) -> Result<(), ScaleError> {
		let reference = pallet_compute_market::Reference::truncate_from(b"sim/result".to_vec());
		ok(
			"post_result",
			Market::post_result(
				RuntimeOrigin::signed(self.rp),
				match_id,
				ResultStatus::Completed,
				reference,
				[1; 32],
				engine::INSTRUCTIONS,
				0,
			),
		)
	}
}

/// Times `post_match` and `accept_result` on a chain holding `open` open matches, job
/// offers and resource offers (medians of `samples` lifecycles).
pub fn call_costs(open: usize, samples: usize) -> Result<CallCosts, ScaleError> {
	if samples == 0 {
		return Err(ScaleError::NoSamples);
	}
	let config = SimConfig::default();
	let filled = open.div_ceil(PER_GROUP);
	// One more group, with nothing open, runs the measured lifecycles.
	let groups: Vec<Group> = (0..=filled).map(Group::new).collect();
	let mut accounts: Vec<AccountId> = groups.iter().flat_map(|g| g.accounts()).collect();
	accounts.push(engine::SOLVER);
	let mut ext =
		crate::simulate::runtime::new_externalities(accounts, units(1e12), parameters(&config))
			.map_err(ScaleError::Genesis)?;
	ext.execute_with(|| -> Result<(), ScaleError> {
		for group in &groups {
			group.register(&config)?;
		}
		let mut left = open;
		for group in &groups[..filled] {
			let here = left.min(PER_GROUP);
			left -= here;
			for _ in 0..here {
				let matched = group.post_match(group.post_offers(&config)?)?;
				group.post_result(matched)?;
				group.post_offers(&config)?;
			}
			System::reset_events();
		}
		Ok(())
	})?;
	// Reads now walk the trie, as on a node, rather than the pending changes.
	ext.commit_all().map_err(|e| ScaleError::Genesis(e.to_string()))?;
	let spare = groups[filled];
	ext.execute_with(|| {
		let entries = pallet_entries();
		let (mut matching, mut closing) = (Vec::new(), Vec::new());
		for _ in 0..samples {
			let offers = spare.post_offers(&config)?;
			let started = Instant::now();
			let matched = spare.post_match(offers)?;
			matching.push(started.elapsed());
			spare.post_result(matched)?;
			let started = Instant::now();
			ok("accept_result", Market::accept_result(RuntimeOrigin::signed(spare.jc), matched))?;
			closing.push(started.elapsed());
			System::reset_events();
		}
		Ok(CallCosts {
			open,
			entries,
			post_match: median(matching),
			close: median(closing),
			samples,
		})
	})
}

/// How many storage entries the pallet holds.
fn pallet_entries() -> usize {
	let prefix = sp_io::hashing::twox_128(b"Market").to_vec();
	let mut count = 0;
	let mut key = prefix.clone();
	while let Some(next) = sp_io::storage::next_key(&key) {
		if !next.starts_with(&prefix) {
			break;
		}
		count += 1;
		key = next;
	}
	count
}

fn median(mut times: Vec<Duration>) -> Duration {
	times.sort();
	times.get(times.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_state_holds_what_was_asked_and_each_call_is_timed() {
		let empty = call_costs(0, 3).unwrap();
		let some = call_costs(40, 3).unwrap();
		// 40 matches, 80 open offers and the records of two groups more.
		assert!(some.entries >= empty.entries + 40 + 80, "{empty:?} {some:?}");
		assert!(some.post_match > Duration::ZERO && some.close > Duration::ZERO);
		assert_eq!(some.samples, 3);
		assert!(matches!(call_costs(1, 0), Err(ScaleError::NoSamples)));
	}
}
