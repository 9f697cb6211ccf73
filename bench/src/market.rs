//! A whole market on one machine, as `tests/tests/market_docker.rs` wires it: a dev
//! node, a directory (//Dave), a mediator (//Charlie), one or more resource providers
//! (//Bob, then funded `//bench-rp-N`), a solver (//Eve), and //Alice registered as a
//! job creator trusting the mediator. On the local network the node is Alice's
//! validator, and Bob, Charlie and Dave validate as well as play their roles.

use crate::{
	network::{start_local, Network},
	procfs,
	setup::say,
	tx::{self, Bulk},
};
use anyhow::{bail, Result};
use modicum_client::{calls::Market as Calls, keys, AccountId, Chain};
use modicum_tests::{best_number, wait_for, write_market_configs, Daemon, Node, RpRole};
use std::time::{Duration, Instant};

/// One MDC in planck.
pub const MDC: u128 = 1_000_000_000_000;

/// The market's shape.
#[derive(Clone, Debug)]
pub struct MarketOptions {
	/// Resource providers to run.
	pub rps: usize,
	/// Jobs each RP runs at once.
	pub jobs_at_once: u32,
	/// Offers each RP keeps open (matched jobs waiting for a slot included), at least
	/// `jobs_at_once`: its next jobs are matched while these run.
	pub open_offers: u32,
	/// Arguments for the dev node besides `--dev` (the local network takes none).
	pub node_args: Vec<String>,
	/// The chain it runs on.
	pub network: Network,
}

impl MarketOptions {
	/// The same market with each RP keeping `offers` offers open.
	pub fn with_open_offers(self, offers: u32) -> Self {
		MarketOptions { open_offers: offers.max(self.jobs_at_once), ..self }
	}

	/// The same market on `network`.
	pub fn on(self, network: Network) -> Self {
		MarketOptions { network, ..self }
	}
}

/// A running market. Everything stops when it is dropped.
pub struct Market {
	/// Daemons, in start order: directory, mediator, RPs, solver.
	pub daemons: Vec<Daemon>,
	/// The node everyone talks to (Alice's on the local network).
	pub node: Node,
	/// The local network's other validators.
	pub validators: Vec<Node>,
	/// The node's WebSocket address.
	pub url: String,
	/// A client connection.
	pub chain: Chain,
	/// The directory's registry, `host:port`.
	pub registry: String,
	/// The RPs' accounts.
	pub rps: Vec<AccountId>,
	_dir: tempfile::TempDir,
}

/// Set it to keep each market's work directory (node data, daemon logs and state),
/// and the chain-rate figure's dev node, after the run, for profiling.
pub const KEEP_ENV: &str = "MODICUM_BENCH_KEEP";

/// A fresh work directory for `figure`, kept after the run (and said so, naming
/// `what` it holds) when [`KEEP_ENV`] is set.
pub fn work_dir(figure: &str, what: &str) -> Result<tempfile::TempDir> {
	let mut dir = tempfile::tempdir()?;
	if std::env::var_os(KEEP_ENV).is_some() {
		dir.disable_cleanup(true);
		say(figure, format!("{what} kept in {}", dir.path().display()));
	}
	Ok(dir)
}

/// Secret URI of the `i`-th RP.
fn rp_uri(i: usize) -> String {
	if i == 0 {
		"//Bob".into()
	} else {
		format!("//bench-rp-{i}")
	}
}

