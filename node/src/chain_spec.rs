//! Chain specifications: the built-in ones come from the runtime's genesis presets, anything else
//! is read from a JSON file.

use sc_service::{ChainType, Properties};
use std::path::PathBuf;

/// A chain spec without client extensions.
pub type ChainSpec = sc_service::GenericChainSpec;

/// Names accepted by `--chain` besides a path, listed in error messages.
pub const BUILT_IN_CHAINS: &[&str] = &["dev", "local", "researcher_example"];

/// Token metadata shown by wallets and explorers.
fn properties() -> Properties {
	let mut properties = Properties::new();
	properties.insert("tokenSymbol".into(), "MDC".into());
	properties.insert("tokenDecimals".into(), 12.into());
	properties
}

fn wasm_binary() -> Result<&'static [u8], String> {
	modicum_runtime::WASM_BINARY.ok_or_else(|| {
		"The runtime WASM blob is not available: the runtime was built with \
		 SKIP_WASM_BUILD set. Rebuild without it to use a built-in chain spec."
			.to_string()
	})
}

fn from_preset(
	name: &str,
	id: &str,
	chain_type: ChainType,
	preset: &str,
) -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name(name)
		.with_id(id)
		.with_chain_type(chain_type)
		.with_genesis_config_preset_name(preset)
		.with_properties(properties())
		.build())
}

/// Single-authority (Alice) development chain with endowed dev accounts.
pub fn development() -> Result<ChainSpec, String> {
	from_preset(
		"Modicum Development",
		"dev",
		ChainType::Development,
		sp_genesis_builder::DEV_RUNTIME_PRESET,
	)
}

/// Local test network with four authorities: Alice, Bob, Charlie and Dave.
pub fn local_testnet() -> Result<ChainSpec, String> {
	from_preset(
		"Modicum Local Testnet",
		"local_testnet",
		ChainType::Local,
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET,
	)
}

/// The runtime's worked example for researchers; a development chain like `dev`.
pub fn researcher_example() -> Result<ChainSpec, String> {
	from_preset(
		"Modicum Researcher Example",
		"researcher_example",
		ChainType::Development,
		"researcher_example",
	)
}

/// Resolves a `--chain` value: a built-in name, else a path to a JSON chain spec.
pub fn load(id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
	let spec = match id {
		"" | "dev" => development()?,
		"local" => local_testnet()?,
		"researcher_example" => researcher_example()?,
		path => {
			let path = PathBuf::from(path);
			if !path.is_file() {
				return Err(format!(
					"Unknown chain `{}`: it is neither a built-in chain ({}) nor a chain spec \
					 JSON file.",
					path.display(),
					BUILT_IN_CHAINS.join(", "),
				));
			}
			ChainSpec::from_json_file(path)?
		},
	};
	Ok(Box::new(spec))
}
