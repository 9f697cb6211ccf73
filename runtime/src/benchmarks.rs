//! Pallets whose benchmarks the node's `benchmark pallet` command runs.

pub use frame_benchmarking::baseline::Pallet as Baseline;
pub use frame_system_benchmarking::Pallet as SystemBench;

pub use crate::*;

impl frame_system_benchmarking::Config for Runtime {}
impl frame_benchmarking::baseline::Config for Runtime {}

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, Baseline::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_utility, Utility]
	[pallet_compute_market, ComputeMarket]
);
