//! Figure 7, idle memory: each off-chain daemon (`modicum rp run`, `mediator run`,
//! `solver run`, `directory serve`) started against a dev node, registered and ready,
//! then left idle; its resident set (`VmRSS`) read from /proc. Baseline: the node's own
//! idle resident set, read at the same moment. The directory's registry
//! (docker-registry, a separate Go program it starts) is reported apart.
//!
//! Then the book fills: 10,000 job offers and 10,000 resource offers that nobody can
//! match (`book::fill`), and the RP's and the solver's resident sets are read again,
//! beside their idle readings.

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
		Err(e) => {
			let offers = if ctx.smoke { 100 } else { 10_000 };
			let idle = DAEMONS.iter().map(|d| blank_row(d.name).fail(&e));
			let book = ["rp", "solver"].into_iter().map(|n| book_row(n, offers).fail(&e));
			idle.chain(book).collect()
		},
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
	let mut idle_mib = Vec::new();
	for (mut row, daemon) in running.iter_mut().map(|(r, d)| (r.clone(), d)) {
		let reading = read(daemon)?;
		idle_mib.push((row.id.clone(), reading.mib));
		row.measured = Some(Quantity::new(reading.mib, "MiB", format!("{:.1} MiB", reading.mib)));
		row.baseline =
			Some(Quantity::new(node_mib, "MiB", format!("the idle node: {node_mib:.0} MiB")));
		row.comparison = Some(Quantity::new(
			reading.mib / node_mib,
			"×",
			format!("{:.1}% of the node's", reading.mib / node_mib * 100.0),
		));
		row.met = Some(reading.mib <= GOAL_MIB);
		row.notes.push(format!(
			"of its {:.1} MiB, {:.1} MiB are its own heap and stacks; {:.1} MiB are pages of the `modicum` binary and its libraries, which every process running them shares",
			reading.mib, reading.anon_mib, reading.file_mib
		));
		for child in &reading.children {
			row.notes.push(format!(
				"it runs {} apart: {} MiB more",
				child["command"].as_str().unwrap_or("?"),
				child["rss_mib"]
			));
		}
		row.details = serde_json::json!({
			"idle_s": idle.as_secs(),
			"node_rss_mib": round3(node_mib),
			"cli_build": crate::setup::cli_profile(),
		});
		reading.describe(&mut row.details);
		rows.push(row);
	}
	rows.extend(with_full_book(ctx, &url, &mut running, &idle_mib).await);
	rows.sort_by_key(|r| ROW_ORDER.iter().position(|id| *id == r.id));
	Ok(rows)
}

/// The order of the figure's rows in the table.
const ROW_ORDER: [&str; 6] = [
	"memory.rp",
	"memory.mediator",
	"memory.solver",
	"memory.directory",
	"memory.book.rp",
	"memory.book.solver",
];

/// Goal with a full book, in MiB.
const BOOK_GOAL_MIB: f64 = 64.0;

fn book_row(name: &str, offers: usize) -> Row {
	Row::new(
		&format!("memory.book.{name}"),
		&format!(
			"resident memory of `modicum {name}` with {offers} open job offers and {offers} open resource offers on chain"
		),
		"—",
		"≤ 64 MiB (at 10,000 of each)",
	)
}

