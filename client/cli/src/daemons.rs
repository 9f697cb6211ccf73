//! The long-running roles: `rp run`, `mediator run`, `solver run`, `directory serve`.
//! Each reads its TOML file, lets flags and environment override it, and runs until
//! Ctrl-C or until the node goes away.

use crate::Global;
use anyhow::{Context, Result};
use clap::Subcommand;
use modicum_client::{
	calls::Market,
	keys, reference, reference_text, settings,
	settings::ChainSettings,
	units::{format_amount, Amount},
	AccountId, Chain,
};
use modicum_offchain::{
	directory::{self, DirectoryEndpoint},
	matchmaker::{Matchmaker, SolverConfig},
	mediator::{Mediator, MediatorConfig},
	rp::{ResourceProvider, RpConfig},
};
use serde::Deserialize;
use std::{path::PathBuf, sync::Arc};

#[derive(Subcommand)]
pub enum RpCommand {
	/// Register, keep offers posted and run matched jobs (see README for rp.toml).
	Run,
}

#[derive(Subcommand)]
pub enum MediatorCommand {
	/// Register and rule on every dispute assigned to you.
	Run,
}

#[derive(Subcommand)]
pub enum SolverCommand {
	/// Keep the offer book and post minimum-cost maximum matchings.
	Run,
}

#[derive(Subcommand)]
pub enum DirectoryCommand {
	/// Start the OCI registry and uptime service, and register on chain.
	Serve {
		/// Where the registry stores images and results.
		#[arg(long)]
		data_dir: Option<PathBuf>,
		/// The registry's listen address.
		#[arg(long)]
		registry_addr: Option<String>,
		/// The uptime service's listen address.
		#[arg(long)]
		uptime_addr: Option<String>,
		/// Availability price per match.
		#[arg(long)]
		availability_price: Option<Amount>,
	},
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, the signal `kill`, systemd and `docker stop`
/// send: either way the daemon returns normally, so what it owns (the directory's
/// registry process) is stopped with it rather than left running.
pub(crate) async fn stop_requested() {
	let terminate = async {
		match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
			Ok(mut terminate) => {
				terminate.recv().await;
			},
			// No SIGTERM handler to install: Ctrl-C still stops the daemon cleanly.
			Err(_) => std::future::pending::<()>().await,
		}
	};
	tokio::select! {
		_ = tokio::signal::ctrl_c() => {},
		() = terminate => {},
	}
}

/// Runs a daemon's `work` until it ends or the daemon is asked to stop, handing its
/// freed heap back to the system meanwhile.
async fn until_ctrl_c<F: std::future::Future<Output = Result<()>>>(work: F) -> Result<()> {
	tokio::select! {
		result = work => result,
		() = stop_requested() => {
			tracing::info!("interrupted; stopping");
			Ok(())
		},
		() = crate::heap::keep_trimmed() => Ok(()),
	}
}

pub async fn rp(global: &Global, command: RpCommand) -> Result<()> {
	let RpCommand::Run = command;
	let mut config: RpConfig = settings::load(global.config.as_deref())?;
	config.chain = global.chain(config.chain);
	let daemon = Arc::new(ResourceProvider::start(config).await?);
	tracing::info!(account = %daemon.account(), "resource provider running");
	let running = Arc::clone(&daemon);
	let result = until_ctrl_c(async move { Ok(running.run().await?) }).await;
	// Leave no job running on the host; open matches resume from their saved phase.
	daemon.stop_jobs().await;
	result
}

pub async fn mediator(global: &Global, command: MediatorCommand) -> Result<()> {
	let MediatorCommand::Run = command;
	let mut config: MediatorConfig = settings::load(global.config.as_deref())?;
	config.chain = global.chain(config.chain);
	let daemon = Arc::new(Mediator::start(config).await?);
	tracing::info!("mediator running");
	let running = Arc::clone(&daemon);
	let result = until_ctrl_c(async move { Ok(running.run().await?) }).await;
	daemon.stop_jobs().await;
	result
}

