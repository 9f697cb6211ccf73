//! The committed chain specs match what the node generates from its runtime presets.
//! The runtime's Wasm bytes are left out of the comparison: they differ between Rust
//! toolchains (rustup's and Debian's) while the genesis they describe does not.

use modicum_tests::run_node_command;
use serde_json::Value;
use std::path::Path;

fn without_code(mut spec: Value) -> Value {
	if let Some(genesis) = spec.pointer_mut("/genesis/runtimeGenesis") {
		genesis.as_object_mut().map(|g| g.remove("code"));
	}
	spec
}

fn check(chain: &str, file: &str) -> anyhow::Result<()> {
	let (ok, generated, stderr) = run_node_command(&["export-chain-spec", "--chain", chain])?;
	anyhow::ensure!(ok, "export-chain-spec --chain {chain} failed: {stderr}");
	let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../chain-specs").join(file);
	let committed = std::fs::read_to_string(&path)?;
	let generated = without_code(serde_json::from_str(&generated)?);
	let committed = without_code(serde_json::from_str(&committed)?);
	assert!(
		generated == committed,
		"{} is stale: run scripts/regenerate-chain-specs.sh and commit the result",
		path.display()
	);
	Ok(())
}

#[test]
fn dev_spec_is_current() -> anyhow::Result<()> {
	check("dev", "dev.json")
}

#[test]
fn local_testnet_spec_is_current() -> anyhow::Result<()> {
	check("local", "local_testnet.json")
}
