//! A mock runtime: system, balances (with this pallet's hold reasons) and the market,
//! with a clock the tests move by hand.

use crate as pallet_compute_market;
use core::cell::Cell;
use frame_support::{
	derive_impl, parameter_types,
	traits::{tokens::imbalance::ResolveTo, ConstU32, ConstU64, OnUnbalanced, Time},
};
use sp_runtime::BuildStorage;

pub type AccountId = u64;
pub type Balance = u128;
type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Market: pallet_compute_market,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type Balance = Balance;
	type ExistentialDeposit = ExistentialDeposit;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

thread_local! {
	static NOW: Cell<u64> = const { Cell::new(START) };
}

/// The mock's clock (ms); starts at [`START`].
pub struct MockTime;
impl Time for MockTime {
	type Moment = u64;
	fn now() -> u64 {
		NOW.with(|now| now.get())
	}
}

/// Where the clock starts: an arbitrary, realistic Unix time in ms.
pub const START: u64 = 1_700_000_000_000;

pub fn set_now(ms: u64) {
	NOW.with(|now| now.set(ms));
}

pub fn advance(ms: u64) {
	set_now(MockTime::now() + ms);
}

parameter_types! {
	pub static MaxOpenItems: u32 = 16;
	/// The balances pallet's existential deposit.
	pub static ExistentialDeposit: Balance = 1;
	/// When set, fines go to [`TREASURY`] instead of being burnt.
	pub static FinesToTreasury: bool = false;
}

/// Receives fines for the account named by [`TREASURY`].
pub const TREASURY: AccountId = 8;

/// Burns fines, or pays them to [`TREASURY`] when [`FinesToTreasury`] is set.
pub struct MockFineDestination;
impl OnUnbalanced<crate::CreditOf<Test>> for MockFineDestination {
	fn on_nonzero_unbalanced(credit: crate::CreditOf<Test>) {
		if FinesToTreasury::get() {
			ResolveTo::<ConstU64<TREASURY>, Balances>::on_unbalanced(credit);
		}
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for MockTime {
	fn set_time(now: u64) {
		set_now(now);
	}
}

impl pallet_compute_market::Config for Test {
	type Balance = Balance;
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Time = MockTime;
	type OnFine = MockFineDestination;
	type MaxTrustedMediators = ConstU32<4>;
	type MaxTrustedDirectories = ConstU32<4>;
	type MaxBaseLayers = ConstU32<4>;
	type MaxOpenItems = MaxOpenItems;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockTime;
}

pub const BOND: Balance = 1_000;
pub const ENDOWMENT: Balance = 10_000_000;
pub const JC: AccountId = 1;
pub const RP: AccountId = 2;
pub const MEDIATOR: AccountId = 3;
pub const DIRECTORY: AccountId = 4;
pub const SOLVER: AccountId = 5;
pub const STRANGER: AccountId = 6;
/// Every endowed account.
pub const ACCOUNTS: [AccountId; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

pub fn parameters() -> crate::MarketParameters<Balance> {
	crate::MarketParameters { registration_bond: BOND, deposit_floor: 10, ..Default::default() }
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	set_now(START);
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: ACCOUNTS.iter().map(|a| (*a, ENDOWMENT)).collect(),
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	pallet_compute_market::GenesisConfig::<Test> { parameters: parameters() }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// [`new_test_ext`] with room for the benchmarks' largest batches: one account holds up
/// to `MAX_BATCH_ITEMS` open offers and matches there.
#[cfg(feature = "runtime-benchmarks")]
pub fn new_bench_ext() -> sp_io::TestExternalities {
	MaxOpenItems::set(2 * crate::MAX_BATCH_ITEMS);
	new_test_ext()
}