pub async fn solver(global: &Global, command: SolverCommand) -> Result<()> {
	let SolverCommand::Run = command;
	let mut config: SolverConfig = settings::load(global.config.as_deref())?;
	config.chain = global.chain(config.chain);
	let mut daemon = Matchmaker::start(config).await?;
	tracing::info!("solver running");
	until_ctrl_c(async move { Ok(daemon.run().await?) }).await
}

/// A directory's configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectoryFile {
	#[serde(default)]
	chain: ChainSettings,
	#[serde(default)]
	directory: DirectorySettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct DirectorySettings {
	data_dir: PathBuf,
	registry_addr: String,
	uptime_addr: String,
	availability_price: Amount,
	/// Most bytes the registry may store; writes are refused past it.
	quota_bytes: u64,
	/// Mediators whose rulings on this directory's uptime it accepts: only they can
	/// make it pay (a bounded liability per match), and a mediator the directory does
	/// not list is never paid from its bond.
	trusted_mediators: Vec<String>,
}

impl Default for DirectorySettings {
	fn default() -> Self {
		DirectorySettings {
			data_dir: PathBuf::from("modicum-directory"),
			registry_addr: "127.0.0.1:5000".into(),
			uptime_addr: "127.0.0.1:5001".into(),
			availability_price: Amount(1_000_000_000),
			quota_bytes: 16 << 30,
			trusted_mediators: Vec::new(),
		}
	}
}

pub async fn directory(global: &Global, command: DirectoryCommand) -> Result<()> {
	let DirectoryCommand::Serve { data_dir, registry_addr, uptime_addr, availability_price } =
		command;
	let file: DirectoryFile = settings::load(global.config.as_deref())?;
	let mut s = file.directory;
	s.data_dir = data_dir.unwrap_or(s.data_dir);
	s.registry_addr = registry_addr.unwrap_or(s.registry_addr);
	s.uptime_addr = uptime_addr.unwrap_or(s.uptime_addr);
	s.availability_price = availability_price.unwrap_or(s.availability_price);
	let chain_settings = global.chain(file.chain);
	let signer = chain_settings.keypair()?;
	let me = keys::account_of(&signer);
	let chain = Chain::connect(chain_settings.url()).await?;
	let endpoint =
		DirectoryEndpoint { registry: s.registry_addr.clone(), uptime: s.uptime_addr.clone() };
	let parse = |what: &str, addr: &str| -> Result<std::net::SocketAddr> {
		addr.parse().with_context(|| format!("{what} {addr:?} is not an IP:port address"))
	};
	let config = directory::DirectoryConfig {
		data_dir: s.data_dir.clone(),
		registry_addr: parse("registry_addr", &s.registry_addr)?,
		uptime_addr: parse("uptime_addr", &s.uptime_addr)?,
		registry_name: endpoint.registry.clone(),
		quota_bytes: s.quota_bytes,
		signer: signer.clone(),
		writers: Some(registered_writers(chain.clone())),
	};
	let serving = tokio::spawn(async move {
		let shutdown = stop_requested();
		directory::serve(config, shutdown).await
	});
	// Register only once the registry answers, so nobody is sent to a dead endpoint.
	wait_for_registry(&s.registry_addr).await?;
	match chain.directory(&me).await? {
		Some(info) if reference_text(&info.endpoint) == endpoint.to_string() => {
			tracing::info!(account = %me, %endpoint, "already registered as a directory")
		},
		Some(info) => tracing::warn!(
			registered = %reference_text(&info.endpoint),
			%endpoint,
			"registered with another endpoint; deregister and re-register to change it"
		),
		None => {
			Market::new(&chain, &signer)
				.register_directory(reference(&endpoint.to_string())?, s.availability_price.0)
				.await?;
			tracing::info!(account = %me, %endpoint, price = %format_amount(s.availability_price.0), "registered as a directory");
		},
	}
	let trusted = chain.trusted_mediators(&me).await?;
	for mediator in &s.trusted_mediators {
		let mediator = keys::parse_account(mediator)?;
		if !trusted.contains(&mediator) {
			Market::new(&chain, &signer).trust_mediator(mediator).await?;
			tracing::info!(%mediator, "trusting a mediator's rulings on this directory");
		}
	}
	let served = tokio::select! {
		served = serving => served,
		() = crate::heap::keep_trimmed() => return Ok(()),
	};
	served.context("directory task")?.context("directory")?;
	Ok(())
}

