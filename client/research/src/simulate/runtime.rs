//! The runtime the simulation drives: system, balances and the real compute-market pallet,
//! with a clock the simulation moves. Fines are burnt, as in the chain's default runtime.

// `construct_runtime!` generates public items without docs.
#![allow(missing_docs)]

use core::cell::Cell;
use frame_support::{
	derive_impl,
	traits::{ConstU128, ConstU32, Time},
};
use sp_runtime::BuildStorage;

/// Accounts are small integers: the simulation names every agent by an index.
pub type AccountId = u64;
/// The runtime's balance type, as on the chain.
pub type Balance = u128;
type Block = frame_system::mocking::MockBlock<SimRuntime>;

frame_support::construct_runtime!(
	pub enum SimRuntime {
		System: frame_system,
		Balances: pallet_balances,
		Market: pallet_compute_market,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for SimRuntime {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for SimRuntime {
	type Balance = Balance;
	type ExistentialDeposit = ConstU128<1>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

thread_local! {
	static NOW: Cell<u64> = const { Cell::new(START_MS) };
}

/// Where the simulated clock starts (ms since the Unix epoch).
pub const START_MS: u64 = 1_700_000_000_000;

/// The simulation's clock, read by the pallet as `Config::Time`.
pub struct SimClock;

impl Time for SimClock {
	type Moment = u64;
	fn now() -> u64 {
		NOW.with(Cell::get)
	}
}

impl SimClock {
	/// Moves the clock forward by `ms`.
	pub fn advance(ms: u64) {
		NOW.with(|now| now.set(now.get().saturating_add(ms)));
	}

	fn reset() {
		NOW.with(|now| now.set(START_MS));
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl pallet_compute_market::BenchmarkHelper for SimClock {
	fn set_time(now: u64) {
		NOW.with(|cell| cell.set(now));
	}
}

impl pallet_compute_market::Config for SimRuntime {
	type Balance = Balance;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Time = SimClock;
	type OnFine = ();
	type MaxTrustedMediators = ConstU32<4>;
	type MaxTrustedDirectories = ConstU32<4>;
	type MaxBaseLayers = ConstU32<4>;
	type MaxOpenItems = ConstU32<64>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = SimClock;
}

/// Fresh externalities: `accounts` endowed with `endowment` each and the market's
/// parameters set in genesis, as a chain would start.
pub fn new_externalities(
	accounts: impl IntoIterator<Item = AccountId>,
	endowment: Balance,
	parameters: pallet_compute_market::MarketParameters<Balance>,
) -> Result<sp_io::TestExternalities, String> {
	SimClock::reset();
	let mut storage = frame_system::GenesisConfig::<SimRuntime>::default().build_storage()?;
	pallet_balances::GenesisConfig::<SimRuntime> {
		balances: accounts.into_iter().map(|a| (a, endowment)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)?;
	pallet_compute_market::GenesisConfig::<SimRuntime> { parameters }
		.assimilate_storage(&mut storage)?;
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	Ok(ext)
}
