//! Figure 7, idle memory: each off-chain daemon (`modicum rp run`, `mediator run`,
//! `solver run`, `directory serve`) started against a dev node, registered and ready,
//! then left idle; its resident set (`VmRSS`) read from /proc. Baseline: the node's own
//! idle resident set, read at the same moment. The directory's registry
//! (docker-registry, a separate Go program it starts) is reported apart.

use crate::{
	chain_rate::dev_node,
	procfs::{self, round3},
	row::{Quantity, Row},
	setup::{say, Docker},
	Ctx,
};
use anyhow::{bail, Context, Result};
use modicum_client::{keys, Chain};
use modicum_tests::{free_port, Daemon};
use std::{
	path::Path,
	time::{Duration, Instant},
};

/// Goal, in MiB.
const GOAL_MIB: f64 = 20.0;

struct Spec {
	name: &'static str,
	args: &'static [&'static str],
	needs_docker: bool,
}

const DAEMONS: [Spec; 4] = [
	Spec { name: "rp", args: &["rp", "run"], needs_docker: true },
	Spec { name: "mediator", args: &["mediator", "run"], needs_docker: true },
	Spec { name: "solver", args: &["solver", "run"], needs_docker: false },
	Spec { name: "directory", args: &["directory", "serve"], needs_docker: false },
];

fn blank_row(name: &str) -> Row {
	Row::new(
		&format!("memory.{name}"),
		&format!("idle resident memory: `modicum {name}` daemon"),
		"20–25 MB",
		"≤ 20 MiB",
	)
}

/// One row per daemon.
pub async fn run(ctx: &Ctx) -> Vec<Row> {
	match measure(ctx).await {
		Ok(rows) => rows,
		Err(e) => DAEMONS.iter().map(|d| blank_row(d.name).fail(&e)).collect(),
	}
}

fn registry_missing() -> Option<String> {
	let bin = std::env::var(modicum_offchain::directory::REGISTRY_BIN_ENV)
		.unwrap_or_else(|_| "/usr/bin/docker-registry".into());
	(!Path::new(&bin).exists())
		.then(|| format!("{bin} is missing (scripts/setup.sh installs docker-registry)"))
}

