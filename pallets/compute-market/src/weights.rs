//! Weights of the compute-market calls.
//!
//! `SubstrateWeight` is filled in from `frame-benchmarking` runs (see `benchmarking.rs`
//! and `scripts/benchmark.sh`); the `()` implementation counts each call's storage
//! reads and writes against `RocksDbWeight` plus a generous fixed execution cost, for
//! mocks and tests.

#![allow(unused_parens, unused_imports, missing_docs)]

use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

/// Weight functions needed by the pallet.
pub trait WeightInfo {
	fn register_resource_provider() -> Weight;
	fn register_job_creator() -> Weight;
	fn register_mediator() -> Weight;
	fn register_directory() -> Weight;
	fn deregister() -> Weight;
	fn trust_mediator() -> Weight;
	fn distrust_mediator() -> Weight;
	fn trust_directory() -> Weight;
	fn distrust_directory() -> Weight;
	fn add_base_layer() -> Weight;
	fn remove_base_layer() -> Weight;
	fn post_resource_offer() -> Weight;
	fn post_job_offer() -> Weight;
	fn cancel_offer() -> Weight;
	fn clear_expired_offer() -> Weight;
	fn post_match() -> Weight;
	fn post_result() -> Weight;
	fn accept_result() -> Weight;
	fn reject_result() -> Weight;
	fn timeout() -> Weight;
	fn post_mediation_result() -> Weight;
	fn mediation_timeout() -> Weight;
	fn set_parameters() -> Weight;
}

/// Weights for a runtime, to be replaced by `scripts/benchmark.sh`'s generated file;
/// until then the counted fallback below.
pub struct SubstrateWeight<T>(PhantomData<T>);

/// Execution cost assumed for any call in the `()` weights: 50 µs and 10 KiB of proof.
const FALLBACK_BASE: Weight = Weight::from_parts(50_000_000, 10_240);

impl WeightInfo for () {
	fn register_resource_provider() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(3, 3))
	}
	fn register_job_creator() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(3, 3))
	}
	fn register_mediator() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(3, 3))
	}
	fn register_directory() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(3, 3))
	}
	fn deregister() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(5, 5))
	}
	fn trust_mediator() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(4, 1))
	}
	fn distrust_mediator() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(1, 1))
	}
	fn trust_directory() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(4, 1))
	}
	fn distrust_directory() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(1, 1))
	}
	fn add_base_layer() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(3, 1))
	}
	fn remove_base_layer() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(1, 1))
	}
	fn post_resource_offer() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(5, 5))
	}
	fn post_job_offer() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(7, 6))
	}
	fn cancel_offer() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(5, 5))
	}
	fn clear_expired_offer() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(5, 5))
	}
	fn post_match() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(16, 12))
	}
	fn post_result() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(3, 1))
	}
	fn accept_result() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(12, 10))
	}
	fn reject_result() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(3, 1))
	}
	fn timeout() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(12, 10))
	}
	fn post_mediation_result() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(12, 10))
	}
	fn mediation_timeout() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(12, 10))
	}
	fn set_parameters() -> Weight {
		FALLBACK_BASE.saturating_add(RocksDbWeight::get().reads_writes(0, 1))
	}
}

impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_resource_provider() -> Weight {
		<() as WeightInfo>::register_resource_provider()
	}
	fn register_job_creator() -> Weight {
		<() as WeightInfo>::register_job_creator()
	}
	fn register_mediator() -> Weight {
		<() as WeightInfo>::register_mediator()
	}
	fn register_directory() -> Weight {
		<() as WeightInfo>::register_directory()
	}
	fn deregister() -> Weight {
		<() as WeightInfo>::deregister()
	}
	fn trust_mediator() -> Weight {
		<() as WeightInfo>::trust_mediator()
	}
	fn distrust_mediator() -> Weight {
		<() as WeightInfo>::distrust_mediator()
	}
	fn trust_directory() -> Weight {
		<() as WeightInfo>::trust_directory()
	}
	fn distrust_directory() -> Weight {
		<() as WeightInfo>::distrust_directory()
	}
	fn add_base_layer() -> Weight {
		<() as WeightInfo>::add_base_layer()
	}
	fn remove_base_layer() -> Weight {
		<() as WeightInfo>::remove_base_layer()
	}
	fn post_resource_offer() -> Weight {
		<() as WeightInfo>::post_resource_offer()
	}
	fn post_job_offer() -> Weight {
		<() as WeightInfo>::post_job_offer()
	}
	fn cancel_offer() -> Weight {
		<() as WeightInfo>::cancel_offer()
	}
	fn clear_expired_offer() -> Weight {
		<() as WeightInfo>::clear_expired_offer()
	}
	fn post_match() -> Weight {
		<() as WeightInfo>::post_match()
	}
	fn post_result() -> Weight {
		<() as WeightInfo>::post_result()
	}
	fn accept_result() -> Weight {
		<() as WeightInfo>::accept_result()
	}
	fn reject_result() -> Weight {
		<() as WeightInfo>::reject_result()
	}
	fn timeout() -> Weight {
		<() as WeightInfo>::timeout()
	}
	fn post_mediation_result() -> Weight {
		<() as WeightInfo>::post_mediation_result()
	}
	fn mediation_timeout() -> Weight {
		<() as WeightInfo>::mediation_timeout()
	}
	fn set_parameters() -> Weight {
		<() as WeightInfo>::set_parameters()
	}
}
