//! Typed access to a Modicum chain for every off-chain actor: the generated API
//! ([`runtime`]), a connection that signs, submits and reads ([`Chain`]), the
//! compute-market's events from finalized blocks ([`events`], followed by
//! [`blocks`]), signing keys
//! ([`keys`]) and per-role TOML configuration ([`settings`]).
//!
//! The API is generated at compile time from `metadata/modicum.scale`, the runtime's
//! metadata committed beside this crate; `scripts/regenerate-metadata.sh` refreshes
//! it and the end-to-end tests fail when it no longer matches the runtime.

pub mod batch;
pub mod blocks;
pub mod calls;
pub mod chain;
pub mod error;
pub mod events;
pub mod guard;
pub mod keys;
pub mod own_items;
pub mod records;
pub mod settings;
pub mod units;
pub mod vocab;

/// The API generated from the runtime's metadata.
#[subxt::subxt(
	runtime_metadata_path = "metadata/modicum.scale",
	derive_for_all_types = "Clone, PartialEq, Eq",
	derive_for_type(path = "pallet_compute_market::types::Architecture", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::Role", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::ResultStatus", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::RejectReason", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::Verdict", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::FaultyParty", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::Acceptor", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::CloseOutcome", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::PaymentReason", derive = "Copy"),
	derive_for_type(path = "pallet_compute_market::types::OfferRef", derive = "Copy")
)]
pub mod runtime {}

pub use chain::Chain;
pub use error::ClientError;
pub use runtime::runtime_types::pallet_compute_market::{pallet::Event as MarketEvent, types};
pub use subxt::utils::AccountId32 as AccountId;
pub use subxt_signer::sr25519::Keypair;

/// The chain's configuration as subxt needs it: Polkadot-style accounts, addresses,
/// signatures and transaction extensions, which is what the Modicum runtime uses.
pub type ModicumConfig = subxt::PolkadotConfig;

/// A directory reference or endpoint as the chain stores it (at most 256 bytes).
pub type Reference = runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec<u8>;

/// Wraps bytes as an on-chain [`Reference`], refusing what the chain would refuse.
pub fn reference(text: &str) -> Result<Reference, ClientError> {
	const MAX_REFERENCE_LEN: usize = 256;
	if text.len() > MAX_REFERENCE_LEN {
		return Err(ClientError::ReferenceTooLong { len: text.len(), max: MAX_REFERENCE_LEN });
	}
	Ok(runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec(
		text.as_bytes().to_vec(),
	))
}

/// Most records one rejection may name (the pallet's `MAX_DISPUTED_RECORDS`).
pub const MAX_DISPUTED_RECORDS: usize = 16;

/// The records a `reject_records` names, as the chain takes them: 1 to
/// [`MAX_DISPUTED_RECORDS`] distinct names of 1 to 64 of `A–Z a–z 0–9 . _ -` (not `.`
/// or `..`), sorted here.
pub fn disputed_records(
	names: &[String],
) -> Result<
	runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec<Reference>,
	ClientError,
> {
	let mut sorted: Vec<&String> = names.iter().collect();
	sorted.sort();
	sorted.dedup();
	if sorted.is_empty() || sorted.len() > MAX_DISPUTED_RECORDS {
		return Err(ClientError::DisputedRecords(format!(
			"name 1 to {MAX_DISPUTED_RECORDS} records, not {}",
			sorted.len()
		)));
	}
	if let Some(bad) = sorted.iter().find(|name| !is_record_name(name)) {
		return Err(ClientError::DisputedRecords(format!(
			"{bad:?} is not a record name (1 to 64 of A-Z a-z 0-9 . _ -)"
		)));
	}
	let names = sorted
		.into_iter()
		.map(|name| {
			runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec(
				name.as_bytes().to_vec(),
			)
		})
		.collect();
	Ok(runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec(names))
}

/// Whether `name` can name a record: 1 to 64 of `A–Z a–z 0–9 . _ -`, not `.` or `..`.
pub fn is_record_name(name: &str) -> bool {
	(1..=64).contains(&name.len())
		&& name != "."
		&& name != ".."
		&& name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A [`Reference`] as text (lossy for bytes that are not UTF-8).
pub fn reference_text(reference: &Reference) -> String {
	String::from_utf8_lossy(&reference.0).into_owned()
}
