//! Command line interface.

/// How the node produces and finalizes blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsensusMode {
	/// Instant seal on development chains, aura + GRANDPA on every other chain type.
	Auto,
	/// Seal a block as soon as transactions arrive (and on a timer); blocks are final at once.
	InstantSeal,
	/// Aura block production with GRANDPA finality.
	Aura,
}

/// When instant seal makes blocks besides `engine_createBlock` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealTiming {
	/// Idle sealing period in milliseconds; 0 turns the timer off.
	pub interval_ms: u64,
	/// How long to gather transactions after the first one arrives before sealing them.
	pub batch_ms: u64,
}

/// The consensus mode after `auto` has been resolved against the chain type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consensus {
	/// Manual-seal driven by the transaction pool, a timer and the `engine_*` RPC.
	InstantSeal(SealTiming),
	/// Aura + GRANDPA.
	AuraGrandpa,
}

impl Consensus {
	/// Resolves `mode` for a chain of the given type.
	pub fn resolve(
		mode: ConsensusMode,
		timing: SealTiming,
		chain_type: &sc_service::ChainType,
	) -> Self {
		let instant = match mode {
			ConsensusMode::InstantSeal => true,
			ConsensusMode::Aura => false,
			ConsensusMode::Auto => matches!(chain_type, sc_service::ChainType::Development),
		};
		if instant {
			Consensus::InstantSeal(timing)
		} else {
			Consensus::AuraGrandpa
		}
	}
}

/// Node options that are not part of Substrate's standard `RunCmd`.
#[derive(Debug, Clone, clap::Args)]
pub struct ConsensusArgs {
	/// Block production mode. `auto` uses instant seal on development chains and aura + GRANDPA
	/// on local and live chains.
	#[arg(long, value_enum, value_name = "MODE", default_value_t = ConsensusMode::Auto)]
	pub consensus: ConsensusMode,

	/// In instant-seal mode, also seal an (empty if need be) block after this many milliseconds
	/// without a block, so that on-chain time moves while idle. 0 seals only when transactions
	/// arrive or `engine_createBlock` is called.
	#[arg(long, value_name = "MS", default_value_t = 1000)]
	pub seal_interval_ms: u64,

	/// In instant-seal mode, wait this many milliseconds after a transaction arrives before
	/// sealing, so that transactions sent close together share one block (each block costs
	/// the node and every client following the chain far more than a transaction in it).
	/// 0 seals each arrival at once.
	#[arg(long, value_name = "MS", default_value_t = 50)]
	pub seal_batch_ms: u64,
}

impl ConsensusArgs {
	/// Resolves the mode against the chain type of the chain being run.
	pub fn resolve(&self, chain_type: &sc_service::ChainType) -> Consensus {
		let timing =
			SealTiming { interval_ms: self.seal_interval_ms, batch_ms: self.seal_batch_ms };
		Consensus::resolve(self.consensus, timing, chain_type)
	}
}

/// The `modicum-node` command line.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	#[clap(flatten)]
	pub consensus: ConsensusArgs,
}

/// Subcommands besides running the node.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management utilities.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification (prefer `export-chain-spec`).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export a built-in or file chain specification as JSON, plain or raw.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Sub-commands concerned with benchmarking (pallet, block, storage, machine).
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Database metadata.
	ChainInfo(sc_cli::ChainInfoCmd),
}
