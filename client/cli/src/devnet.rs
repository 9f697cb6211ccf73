//! `modicum devnet`: a whole market on this machine with no configuration — a dev
//! node (instant seal), a directory (//Dave), a mediator (//Charlie), a resource
//! provider (//Bob) and a solver (//Eve), wired by [`modicum_offchain::devnet`]. It
//! waits until every role is registered, says where everything is, and keeps the
//! market up until Ctrl-C (or until one of its processes dies, which it reports with
//! the end of that process's log).

use crate::{daemons::stop_requested, Global};
use anyhow::{bail, Context, Result};
use clap::Args;
use modicum_client::{keys, Chain};
use modicum_offchain::devnet::{self, Plan};
use std::{
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

/// Where the devnet listens and keeps its files.
#[derive(Args)]
pub struct DevnetArgs {
	/// Configurations, chain data, state and logs [default: a new directory in /tmp].
	#[arg(long)]
	work: Option<PathBuf>,
	/// The node's RPC port.
	#[arg(long, default_value_t = 9944)]
	rpc_port: u16,
	/// The directory's registry address.
	#[arg(long, default_value = "127.0.0.1:5000")]
	registry_addr: String,
	/// The directory's uptime service address.
	#[arg(long, default_value = "127.0.0.1:5001")]
	uptime_addr: String,
	/// Jobs the resource provider runs at once.
	#[arg(long, default_value_t = 1)]
	jobs_at_once: u32,
	/// The node binary [default: `modicum-node` beside this binary, or $MODICUM_NODE].
	#[arg(long, env = "MODICUM_NODE")]
	node: Option<PathBuf>,
}

/// How long the node and the daemons get to come up.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A child process killed when dropped, with its log file.
struct Process {
	name: String,
	log: PathBuf,
	child: Child,
}

impl Process {
	fn spawn(name: &str, mut command: Command, work: &Path) -> Result<Process> {
		let log = work.join(format!("{name}.log"));
		let file = std::fs::File::create(&log).with_context(|| format!("{}", log.display()))?;
		let child = command
			.stdout(file.try_clone()?)
			.stderr(file)
			.stdin(Stdio::null())
			.spawn()
			.with_context(|| format!("starting {name}"))?;
		Ok(Process { name: name.into(), log, child })
	}

	/// An error naming the process and quoting its log's end, if it exited.
	fn check(&mut self) -> Result<()> {
		if let Some(status) = self.child.try_wait()? {
			let log = std::fs::read_to_string(&self.log).unwrap_or_default();
			let tail: Vec<&str> = log.lines().rev().take(15).collect();
			let tail: Vec<&str> = tail.into_iter().rev().collect();
			bail!(
				"{} exited ({status}); end of {}:\n{}",
				self.name,
				self.log.display(),
				tail.join("\n")
			);
		}
		Ok(())
	}
}

impl Drop for Process {
	fn drop(&mut self) {
		// SIGTERM first, so a directory stops the registry it owns.
		let _ = Command::new("kill").arg(self.child.id().to_string()).status();
		let deadline = Instant::now() + Duration::from_secs(5);
		while Instant::now() < deadline {
			if matches!(self.child.try_wait(), Ok(Some(_))) {
				return;
			}
			std::thread::sleep(Duration::from_millis(50));
		}
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

pub async fn run(_global: &Global, args: DevnetArgs) -> Result<()> {
	let work = match args.work {
		Some(work) => work,
		None => tempfile::Builder::new().prefix("modicum-devnet.").tempdir()?.keep(),
	};
	std::fs::create_dir_all(&work)?;
	let me = std::env::current_exe().context("finding this binary")?;
	let node_binary = match args.node {
		Some(node) => node,
		None => me.with_file_name("modicum-node"),
	};
	if !node_binary.is_file() {
		bail!(
			"{} not found: build it with scripts/build-node.sh or give --node",
			node_binary.display()
		);
	}
	let url = format!("ws://127.0.0.1:{}", args.rpc_port);
	let mut processes = Vec::new();
	let mut node = Command::new(&node_binary);
	node.arg("--dev").arg("--base-path").arg(work.join("node")).args([
		"--rpc-port",
		&args.rpc_port.to_string(),
		"--no-prometheus",
		"--no-telemetry",
		"--port",
		"0",
	]);
	processes.push(Process::spawn("node", node, &work)?);
	eprintln!("starting the dev chain (logs in {})", work.display());
	let chain = connect(&url, &mut processes).await?;
	let plan = Plan {
		work: work.clone(),
		registry_addr: args.registry_addr.clone(),
		uptime_addr: args.uptime_addr.clone(),
		rps: devnet::rps(1, args.jobs_at_once.max(1)),
	};
	for daemon in devnet::write_configs(&plan)? {
		let mut command = Command::new(&me);
		command.args(daemon.args).arg("--config").arg(work.join(format!("{}.toml", daemon.name)));
		command.env("MODICUM_URL", &url).env_remove("MODICUM_KEY");
		// In front: dropped (stopped) before the node, which they talk to.
		processes.insert(0, Process::spawn(&daemon.name, command, &work)?);
		if let Some(role) = daemon.role {
			wait_for_role(&chain, &daemon.key, role, &mut processes).await?;
			eprintln!("{} is up as {role} ({})", daemon.name, daemon.key);
		}
	}
	println!(
		"Modicum devnet is up (Ctrl-C stops it):\n  chain      {url}\n  directory  {} (uptime {})\n  logs       {}/*.log\n  try        modicum --url {url} --key //Alice jc register && modicum --key //Alice jc trust //Charlie",
		args.registry_addr,
		args.uptime_addr,
		work.display()
	);
	std::fs::write(work.join("ready"), format!("{url}\n"))?;
	let watch = async {
		loop {
			for process in processes.iter_mut() {
				process.check()?;
			}
			tokio::time::sleep(Duration::from_millis(500)).await;
		}
	};
	tokio::select! {
		failed = watch => failed,
		() = stop_requested() => {
			eprintln!("stopping the devnet; its files stay in {}", work.display());
			Ok(())
		},
	}
}

async fn connect(url: &str, processes: &mut [Process]) -> Result<Chain> {
	let deadline = Instant::now() + START_TIMEOUT;
	loop {
		if let Ok(chain) = Chain::connect(url).await {
			return Ok(chain);
		}
		for process in processes.iter_mut() {
			process.check()?;
		}
		if Instant::now() > deadline {
			bail!("the node did not answer on {url} within {START_TIMEOUT:?}");
		}
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
}

async fn wait_for_role(
	chain: &Chain,
	key: &str,
	role: &str,
	processes: &mut [Process],
) -> Result<()> {
	let who = keys::parse_account(key)?;
	let deadline = Instant::now() + START_TIMEOUT;
	loop {
		let registered = match role {
			"directory" => chain.directory(&who).await?.is_some(),
			"mediator" => chain.mediator(&who).await?.is_some(),
			_ => chain.resource_provider(&who).await?.is_some(),
		};
		if registered {
			return Ok(());
		}
		for process in processes.iter_mut() {
			process.check()?;
		}
		if Instant::now() > deadline {
			bail!("{key} did not register as {role} within {START_TIMEOUT:?}");
		}
		tokio::time::sleep(Duration::from_millis(250)).await;
	}
}
