//! `modicum`: one command line for every role of the Modicum compute market.
//!
//! ```text
//! modicum jc submit --image my-job:1 --directory //Dave --wait --out result/
//! modicum rp run --config rp.toml
//! modicum mediator run --config mediator.toml
//! modicum solver run --config solver.toml
//! modicum directory serve --config directory.toml
//! modicum market params | offers | matches | actor //Bob
//! modicum research analyze | sweep --out plots/
//! ```

mod daemons;
mod devnet;
mod heap;
mod jc;
mod log_writer;
mod market;
mod output;
mod research;

use clap::{Args, Parser, Subcommand};
use modicum_client::settings::ChainSettings;
use std::path::PathBuf;

/// Modicum: an open market for outsourced computation with cheating deterrence.
#[derive(Parser)]
#[command(name = "modicum", version, about, propagate_version = true)]
struct Cli {
	#[command(flatten)]
	global: Global,
	#[command(subcommand)]
	command: Command,
}

/// Flags every subcommand takes.
#[derive(Args, Clone)]
pub struct Global {
	/// The node's WebSocket address [default: ws://127.0.0.1:9944, or the config's].
	#[arg(long, global = true, env = "MODICUM_URL")]
	url: Option<String>,
	/// Signing key: //Name, a mnemonic, or a 0x seed.
	#[arg(long, global = true, env = "MODICUM_KEY", hide_env_values = true)]
	key: Option<String>,
	/// A file holding the signing key.
	#[arg(long, global = true, env = "MODICUM_KEY_FILE")]
	key_file: Option<PathBuf>,
	/// The role's TOML configuration file.
	#[arg(long, short, global = true, env = "MODICUM_CONFIG")]
	config: Option<PathBuf>,
	/// Print machine-readable JSON instead of text.
	#[arg(long, global = true)]
	json: bool,
}

impl Global {
	/// The chain settings of `file`, overridden by flags and environment.
	pub fn chain(&self, file: ChainSettings) -> ChainSettings {
		file.overridden(self.url.clone(), self.key.clone(), self.key_file.clone())
	}
}

#[derive(Subcommand)]
enum Command {
	/// Job Creator: submit jobs, follow them, fetch results, accept or dispute.
	#[command(subcommand)]
	Jc(jc::JcCommand),
	/// Resource Provider: run jobs for pay.
	#[command(subcommand)]
	Rp(daemons::RpCommand),
	/// Mediator: re-run disputed jobs and rule.
	#[command(subcommand)]
	Mediator(daemons::MediatorCommand),
	/// Solver: match job offers with resource offers.
	#[command(subcommand)]
	Solver(daemons::SolverCommand),
	/// Directory: store job images and results in an OCI registry.
	#[command(subcommand)]
	Directory(daemons::DirectoryCommand),
	/// Read the market: parameters, open offers, unsettled matches, accounts.
	#[command(subcommand)]
	Market(market::MarketCommand),
	/// A whole market on this machine: dev node, directory, mediator, RP and solver.
	Devnet(devnet::DevnetArgs),
	/// Researchers: equilibrium analysis, parameter sweeps and plots.
	#[command(subcommand)]
	Research(research::ResearchCommand),
}

/// A `--key` given on the command line (other than a well-known dev key) is visible to
/// every user of the machine in the process list and lands in shell history.
fn warn_of_a_secret_in_argv(args: impl Iterator<Item = String>) {
	let args: Vec<String> = args.collect();
	let given = args.iter().enumerate().find_map(|(i, arg)| match arg.strip_prefix("--key=") {
		Some(value) => Some(value.to_string()),
		None if arg == "--key" => args.get(i + 1).cloned(),
		None => None,
	});
	if given.is_some_and(|key| !modicum_client::keys::is_dev_key(&key)) {
		tracing::warn!(
			"a secret key on the command line is visible to other users (ps) and kept in \
			 shell history; use --key-file (mode 600) or MODICUM_KEY instead"
		);
	}
}

fn main() -> std::process::ExitCode {
	let cli = Cli::parse();
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_env("MODICUM_LOG")
				.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
		)
		// Colour would need escape sequences; every one in a log line is escaped instead.
		.with_ansi(false)
		.with_writer(|| log_writer::Escaped(std::io::stderr()))
		.init();
	warn_of_a_secret_in_argv(std::env::args());
	let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(runtime) => runtime,
		Err(e) => {
			eprintln!("error: cannot start the async runtime: {e}");
			return std::process::ExitCode::FAILURE;
		},
	};
	let result = runtime.block_on(async {
		match cli.command {
			Command::Jc(command) => jc::run(&cli.global, command).await,
			Command::Rp(command) => daemons::rp(&cli.global, command).await,
			Command::Mediator(command) => daemons::mediator(&cli.global, command).await,
			Command::Solver(command) => daemons::solver(&cli.global, command).await,
			Command::Directory(command) => daemons::directory(&cli.global, command).await,
			Command::Market(command) => market::run(&cli.global, command).await,
			Command::Research(command) => research::run(&cli.global, command).await,
			Command::Devnet(args) => devnet::run(&cli.global, args).await,
		}
	});
	match result {
		Ok(()) => std::process::ExitCode::SUCCESS,
		Err(error) => {
			output::error(cli.global.json, &error);
			std::process::ExitCode::FAILURE
		},
	}
}
