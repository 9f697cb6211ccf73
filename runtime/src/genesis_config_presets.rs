//! Genesis presets: `development`, `local_testnet` and `researcher_example`.
//!
//! The market's parameters (see `pallet_compute_market::MarketParameters`):
//! - `penaltyRate` θ: the fine as a multiple of a job's estimated value (decimal string).
//! - `verificationCount` n: how many times a mediator re-runs a disputed job.
//! - `reactionWindow`: ms the job creator has to accept or reject a result.
//! - `mediationWindow`: ms the mediator has to post its verdict.
//! - `registrationBond`: held per registered role (sybil cost), in planck.
//! - `depositFloor`: the least any offer deposit may be, in planck.
//! - `maxOfferLifetime`: ms an offer may stay open.

use crate::{
	AccountId, BalancesConfig, ComputeMarketConfig, RuntimeGenesisConfig, SudoConfig, MILLI_UNIT,
	UNIT,
};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use pallet_compute_market::MarketParameters;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use sp_runtime::FixedU128;

/// A preset showing a researcher's choice of θ, n, deadlines and bonds.
pub const RESEARCHER_EXAMPLE_PRESET: &str = "researcher_example";

/// Each well-known development account starts with a million MDC.
const ENDOWMENT: u128 = 1_000_000 * UNIT;

/// The market as the paper recommends it (n = 2, θ = 50) with this chain's money.
pub fn default_market() -> MarketParameters<u128> {
	MarketParameters {
		registration_bond: 10 * UNIT,
		deposit_floor: MILLI_UNIT,
		..MarketParameters::default()
	}
}

fn genesis(
	authorities: Vec<(AuraId, GrandpaId)>,
	endowed: Vec<AccountId>,
	root: AccountId,
	market: MarketParameters<u128>,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed.into_iter().map(|who| (who, ENDOWMENT)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: authorities.iter().map(|(aura, _)| aura.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: authorities
				.into_iter()
				.map(|(_, grandpa)| (grandpa, 1))
				.collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(root) },
		compute_market: ComputeMarketConfig { parameters: market },
	})
}

fn authority(sr: Sr25519Keyring, ed: Ed25519Keyring) -> (AuraId, GrandpaId) {
	(sr.public().into(), ed.public().into())
}

fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect()
}

/// One authority (Alice), every well-known account endowed.
pub fn development() -> Value {
	genesis(
		vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		default_market(),
	)
}

/// Four authorities (Alice, Bob, Charlie, Dave): GRANDPA keeps finalizing with one down.
pub fn local_testnet() -> Value {
	genesis(
		vec![
			authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			authority(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
			authority(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
		],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		default_market(),
	)
}

/// The development chain with a researcher's parameters: a milder fine (θ = 10.5) but
/// more mediator runs (n = 3), quick reactions (2 min) and mediations (5 min), cheap
/// registration (1 MDC), offers open for at most an hour, deadlines at most a day
/// ahead and ten minutes' grace before anyone may close a stalled match.
pub fn researcher_example() -> Value {
	let market = MarketParameters {
		penalty_rate: FixedU128::from_rational(21, 2),
		verification_count: 3,
		reaction_window: 2 * 60 * 1000,
		mediation_window: 5 * 60 * 1000,
		registration_bond: UNIT,
		deposit_floor: MILLI_UNIT,
		max_offer_lifetime: 60 * 60 * 1000,
		max_completion_horizon: 24 * 60 * 60 * 1000,
		settlement_grace: 10 * 60 * 1000,
	};
	genesis(
		vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		market,
	)
}

/// The preset named `id`, as JSON.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		DEV_RUNTIME_PRESET => development(),
		LOCAL_TESTNET_RUNTIME_PRESET => local_testnet(),
		RESEARCHER_EXAMPLE_PRESET => researcher_example(),
		_ => return None,
	};
	Some(serde_json::to_string(&patch).expect("serializing a JSON value cannot fail").into_bytes())
}

/// Names of all presets.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(DEV_RUNTIME_PRESET),
		PresetId::from(LOCAL_TESTNET_RUNTIME_PRESET),
		PresetId::from(RESEARCHER_EXAMPLE_PRESET),
	]
}
