//! Small books for the solver's tests: one job creator, provider, mediator and
//! directory, and offers that fit each other.

use super::*;

pub(super) const NOW: u64 = 1_000_000;
pub(super) const JC: u8 = 1;
pub(super) const PROVIDER: u8 = 2;
pub(super) const MEDIATOR: u8 = 10;
pub(super) const DIRECTORY: u8 = 30;
pub(super) const LAYER: u8 = 40;

pub(super) fn acct(n: u8) -> AccountId {
	[n; 32]
}

/// A job that `resource(_, p)` with `p ≤ 10` on `provider()` with `mediator(_)` can run.
pub(super) fn job(id: u64) -> JobOfferView {
	JobOfferView {
		provider_record: None,
		id,
		owner: acct(JC),
		instruction_limit: 100,
		bandwidth_limit: 10,
		instruction_max_price: 10,
		bandwidth_max_price: 10,
		// 100 instructions at 1 ms each: 100 ms of run time, 60 s allowed.
		completion_deadline: NOW + 60_000,
		match_incentive: 1,
		first_layer_hash: acct(LAYER),
		ram_limit: 100,
		local_storage_limit: 100,
		directory: acct(DIRECTORY),
		arch: Architecture::Amd64,
		expires_at: NOW + 1_000,
		deposit: AMPLE,
		replica: None,
	}
}

pub(super) fn resource(id: u64, instruction_price: u128) -> ResourceOfferView {
	ResourceOfferView {
		creator_record: None,
		id,
		owner: acct(PROVIDER),
		instruction_price,
		instruction_cap: 1_000,
		memory_cap: 1_000,
		local_storage_cap: 1_000,
		bandwidth_cap: 1_000,
		bandwidth_price: 1,
		match_incentive: 1,
		expires_at: NOW + 1_000,
		deposit: AMPLE,
	}
}

/// A deposit that covers every small test match.
pub(super) const AMPLE: u128 = 1_000_000;

pub(super) fn provider() -> ProviderView {
	ProviderView {
		record: Default::default(),
		arch: Architecture::Amd64,
		time_per_instruction_ns: 1_000_000,
		trusted_mediators: vec![acct(MEDIATOR)],
		trusted_directories: vec![acct(DIRECTORY)],
		base_layers: vec![acct(LAYER)],
	}
}

pub(super) fn mediator(availability_price: u128) -> MediatorView {
	MediatorView {
		arch: Architecture::Amd64,
		time_per_instruction_ns: 1_000_000,
		instruction_price: 1,
		bandwidth_price: 1,
		availability_price,
		trusted_directories: vec![acct(DIRECTORY)],
		base_layers: vec![acct(LAYER)],
	}
}

pub(super) fn job_creator() -> JobCreatorView {
	JobCreatorView { trusted_mediators: vec![acct(MEDIATOR)], ..Default::default() }
}

/// One job creator, one provider, one mediator (price 5), and the given offers.
pub(super) fn book_with(jobs: Vec<JobOfferView>, resources: Vec<ResourceOfferView>) -> Book {
	let mut book = Book::new();
	book.upsert_job_creator(acct(JC), job_creator());
	book.upsert_provider(acct(PROVIDER), provider());
	book.upsert_mediator(acct(MEDIATOR), mediator(5));
	book.upsert_directory(acct(DIRECTORY), DirectoryView { availability_price: 2 });
	for j in jobs {
		book.insert_job_offer(j);
	}
	for r in resources {
		book.insert_resource_offer(r);
	}
	book
}
