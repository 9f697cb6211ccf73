//! `modicum-bench`: measures Modicum on the work the MODiCuM paper measured, each
//! figure beside its baseline in the same run (ratios hold on a noisy machine,
//! absolute times do not), and prints a markdown table (or JSON) that it also writes
//! to `<out>/latest.md` and `<out>/latest.json`, with the machine described.
//!
//! ```text
//! modicum-bench [--smoke] [--only FIGURE…] [--out DIR] [--json] [--seal-interval-ms MS]
//! ```
//!
//! Figures: latency, overhead, throughput, chain-rate, weight, solver, memory, hostile,
//! network (see
//! bench/README.md). `--smoke` runs each at tiny sizes, to check the harness.

mod acceptor;
mod book;
mod chain_rate;
mod flatness;
mod hostile;
mod latency;
mod machine;
mod market;
mod memory;
mod network;
mod overhead;
mod pipeline;
mod procfs;
mod report;
mod row;
mod setup;
mod solver;
mod state;
mod stats;
mod throughput;
mod tx;
mod weight;

use anyhow::Result;
use clap::{Parser, ValueEnum};
use network::Network;
use std::{path::PathBuf, process::ExitCode, time::Instant};

/// Measure Modicum against the MODiCuM paper's figures, each beside its baseline.
#[derive(Parser)]
#[command(name = "modicum-bench")]
struct Args {
	/// Tiny sizes (2 jobs, a 1 s CPU job, a 100 × 100 book, a short idle): checks that
	/// every figure runs, in about ten minutes (most of it the four-validator network,
	/// which waits for finality at every step); the numbers mean little.
	#[arg(long)]
	smoke: bool,
	/// Only these figures.
	#[arg(long, value_enum, num_args = 1..)]
	only: Vec<Figure>,
	/// Where to write latest.md and latest.json [default: bench/results; with --smoke,
	/// a directory under the system's temporary directory].
	#[arg(long)]
	out: Option<PathBuf>,
	/// Print JSON instead of the markdown table.
	#[arg(long)]
	json: bool,
	/// The dev node's idle seal interval (one "block interval") for the market figures
	/// [default: the node's, 1000 ms].
	#[arg(long)]
	seal_interval_ms: Option<u64>,
	/// An extra argument for the market figures' dev node, e.g. `--node-arg=--seal-batch-ms=50`
	/// (repeat for more).
	#[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
	node_args: Vec<String>,
}

/// A figure of the issue's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Figure {
	Latency,
	Overhead,
	Throughput,
	ChainRate,
	Weight,
	Solver,
	Memory,
	Hostile,
	/// Latency, throughput and the chain-only rates again on the four-validator aura +
	/// GRANDPA local network.
	Network,
	/// Only the throughput figure on the local network (part of `network`).
	NetworkThroughput,
	/// Only the chain-only rates on the local network (part of `network`).
	NetworkChainRate,
}

impl Figure {
	/// Every figure of a whole run (`network-throughput` and `network-chain-rate` are
	/// parts of `network`).
	const ALL: [Figure; 9] = [
		Figure::Latency,
		Figure::Overhead,
		Figure::Throughput,
		Figure::ChainRate,
		Figure::Weight,
		Figure::Solver,
		Figure::Memory,
		Figure::Hostile,
		Figure::Network,
	];

	/// Its name on the command line.
	fn name(self) -> String {
		self.to_possible_value().map_or_else(String::new, |v| v.get_name().to_string())
	}

	fn needs_docker(self) -> bool {
		matches!(
			self,
			Figure::Latency
				| Figure::Overhead
				| Figure::Throughput
				| Figure::Memory
				| Figure::Hostile
				| Figure::Network
				| Figure::NetworkThroughput
		)
	}
}

/// What every figure is given.
pub struct Ctx {
	/// Tiny sizes.
	pub smoke: bool,
	/// Whether Docker figures can run.
	pub docker: setup::Docker,
	/// The market figures' idle seal interval, if set.
	pub seal_interval_ms: Option<u64>,
	/// Extra arguments for the market figures' dev node.
	pub node_args: Vec<String>,
}

impl Ctx {
	/// One block interval in seconds.
	pub fn seal_interval_s(&self) -> f64 {
		self.seal_interval_ms.unwrap_or(1000) as f64 / 1000.0
	}

	/// A market of `rps` RPs, each running `jobs_at_once` jobs at once and keeping as
	/// many offers open, on a node run with this run's `--seal-interval-ms` and
	/// `--node-arg`s.
	pub fn market(&self, rps: usize, jobs_at_once: u32) -> market::MarketOptions {
		let interval = self.seal_interval_ms.map(|ms| format!("--seal-interval-ms={ms}"));
		let node_args = interval.into_iter().chain(self.node_args.iter().cloned()).collect();
		market::MarketOptions {
			rps,
			jobs_at_once,
			open_offers: jobs_at_once,
			node_args,
			network: Network::Dev,
		}
	}
}

