//! What the compute-market pallet leaves in the chain's state: keys and bytes per storage
//! item, read through the node's raw state methods, so that a run can say what settled
//! jobs left behind (the goal: nothing but the reputation counters).

use crate::{
	procfs::round3,
	row::{Quantity, Row},
};
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

/// The pallet whose state is measured.
pub(crate) const PALLET: &str = "ComputeMarket";
/// A counter's key (two 16-byte hashes) and a u64 value.
const COUNTER_BYTES: u64 = 40;

/// Fills the state row: the pallet's state after `settled` jobs against before them.
pub(crate) fn left_behind(
	row: &mut Row,
	before: &BTreeMap<String, Usage>,
	after: &BTreeMap<String, Usage>,
	settled: usize,
) {
	let total = |u: &BTreeMap<String, Usage>| {
		u.values().fold((0, 0), |(k, b), x| (k + x.keys, b + x.bytes))
	};
	let ((keys_before, bytes_before), (keys_after, bytes_after)) = (total(before), total(after));
	let grown = growth(before, after);
	let per_job = (bytes_after as f64 - bytes_before as f64) / settled as f64;
	row.measured = Some(Quantity::new(
		bytes_after as f64,
		"B",
		format!("{bytes_after} B in {keys_after} keys after {settled} settled jobs"),
	));
	row.baseline = Some(Quantity::new(
		bytes_before as f64,
		"B",
		format!("{bytes_before} B in {keys_before} keys, accounts registered, no job yet"),
	));
	row.comparison =
		Some(Quantity::new(per_job, "B/job", format!("{per_job:.1} B left per settled job")));
	// Besides the records, only a counter may appear: a one-key item (such as
	// `NextMatchId`) written for the first time by the first job.
	let first_counter = |item: &str| {
		let (was, is) = (before.get(item), after.get(item));
		was.is_none() && is.is_some_and(|u| u.keys == 1 && u.bytes <= COUNTER_BYTES)
	};
	row.met = Some(grown.iter().all(|(item, ..)| item == "Reputations" || first_counter(item)));
	let changes: Vec<String> = grown
		.iter()
		.map(|(item, keys, bytes)| format!("{item} {keys:+} keys, {bytes:+} B"))
		.collect();
	row.notes.push(if changes.is_empty() {
		"no storage item changed size".into()
	} else {
		format!("items that changed size: {}", changes.join("; "))
	});
	row.notes.push(
		"reputation counters are one fixed-size entry per account and role, made at its first close: they grow with accounts, not jobs".into(),
	);
	let json = |u: &BTreeMap<String, Usage>| {
		u.iter()
			.map(|(k, u)| (k.clone(), serde_json::json!({"keys": u.keys, "bytes": u.bytes})))
			.collect::<serde_json::Map<_, _>>()
	};
	row.details = serde_json::json!({
		"settled_jobs": settled,
		"before": json(before),
		"after": json(after),
		"bytes_per_settled_job": round3(per_job),
	});
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