async fn measure(ctx: &Ctx) -> Result<Vec<Row>> {
	let idle = Duration::from_secs(if ctx.smoke { 2 } else { 10 });
	let (dir, node) = dev_node("memory", &["--dev"]).await?;
	let url = node.url();
	let chain = Chain::connect(&url).await?;
	let work = dir.path();
	let (registry, uptime) = (free_port()?, free_port()?);
	write_configs(work, registry, uptime)?;

	let mut rows = Vec::new();
	let mut running: Vec<(Row, Daemon)> = Vec::new();
	// The directory and mediator first: the others trust them.
	for spec in [&DAEMONS[3], &DAEMONS[1], &DAEMONS[0], &DAEMONS[2]] {
		let row = blank_row(spec.name);
		let missing = match (&ctx.docker, spec.needs_docker) {
			(Docker::Missing(reason), true) => Some(reason.clone()),
			_ if spec.name == "directory" => registry_missing(),
			_ => None,
		};
		if let Some(reason) = missing {
			rows.push(row.skip(reason));
			continue;
		}
		say("memory", format!("starting `modicum {}`", spec.args.join(" ")));
		let mut daemon = Daemon::start(work, spec.name, &url, spec.args)?;
		ready(&chain, spec.name, &mut daemon).await?;
		running.push((row, daemon));
	}
	say("memory", format!("idle for {idle:?}"));
	tokio::time::sleep(idle).await;

	let node_pid = node.pid().context("the node is not running")?;
	let node_mib = procfs::rss_kib(node_pid)? as f64 / 1024.0;
	for (mut row, mut daemon) in running {
		daemon.ensure_running()?;
		let pid = daemon.pid();
		let mib = procfs::rss_kib(pid)? as f64 / 1024.0;
		let peak = procfs::peak_rss_kib(pid)? as f64 / 1024.0;
		let children: Vec<serde_json::Value> = procfs::children(pid)
			.into_iter()
			.filter_map(|c| {
				let comm = std::fs::read_to_string(format!("/proc/{c}/comm")).ok()?;
				let rss = procfs::rss_kib(c).ok()? as f64 / 1024.0;
				Some(serde_json::json!({"command": comm.trim(), "rss_mib": round3(rss)}))
			})
			.collect();
		row.measured = Some(Quantity::new(mib, "MiB", format!("{mib:.1} MiB")));
		row.baseline =
			Some(Quantity::new(node_mib, "MiB", format!("the idle node: {node_mib:.0} MiB")));
		row.comparison = Some(Quantity::new(
			mib / node_mib,
			"×",
			format!("{:.1}% of the node's", mib / node_mib * 100.0),
		));
		row.met = Some(mib <= GOAL_MIB);
		for child in &children {
			row.notes.push(format!(
				"it runs {} apart: {} MiB more",
				child["command"].as_str().unwrap_or("?"),
				child["rss_mib"]
			));
		}
		row.details = serde_json::json!({
			"idle_s": idle.as_secs(),
			"rss_mib": round3(mib),
			"peak_rss_mib": round3(peak),
			"threads": procfs::threads(pid)?,
			"children": children,
			"node_rss_mib": round3(node_mib),
			"cli_build": crate::setup::cli_profile(),
		});
		rows.push(row);
	}
	rows.sort_by_key(|r| DAEMONS.iter().position(|d| format!("memory.{}", d.name) == r.id));
	Ok(rows)
}

fn write_configs(work: &Path, registry: u16, uptime: u16) -> Result<()> {
	let files = [
		(
			"directory",
			format!(
				"[chain]\nkey = \"//Dave\"\n[directory]\ndata_dir = \"{}\"\nregistry_addr = \"127.0.0.1:{registry}\"\nuptime_addr = \"127.0.0.1:{uptime}\"\n",
				work.join("directory").display()
			),
		),
		(
			"mediator",
			format!(
				"[chain]\nkey = \"//Charlie\"\n[mediator]\ntrusted_directories = [\"//Dave\"]\nbase_images = [\"modicum/base:1\"]\nwork_dir = \"{}\"\n",
				work.join("mediator").display()
			),
		),
		(
			"rp",
			format!(
				"[chain]\nkey = \"//Bob\"\n[rp]\ntrusted_mediators = [\"//Charlie\"]\ntrusted_directories = [\"//Dave\"]\nbase_images = [\"modicum/base:1\"]\nwork_dir = \"{}\"\n",
				work.join("rp").display()
			),
		),
		("solver", "[chain]\nkey = \"//Eve\"\n".to_string()),
	];
	for (name, text) in files {
		std::fs::write(work.join(format!("{name}.toml")), text)?;
	}
	Ok(())
}

/// Waits until the daemon has done its start-up work and is idle.
async fn ready(chain: &Chain, name: &str, daemon: &mut Daemon) -> Result<()> {
	let deadline = Instant::now() + Duration::from_secs(120);
	loop {
		daemon.ensure_running()?;
		let done = match name {
			"directory" => chain.directory(&keys::parse_account("//Dave")?).await?.is_some(),
			"mediator" => !chain.base_layers(&keys::parse_account("//Charlie")?).await?.is_empty(),
			"rp" => {
				let bob = keys::parse_account("//Bob")?;
				chain.resource_offers().await?.iter().any(|(_, o)| o.owner == bob)
			},
			_ => daemon.log().contains("solving"),
		};
		if done {
			return Ok(());
		}
		if Instant::now() > deadline {
			bail!("the {name} daemon did not get ready:\n{}", daemon.log_tail());
		}
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
}
