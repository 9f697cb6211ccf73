//! What the compute-market pallet leaves in the chain's state: keys and bytes per storage
//! item, read through the node's raw state methods, so that a run can say what settled
//! jobs left behind (the goal: nothing but the reputation counters).

use anyhow::{Context, Result};
use modicum_client::Chain;
use std::collections::BTreeMap;
use subxt_rpcs::rpc_params;

/// Where FRAME keeps a pallet's storage version.
const STORAGE_VERSION: &[u8] = b":__STORAGE_VERSION__:";

/// Keys asked for per `state_getKeysPaged` call.
const PAGE: u32 = 1_000;

/// One storage item's share of the state: its entries, and their keys' and values'
/// bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
	pub keys: u64,
	pub bytes: u64,
}

/// The pallet's state at the latest finalized block, per storage item name.
pub async fn pallet_usage(chain: &Chain, pallet: &str) -> Result<BTreeMap<String, Usage>> {
	let at = chain.at().await?;
	let metadata = at.metadata();
	let storage = metadata
		.pallet_by_name(pallet)
		.and_then(|p| p.storage())
		.with_context(|| format!("the runtime has no storage for pallet {pallet}"))?;
	let pallet_prefix = sp_crypto_hashing::twox_128(storage.prefix().as_bytes());
	let mut names: BTreeMap<[u8; 16], String> = storage
		.entries()
		.iter()
		.map(|e| (sp_crypto_hashing::twox_128(e.name().as_bytes()), e.name().to_string()))
		.collect();
	// FRAME keeps each pallet's storage version under this key, outside the metadata.
	names.insert(sp_crypto_hashing::twox_128(STORAGE_VERSION), "(storage version)".into());
	let hash: String = chain.rpc().request("chain_getFinalizedHead", rpc_params![]).await?;
	let mut usage: BTreeMap<String, Usage> = BTreeMap::new();
	let prefix = format!("0x{}", hex::encode(pallet_prefix));
	let mut start: Option<String> = None;
	loop {
		let keys: Vec<String> = chain
			.rpc()
			.request("state_getKeysPaged", rpc_params![&prefix, PAGE, &start, &hash])
			.await
			.context("state_getKeysPaged")?;
		for key in &keys {
			let bytes = hex::decode(key.trim_start_matches("0x"))?;
			let item = bytes
				.get(16..32)
				.and_then(|h| <[u8; 16]>::try_from(h).ok())
				.and_then(|h| names.get(&h).cloned())
				.unwrap_or_else(|| "(unknown)".into());
			let value: Option<u64> = chain
				.rpc()
				.request("state_getStorageSize", rpc_params![key, &hash])
				.await
				.context("state_getStorageSize")?;
			let entry = usage.entry(item).or_default();
			entry.keys += 1;
			entry.bytes += bytes.len() as u64 + value.unwrap_or(0);
		}
		if keys.len() < PAGE as usize {
			return Ok(usage);
		}
		start = keys.last().cloned();
	}
}

/// What grew from `before` to `after`, per item: (item, keys added, bytes added).
pub fn growth(
	before: &BTreeMap<String, Usage>,
	after: &BTreeMap<String, Usage>,
) -> Vec<(String, i64, i64)> {
	let mut items: Vec<&String> = before.keys().chain(after.keys()).collect();
	items.sort();
	items.dedup();
	items
		.into_iter()
		.filter_map(|item| {
			let (b, a) = (before.get(item).copied(), after.get(item).copied());
			let (b, a) = (b.unwrap_or_default(), a.unwrap_or_default());
			let keys = a.keys as i64 - b.keys as i64;
			let bytes = a.bytes as i64 - b.bytes as i64;
			(keys != 0 || bytes != 0).then(|| (item.clone(), keys, bytes))
		})
		.collect()
}

#[cfg(test)]
mod tests {
	use super::*;

	fn usage(items: &[(&str, u64, u64)]) -> BTreeMap<String, Usage> {
		items
			.iter()
			.map(|(n, keys, bytes)| (n.to_string(), Usage { keys: *keys, bytes: *bytes }))
			.collect()
	}

	#[test]
	fn growth_names_only_the_items_that_changed_both_ways() {
		let before = usage(&[("Matches", 2, 400), ("NextMatchId", 1, 40), ("Gone", 1, 10)]);
		let after = usage(&[("Matches", 2, 400), ("NextMatchId", 1, 40), ("Reputations", 3, 300)]);
		assert_eq!(
			growth(&before, &after),
			vec![("Gone".to_string(), -1, -10), ("Reputations".to_string(), 3, 300)]
		);
	}
}
