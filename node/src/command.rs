//! Dispatches the command line to the node or to a subcommand.

use crate::{
	chain_spec,
	cli::{Cli, Consensus, Subcommand},
	service::{self, FullBackend, FullClient},
};
use modicum_runtime::opaque::Block;
use sc_cli::SubstrateCli;
use sc_service::PartialComponents;
use sp_runtime::traits::{Block as BlockT, NumberFor};
use std::sync::Arc;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"Modicum Node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		env!("CARGO_PKG_REPOSITORY").into()
	}

	fn copyright_start_year() -> i32 {
		2025
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		chain_spec::load(id)
	}
}

/// Reverts GRANDPA's authority-set bookkeeping along with the blocks.
type AuxRevert =
	Box<dyn FnOnce(Arc<FullClient>, Arc<FullBackend>, NumberFor<Block>) -> sc_cli::Result<()>>;

/// Parses the command line and runs the node or the subcommand.
pub fn run() -> sc_cli::Result<()> {
	let cli = Cli::from_args();
	// Subcommands take no `--consensus`; they use the chain type's default (`auto`).
	let consensus_of =
		|config: &sc_service::Configuration| cli.consensus.resolve(&config.chain_spec.chain_type());

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::ExportChainSpec(cmd)) => {
			let spec = cli.load_spec(&cmd.chain)?;
			cmd.run(spec)
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config, consensus_of(&config))?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } =
					service::new_partial(&config, consensus_of(&config))?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } =
					service::new_partial(&config, consensus_of(&config))?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config, consensus_of(&config))?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let consensus = consensus_of(&config);
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config, consensus)?;
				// Instant-seal chains have no GRANDPA state (and finalize every block anyway).
				let aux_revert: Option<AuxRevert> = match consensus {
					Consensus::AuraGrandpa => Some(Box::new(
						|client: Arc<FullClient>, _: Arc<FullBackend>, blocks: NumberFor<Block>| {
							sc_consensus_grandpa::revert(client, blocks)?;
							Ok(())
						},
					)),
					Consensus::InstantSeal(_) => None,
				};
				Ok((cmd.run(client, backend, aux_revert), task_manager))
			})
		},
		#[cfg(feature = "runtime-benchmarks")]
		Some(Subcommand::Benchmark(cmd)) => {
			use frame_benchmarking_cli::{BenchmarkCmd, SUBSTRATE_REFERENCE_HARDWARE};

			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| match cmd {
				BenchmarkCmd::Pallet(cmd) => cmd
					.run_with_spec::<sp_runtime::traits::HashingFor<Block>, ()>(Some(
						config.chain_spec,
					)),
				BenchmarkCmd::Block(cmd) => {
					let PartialComponents { client, .. } =
						service::new_partial(&config, consensus_of(&config))?;
					cmd.run(client)
				},
				BenchmarkCmd::Storage(cmd) => {
					let PartialComponents { client, backend, .. } =
						service::new_partial(&config, consensus_of(&config))?;
					let db = backend.expose_db();
					let storage = backend.expose_storage();
					let shared_trie_cache = backend.expose_shared_trie_cache();
					cmd.run(config, client, db, storage, shared_trie_cache)
				},
				BenchmarkCmd::Machine(cmd) => {
					cmd.run(&config, SUBSTRATE_REFERENCE_HARDWARE.clone())
				},
				// Both need the runtime's signed-extrinsic format in the node; not wired up.
				BenchmarkCmd::Overhead(_) | BenchmarkCmd::Extrinsic(_) => {
					Err("`benchmark overhead` and `benchmark extrinsic` are not supported by this \
					 node; use `benchmark pallet`, `block`, `storage` or `machine`."
						.into())
				},
			})
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		},
		None => {
			let runner = cli.create_runner(&cli.run)?;
			runner.run_node_until_exit(|mut config| async move {
				// sc-cli quietly moves RPC to a random port when the asked-for one is busy;
				// an operator (or a client configured for that port) would never notice.
				// Fail instead, naming the port.
				for endpoint in config.rpc.addr.iter_mut().flatten() {
					endpoint.retry_random_port = false;
				}
				ensure_ports_free(&config)?;
				let consensus = consensus_of(&config);
				if matches!(consensus, Consensus::InstantSeal(_)) && !pool_type_given() {
					// Instant seal has no forks for the fork-aware pool to track, and that pool
					// drops an account's transactions that reach it out of nonce order without
					// a word (bench/results/misses.md); the single-state pool queues them.
					let mut pool = cli.run.pool_config.clone();
					pool.pool_type = sc_cli::TransactionPoolType::SingleState;
					config.transaction_pool = pool.transaction_pool(cli.run.shared_params.is_dev());
				}
				match config.network.network_backend {
					sc_network::config::NetworkBackendType::Libp2p => service::new_full::<
						sc_network::NetworkWorker<Block, <Block as BlockT>::Hash>,
					>(config, consensus),
					sc_network::config::NetworkBackendType::Litep2p => {
						service::new_full::<sc_network::Litep2pNetworkBackend>(config, consensus)
					},
				}
				.map_err(sc_cli::Error::Service)
			})
		},
	}
}

/// Whether `--pool-type` is on the command line (sc-cli's default would hide it otherwise).
fn pool_type_given() -> bool {
	std::env::args().any(|arg| arg == "--pool-type" || arg.starts_with("--pool-type="))
}

/// Fails with the address when a port the node must listen on is taken, before any
/// component starts (they would otherwise fail later with a bare "address in use").
fn ensure_ports_free(config: &sc_service::Configuration) -> sc_cli::Result<()> {
	let taken = |addr: std::net::SocketAddr| std::net::TcpListener::bind(addr).is_err();
	for endpoint in config.rpc.addr.iter().flatten() {
		if !endpoint.is_optional && taken(endpoint.listen_addr) {
			return Err(sc_cli::Error::Input(format!(
				"the RPC address {} is already in use (is another node running?); \
				 pick a free port with --rpc-port",
				endpoint.listen_addr
			)));
		}
	}
	for address in &config.network.listen_addresses {
		if let Some(addr) = tcp_socket_addr(&address.to_string()) {
			if taken(addr) {
				return Err(sc_cli::Error::Input(format!(
					"the p2p address {address} is already in use (is another node running?); \
					 pick a free port with --port"
				)));
			}
		}
	}
	Ok(())
}

/// `/ip4/A/tcp/P` or `/ip6/A/tcp/P` as a socket address; other multiaddrs give `None`.
fn tcp_socket_addr(multiaddr: &str) -> Option<std::net::SocketAddr> {
	let parts: Vec<&str> = multiaddr.split('/').collect();
	match parts.as_slice() {
		["", "ip4" | "ip6", ip, "tcp", port, ..] => {
			Some(std::net::SocketAddr::new(ip.parse().ok()?, port.parse().ok()?))
		},
		_ => None,
	}
}

#[cfg(test)]
mod tests {
	use super::tcp_socket_addr;

	#[test]
	fn reads_tcp_socket_addresses_from_multiaddrs() {
		assert_eq!(
			tcp_socket_addr("/ip4/127.0.0.1/tcp/30333"),
			Some(([127, 0, 0, 1], 30333).into())
		);
		assert_eq!(tcp_socket_addr("/ip6/::/tcp/30333/ws"), "[::]:30333".parse().ok());
		assert_eq!(tcp_socket_addr("/ip4/0.0.0.0/udp/30333/quic"), None);
		assert_eq!(tcp_socket_addr("/dns/example.com/tcp/1"), None);
	}
}