impl Market {
	/// Starts everything and waits until each RP has its offers posted and the solver
	/// is listening, so a job submitted next is matched at once.
	pub async fn start(figure: &str, options: &MarketOptions) -> Result<Market> {
		let dir = work_dir(figure, "daemon logs and state")?;
		let work = dir.path().to_path_buf();
		let (node, validators) = match options.network {
			Network::Dev => {
				let extra: Vec<&str> = std::iter::once("--dev")
					.chain(options.node_args.iter().map(String::as_str))
					.collect();
				say(figure, "starting a dev node");
				let mut node = Node::start("dev", &work.join("node"), &extra)?;
				let rpc = node.rpc(Duration::from_secs(60)).await?;
				wait_for("dev blocks", 1, Duration::from_secs(30), || best_number(&rpc)).await?;
				(node, Vec::new())
			},
			Network::Local => {
				let network = start_local(figure, &work.join("network"), &[]).await?;
				(network.alice, network.others)
			},
		};
		let url = node.url();
		let chain = Chain::connect(&url).await?;

		let rps: Vec<AccountId> =
			(0..options.rps).map(|i| keys::parse_account(&rp_uri(i))).collect::<Result<_, _>>()?;
		let bulk = Bulk::connect(&url).await?;
		let mut alice = bulk.account("//Alice").await?;
		if rps.len() > 1 {
			tx::fund(&bulk, &mut alice, &rps[1..], 10_000 * MDC).await?;
		}

		let roles: Vec<RpRole> = (0..options.rps)
			.map(|i| RpRole {
				name: format!("rp-{i}"),
				key: rp_uri(i),
				jobs_at_once: options.jobs_at_once,
				open_offers: options.open_offers,
				determinism_probe_runs: 0,
			})
			.collect();
		let registry = write_market_configs(&work, &roles)?;

		let mut market = Market {
			daemons: Vec::new(),
			node,
			validators,
			url: url.clone(),
			chain,
			registry,
			rps,
			_dir: dir,
		};
		say(figure, format!("starting the directory, mediator, {} RP(s) and solver", options.rps));
		market.daemons.push(Daemon::start(&work, "directory", &url, &["directory", "serve"])?);
		let dave = keys::parse_account("//Dave")?;
		market
			.wait("the directory to register", |c| async move {
				Ok(c.directory(&dave).await?.is_some())
			})
			.await?;
		market.daemons.push(Daemon::start(&work, "mediator", &url, &["mediator", "run"])?);
		let charlie = keys::parse_account("//Charlie")?;
		market
			.wait("the mediator to declare its base layer", |c| async move {
				Ok(!c.base_layers(&charlie).await?.is_empty())
			})
			.await?;
		for i in 0..options.rps {
			market.daemons.push(Daemon::start(&work, &format!("rp-{i}"), &url, &["rp", "run"])?);
		}
		market.daemons.push(Daemon::start(&work, "solver", &url, &["solver", "run"])?);

		// The job creator: //Alice, trusting the mediator.
		let alice_key = keys::from_uri("//Alice")?;
		let calls = Calls::new(&market.chain, &alice_key);
		calls.register_job_creator().await?;
		calls.trust_mediator(charlie).await?;

		let wanted = options.open_offers as usize;
		let providers = market.rps.clone();
		market
			.wait("every RP to post its offers", |c| {
				let providers = providers.clone();
				async move {
					let offers = c.resource_offers().await?;
					Ok(providers
						.iter()
						.all(|p| offers.iter().filter(|(_, o)| o.owner == *p).count() >= wanted))
				}
			})
			.await?;
		let solver_log = work.join("solver.log");
		market
			.wait("the solver to listen", |_| {
				let log = std::fs::read_to_string(&solver_log).unwrap_or_default();
				async move { Ok(log.contains("solving")) }
			})
			.await?;
		Ok(market)
	}

	/// Polls `ready` every 200 ms for up to two minutes, failing with the daemons' logs
	/// if one exits or time runs out.
	pub async fn wait<F, Fut>(&mut self, what: &str, mut ready: F) -> Result<()>
	where
		F: FnMut(Chain) -> Fut,
		Fut: std::future::Future<Output = Result<bool>>,
	{
		let deadline = Instant::now() + Duration::from_secs(120);
		loop {
			if ready(self.chain.clone()).await.unwrap_or(false) {
				return Ok(());
			}
			self.check()?;
			if Instant::now() > deadline {
				bail!("timed out waiting for {what}:\n{}", self.logs());
			}
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}

	/// Fails, with the logs, if a daemon has exited.
	pub fn check(&mut self) -> Result<()> {
		let exited = self.daemons.iter_mut().find_map(|d| d.ensure_running().err());
		match exited {
			Some(e) => bail!("{e}\n{}", self.logs()),
			None => Ok(()),
		}
	}

	/// The last lines of every daemon's log.
	pub fn logs(&self) -> String {
		self.daemons.iter().map(Daemon::log_tail).collect::<Vec<_>>().join("\n")
	}

	/// The processes whose CPU time a profile counts: the node, each daemon, the Docker
	/// engine, and this benchmark (the job creator).
	pub fn processes(&self) -> Vec<(String, Vec<u32>)> {
		let mut all = vec![("node".to_string(), self.node.pid().into_iter().collect())];
		if !self.validators.is_empty() {
			all.push((
				"other validators".into(),
				self.validators.iter().filter_map(Node::pid).collect(),
			));
		}
		let mut rps = Vec::new();
		for daemon in &self.daemons {
			if daemon.name().starts_with("rp-") {
				rps.push(daemon.pid());
			} else {
				all.push((daemon.name().to_string(), vec![daemon.pid()]));
			}
		}
		all.push(("rps".into(), rps));
		all.push(("dockerd".into(), procfs::pids_named("dockerd")));
		all.push(("containerd".into(), procfs::pids_named("containerd")));
		all.push(("job creator (this benchmark)".into(), vec![std::process::id()]));
		all
	}
}
