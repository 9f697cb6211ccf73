//! The client's typed API is generated from `client/metadata/modicum.scale`; this
//! fails when that file no longer matches the runtime the node runs, so a stale
//! client cannot ship. Fix with `scripts/regenerate-metadata.sh`.

use modicum_tests::{repo_root, Node};
use std::time::Duration;
use subxt_rpcs::rpc_params;

#[tokio::test(flavor = "multi_thread")]
async fn committed_metadata_matches_the_runtime() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	let mut node = Node::start("dev", dir.path(), &["--dev"])?;
	let rpc = node.rpc(Duration::from_secs(60)).await?;
	// Metadata_metadata_at_version(16) → Option<OpaqueMetadata>.
	let reply: String = rpc
		.request("state_call", rpc_params!["Metadata_metadata_at_version", "0x10000000"])
		.await?;
	let raw = hex_decode(reply.trim_start_matches("0x"))?;
	let live = strip_option_and_length(&raw)?;
	let committed = std::fs::read(repo_root().join("client/metadata/modicum.scale"))?;
	anyhow::ensure!(
		live == committed,
		"client/metadata/modicum.scale is stale ({} bytes committed, {} live): run \
		 scripts/regenerate-metadata.sh and commit the result",
		committed.len(),
		live.len()
	);
	Ok(())
}

fn hex_decode(text: &str) -> anyhow::Result<Vec<u8>> {
	(0..text.len())
		.step_by(2)
		.map(|i| Ok(u8::from_str_radix(text.get(i..i + 2).unwrap_or("x"), 16)?))
		.collect()
}

/// `Some(bytes)` as SCALE: a 1 tag, a compact length, then the bytes.
fn strip_option_and_length(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
	anyhow::ensure!(raw.first() == Some(&1), "the runtime offers no metadata V16");
	let first = *raw.get(1).ok_or_else(|| anyhow::anyhow!("truncated metadata"))?;
	let skip = match first & 3 {
		0 => 1,
		1 => 2,
		2 => 4,
		_ => 1 + (first >> 2) as usize + 4,
	};
	Ok(raw.get(1 + skip..).unwrap_or_default().to_vec())
}