/// Accounts registered on chain as job creator or resource provider may write to the
/// directory (registration costs a bond, so flooding it takes one per identity). The
/// gate asks from its own threads; a yes is kept for a minute, a no for ten seconds.
/// A no, or no answer, is asked again on a fresh connection (a node that restarted
/// leaves the old one answering nothing useful; fresh connections at most every five
/// seconds, so refused writers cannot make the directory hammer the node). If the
/// chain still cannot be asked, a valid credential may write: the directory is judged
/// by whether it takes results, and its own probe cannot see a chain outage.
fn registered_writers(chain: Chain) -> directory::WriterCheck {
	use std::{
		collections::HashMap,
		sync::Mutex,
		time::{Duration, Instant},
	};
	const KEEP_YES: Duration = Duration::from_secs(60);
	const KEEP_NO: Duration = Duration::from_secs(10);
	const MOST_KEPT: usize = 10_000;
	const ASK_WITHIN: Duration = Duration::from_secs(5);
	const RECONNECT_EVERY: Duration = Duration::from_secs(5);
	let runtime = tokio::runtime::Handle::current();
	let known: Mutex<HashMap<[u8; 32], (bool, Instant)>> = Mutex::new(HashMap::new());
	let reconnected: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
	Arc::new(move |who: &AccountId| {
		let lock = || known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		if let Some((allowed, at)) = lock().get(&who.0) {
			if at.elapsed() < if *allowed { KEEP_YES } else { KEEP_NO } {
				return *allowed;
			}
		}
		let (chain, account, reconnected) = (chain.clone(), *who, reconnected.clone());
		let answer = runtime.block_on(async move {
			let ask = || async {
				let registered = chain.job_creator(&account).await?.is_some()
					|| chain.resource_provider(&account).await?.is_some();
				Ok::<bool, modicum_client::ClientError>(registered)
			};
			let first = tokio::time::timeout(ASK_WITHIN, ask()).await;
			tracing::debug!(%account, ?first, "asked whether a writer is registered");
			if let Ok(Ok(true)) = first {
				return Some(true);
			}
			let due = {
				let mut last = reconnected.lock().unwrap_or_else(|p| p.into_inner());
				let due = last.is_none_or(|at| at.elapsed() >= RECONNECT_EVERY);
				if due {
					*last = Some(Instant::now());
				}
				due
			};
			if due {
				let _ = tokio::time::timeout(ASK_WITHIN, chain.reconnect()).await;
			}
			match tokio::time::timeout(ASK_WITHIN, ask()).await {
				Ok(Ok(registered)) => Some(registered),
				_ => None,
			}
		});
		let Some(allowed) = answer else {
			tracing::warn!(account = %who, "cannot ask the chain whether this writer is registered; letting its valid credential write");
			return true;
		};
		let mut known = lock();
		if known.len() >= MOST_KEPT {
			known.clear();
		}
		known.insert(who.0, (allowed, Instant::now()));
		allowed
	})
}

async fn wait_for_registry(addr: &str) -> Result<()> {
	for _ in 0..300 {
		let probe = addr.to_string();
		if tokio::task::spawn_blocking(move || directory::probe_registry(&probe))
			.await
			.unwrap_or(false)
		{
			return Ok(());
		}
		tokio::time::sleep(std::time::Duration::from_millis(100)).await;
	}
	anyhow::bail!("the registry at {addr} did not come up within 30 s; see the directory's log")
}