/// Fills the book with offers nobody can match, lets the daemons read them, and reads
/// the RP's and the solver's resident memory again, beside their idle readings.
async fn with_full_book(
	ctx: &Ctx,
	url: &str,
	running: &mut [(Row, Daemon)],
	idle_mib: &[(String, f64)],
) -> Vec<Row> {
	let offers = if ctx.smoke { 100 } else { 10_000 };
	let names = ["rp", "solver"];
	let mut rows: Vec<Row> = names.iter().map(|n| book_row(n, offers)).collect();
	let watched = |name: &str| running.iter().any(|(r, _)| r.id == format!("memory.{name}"));
	if !names.iter().any(|n| watched(n)) {
		return rows.into_iter().map(|r| r.skip("neither daemon runs here")).collect();
	}
	say(
		"memory",
		format!("posting {offers} job offers and {offers} resource offers nobody can match"),
	);
	let settle = Duration::from_secs(if ctx.smoke { 3 } else { 30 });
	let filled = async {
		let started = Instant::now();
		crate::book::fill(url, offers).await?;
		let posted_s = started.elapsed().as_secs_f64();
		say(
			"memory",
			format!("book full after {posted_s:.0} s; the daemons read it for {settle:?}"),
		);
		tokio::time::sleep(settle).await;
		anyhow::Ok(posted_s)
	};
	let posted_s = match filled.await {
		Ok(s) => s,
		Err(e) => return rows.into_iter().map(|r| r.fail(&e)).collect(),
	};
	for (row, name) in rows.iter_mut().zip(names) {
		let Some((_, daemon)) = running.iter_mut().find(|(r, _)| r.id == format!("memory.{name}"))
		else {
			*row = row.clone().skip(format!("the {name} daemon does not run here"));
			continue;
		};
		let reading = match read(daemon) {
			Ok(reading) => reading,
			Err(e) => {
				*row = row.clone().fail(&e);
				continue;
			},
		};
		let idle =
			idle_mib.iter().find(|(id, _)| *id == format!("memory.{name}")).map_or(0.0, |x| x.1);
		row.measured = Some(Quantity::new(reading.mib, "MiB", format!("{:.1} MiB", reading.mib)));
		row.baseline = Some(Quantity::new(
			idle,
			"MiB",
			format!("the same daemon idle, book empty: {idle:.1} MiB"),
		));
		row.comparison = Some(Quantity::new(
			reading.mib - idle,
			"MiB",
			format!("{:+.1} MiB for the book", reading.mib - idle),
		));
		row.met = Some(reading.mib <= BOOK_GOAL_MIB);
		row.details = serde_json::json!({
			"open_job_offers": offers,
			"open_resource_offers": offers,
			"posting_s": round3(posted_s),
			"read_for_s": settle.as_secs(),
			"idle_rss_mib": round3(idle),
		});
		reading.describe(&mut row.details);
	}
	rows
}

/// One reading of a daemon's memory.
struct Reading {
	mib: f64,
	/// Of `mib`, the daemon's own heap and stacks.
	anon_mib: f64,
	/// Of `mib`, pages of the binary and libraries, shared with other processes.
	file_mib: f64,
	peak_mib: f64,
	threads: u64,
	children: Vec<serde_json::Value>,
}

impl Reading {
	fn describe(&self, details: &mut serde_json::Value) {
		if let Some(map) = details.as_object_mut() {
			map.insert("rss_mib".into(), serde_json::json!(round3(self.mib)));
			map.insert("rss_anon_mib".into(), serde_json::json!(round3(self.anon_mib)));
			map.insert("rss_file_mib".into(), serde_json::json!(round3(self.file_mib)));
			map.insert("peak_rss_mib".into(), serde_json::json!(round3(self.peak_mib)));
			map.insert("threads".into(), serde_json::json!(self.threads));
			map.insert("children".into(), serde_json::json!(self.children));
		}
	}
}

/// Reads a running daemon's resident memory, its peak and its children's.
fn read(daemon: &mut Daemon) -> Result<Reading> {
	daemon.ensure_running()?;
	let pid = daemon.pid();
	let children = procfs::children(pid)
		.into_iter()
		.filter_map(|c| {
			let comm = std::fs::read_to_string(format!("/proc/{c}/comm")).ok()?;
			let rss = procfs::rss_kib(c).ok()? as f64 / 1024.0;
			Some(serde_json::json!({"command": comm.trim(), "rss_mib": round3(rss)}))
		})
		.collect();
	Ok(Reading {
		mib: procfs::rss_kib(pid)? as f64 / 1024.0,
		anon_mib: procfs::rss_anon_kib(pid)? as f64 / 1024.0,
		file_mib: procfs::rss_file_kib(pid)? as f64 / 1024.0,
		peak_mib: procfs::peak_rss_kib(pid)? as f64 / 1024.0,
		threads: procfs::threads(pid)?,
		children,
	})
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