fn main() -> ExitCode {
	let args = Args::parse();
	setup::choose_cli();
	let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(runtime) => runtime,
		Err(e) => {
			eprintln!("error: cannot start the async runtime: {e}");
			return ExitCode::FAILURE;
		},
	};
	match runtime.block_on(run(args)) {
		Ok(true) => ExitCode::SUCCESS,
		Ok(false) => ExitCode::from(2),
		Err(e) => {
			eprintln!("error: {e:#}");
			ExitCode::FAILURE
		},
	}
}

/// Runs the figures and reports; false if any figure failed.
async fn run(args: Args) -> Result<bool> {
	let started = Instant::now();
	let figures: Vec<Figure> = if args.only.is_empty() {
		Figure::ALL.to_vec()
	} else {
		let mut chosen: Vec<Figure> =
			Figure::ALL.into_iter().filter(|f| args.only.contains(f)).collect();
		// The parts of `network` run alone, unless the whole of it is chosen.
		for part in [Figure::NetworkThroughput, Figure::NetworkChainRate] {
			if args.only.contains(&part) && !chosen.contains(&Figure::Network) {
				chosen.push(part);
			}
		}
		chosen
	};
	let mut docker = setup::docker()?;
	if matches!(docker, setup::Docker::Available) && figures.iter().any(|f| f.needs_docker()) {
		if let Err(e) = setup::build_images() {
			docker = setup::Docker::Missing(format!("the job images could not be built: {e:#}"));
		}
	}
	let ctx = Ctx {
		smoke: args.smoke,
		docker,
		seal_interval_ms: args.seal_interval_ms,
		node_args: args.node_args,
	};
	let mut rows = Vec::new();
	for figure in &figures {
		let start = Instant::now();
		let new = match figure {
			Figure::Latency => latency::run(&ctx, Network::Dev).await,
			Figure::Overhead => overhead::run(&ctx).await,
			Figure::Throughput => throughput::run(&ctx, Network::Dev).await,
			Figure::ChainRate => chain_rate::run(&ctx, Network::Dev).await,
			Figure::Weight => weight::run(&ctx).await,
			Figure::Solver => solver::run(&ctx).await,
			Figure::Memory => memory::run(&ctx).await,
			Figure::Hostile => hostile::run(&ctx).await,
			Figure::Network => {
				let mut rows = latency::run(&ctx, Network::Local).await;
				rows.extend(throughput::run(&ctx, Network::Local).await);
				rows.extend(chain_rate::run(&ctx, Network::Local).await);
				rows
			},
			Figure::NetworkThroughput => throughput::run(&ctx, Network::Local).await,
			Figure::NetworkChainRate => chain_rate::run(&ctx, Network::Local).await,
		};
		for row in &new {
			let outcome = match (&row.skipped, row.met) {
				(Some(reason), _) => reason.clone(),
				(None, _) => row.measured.as_ref().map_or(String::new(), |m| m.text.clone()),
			};
			setup::say(&row.id, format!("{outcome} ({:.0} s)", start.elapsed().as_secs_f64()));
		}
		rows.extend(new);
	}
	let repo = modicum_tests::repo_root();
	let report = report::Report {
		mode: if args.smoke { "smoke" } else { "full" }.into(),
		finished_at: std::time::SystemTime::now()
			.duration_since(std::time::UNIX_EPOCH)
			.map_or(0, |d| d.as_secs()),
		duration_s: procfs::round3(started.elapsed().as_secs_f64()),
		machine: machine::describe(&repo),
		settings: serde_json::json!({
			"figures": figures.iter().map(|f| f.name()).collect::<Vec<_>>(),
			"seal_interval_ms": ctx.seal_interval_ms.unwrap_or(1000),
			"seal_interval_set": ctx.seal_interval_ms.is_some(),
			"node_args": ctx.node_args,
			"cli_build": setup::cli_profile(),
			"bench_build": if cfg!(debug_assertions) { "debug" } else { "release" },
		}),
		rows,
	};
	let out = args.out.unwrap_or_else(|| {
		if args.smoke {
			std::env::temp_dir().join("modicum-bench-smoke")
		} else {
			repo.join("bench/results")
		}
	});
	report.write(&out)?;
	if args.json {
		println!("{}", report.json()?);
	} else {
		println!("{}", report.markdown());
	}
	eprintln!("wrote {}/latest.md and latest.json", out.display());
	Ok(report.rows.iter().all(|r| !r.failed))
}
