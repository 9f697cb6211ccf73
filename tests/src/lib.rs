//! Helpers for end-to-end tests: start real `modicum-node` processes on free loopback
//! ports with temporary base paths, talk to them over RPC, stop and restart them.

use anyhow::{anyhow, bail, Context, Result};
use std::{
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};
use subxt_rpcs::{rpc_params, RpcClient};

/// The `modicum-node` binary: `$MODICUM_NODE`, else the release build in the shared
/// target directory.
pub fn node_binary() -> Result<PathBuf> {
	if let Ok(path) = std::env::var("MODICUM_NODE") {
		return Ok(PathBuf::from(path));
	}
	let target = std::env::var("CARGO_TARGET_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
	let binary = target.join("release").join("modicum-node");
	if !binary.is_file() {
		bail!(
			"{} not found: build it with `cargo build --release -p modicum-node` \
			 (or point MODICUM_NODE at a binary)",
			binary.display()
		);
	}
	Ok(binary)
}

mod local_network;
mod ports;
pub use local_network::LocalNetwork;
pub use ports::free_port;

/// Runs `modicum-node` with `args` to completion and returns (success, stdout, stderr).
/// A command still running after two minutes is killed and reported as an error, so a
/// node that should have refused to start cannot hang the test run.
pub fn run_node_command(args: &[&str]) -> Result<(bool, String, String)> {
	let dir = tempfile::tempdir()?;
	let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
	let mut child = Command::new(node_binary()?)
		.args(args)
		.stdin(Stdio::null())
		.stdout(std::fs::File::create(&out_path)?)
		.stderr(std::fs::File::create(&err_path)?)
		.spawn()
		.context("running modicum-node")?;
	let deadline = Instant::now() + Duration::from_secs(120);
	let status = loop {
		if let Some(status) = child.try_wait()? {
			break status;
		}
		if Instant::now() > deadline {
			child.kill().ok();
			child.wait()?;
			bail!(
				"modicum-node {} still running after 2 minutes:\n{}",
				args.join(" "),
				std::fs::read_to_string(&err_path).unwrap_or_default()
			);
		}
		std::thread::sleep(Duration::from_millis(100));
	};
	Ok((status.success(), std::fs::read_to_string(&out_path)?, std::fs::read_to_string(&err_path)?))
}

/// Times a node that lost one of its ports is started again on fresh ones.
const MAX_PORT_RETRIES: u32 = 3;

/// A running node. Killed when dropped.
pub struct Node {
	name: String,
	/// The caller's flags, after the standard ones.
	extra: Vec<String>,
	child: Option<Child>,
	/// Length of the log when the running process started: what it wrote comes after.
	log_start: u64,
	/// Times the node was started again on fresh ports because one was taken.
	port_retries: u32,
	/// Its base path (kept across restarts).
	pub base_path: PathBuf,
	/// JSON-RPC port on 127.0.0.1.
	pub rpc_port: u16,
	/// libp2p port on 127.0.0.1.
	pub p2p_port: u16,
	/// Prometheus port on 127.0.0.1.
	pub prometheus_port: u16,
}

impl Node {
	/// Starts a node with fresh ports under `base_path`, adding `extra` to the standard
	/// flags (`--base-path`, ports, a loopback `--listen-addr`, `--no-telemetry`, `--no-mdns`).
	///
	/// Until [`Node::rpc`] first answers, the ports may still change: a node that finds one
	/// taken is started again on fresh ones. Read them after that.
	pub fn start(name: &str, base_path: &Path, extra: &[&str]) -> Result<Node> {
		let (rpc_port, p2p_port, prometheus_port) = (free_port()?, free_port()?, free_port()?);
		let mut node = Node {
			name: name.to_string(),
			extra: extra.iter().map(|a| a.to_string()).collect(),
			child: None,
			log_start: 0,
			port_retries: 0,
			base_path: base_path.to_path_buf(),
			rpc_port,
			p2p_port,
			prometheus_port,
		};
		node.spawn()?;
		Ok(node)
	}

	fn args(&self) -> Vec<String> {
		let mut args: Vec<String> = vec![
			"--base-path".into(),
			self.base_path.display().to_string(),
			"--rpc-port".into(),
			self.rpc_port.to_string(),
			"--prometheus-port".into(),
			self.prometheus_port.to_string(),
			"--listen-addr".into(),
			format!("/ip4/127.0.0.1/tcp/{}", self.p2p_port),
			"--no-telemetry".into(),
			"--no-mdns".into(),
		];
		args.extend(self.extra.iter().cloned());
		args
	}

	fn log_path(&self) -> PathBuf {
		self.base_path.join(format!("{}.log", self.name))
	}

	fn spawn(&mut self) -> Result<()> {
		std::fs::create_dir_all(&self.base_path)?;
		let log = std::fs::OpenOptions::new()
			.create(true)
			.append(true)
			.open(self.log_path())
			.context("opening the node's log file")?;
		self.log_start = log.metadata()?.len();
		let child = Command::new(node_binary()?)
			.args(self.args())
			.stdin(Stdio::null())
			.stdout(log.try_clone()?)
			.stderr(log)
			.spawn()
			.context("starting modicum-node")?;
		self.child = Some(child);
		Ok(())
	}

	/// Stops the node (SIGKILL: a crash, the harshest stop) and waits for it.
	pub fn stop(&mut self) -> Result<()> {
		if let Some(mut child) = self.child.take() {
			child.kill().ok();
			child.wait()?;
		}
		Ok(())
	}

	/// Starts the node again with the same flags, ports and base path.
	pub fn restart(&mut self) -> Result<()> {
		self.stop()?;
		self.spawn()
	}

	/// Whether the last process exited because a port it was given had been taken since
	/// it was picked (another process's socket got there first).
	fn lost_a_port(&self) -> Result<bool> {
		let log = std::fs::read(self.log_path())?;
		let since_start = log.get(self.log_start as usize..).unwrap_or_default();
		Ok(String::from_utf8_lossy(since_start).contains("Address already in use"))
	}

	/// The last lines of its log, for failure messages.
	pub fn log_tail(&self) -> String {
		let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
		let lines: Vec<_> = log.lines().collect();
		lines[lines.len().saturating_sub(40)..].join("\n")
	}

	/// The node's WebSocket RPC address.
	pub fn url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.rpc_port)
	}

	/// Waits until the RPC server answers.
	pub async fn rpc(&mut self, timeout: Duration) -> Result<RpcClient> {
		let deadline = Instant::now() + timeout;
		loop {
			if let Some(child) = self.child.as_mut() {
				if let Some(status) = child.try_wait()? {
					if self.port_retries < MAX_PORT_RETRIES && self.lost_a_port()? {
						self.port_retries += 1;
						self.child = None;
						(self.rpc_port, self.p2p_port, self.prometheus_port) =
							(free_port()?, free_port()?, free_port()?);
						self.spawn()?;
						continue;
					}
					bail!("{} exited with {status}:\n{}", self.name, self.log_tail());
				}
			}
			if let Ok(client) = RpcClient::from_insecure_url(self.url()).await {
				return Ok(client);
			}
			if Instant::now() > deadline {
				bail!(
					"{}'s RPC did not answer within {timeout:?}:\n{}",
					self.name,
					self.log_tail()
				);
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
	}

	/// The process id while it runs (benchmarks read its memory and CPU time).
	pub fn pid(&self) -> Option<u32> {
		self.child.as_ref().map(Child::id)
	}

	/// Whether the process is still running.
	pub fn is_running(&mut self) -> bool {
		self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		let _ = self.stop();
	}
}

/// Block number of a header in JSON (hex string).
fn header_number(header: &serde_json::Value) -> Result<u64> {
	let hex =
		header["number"].as_str().ok_or_else(|| anyhow!("header without number: {header}"))?;
	Ok(u64::from_str_radix(hex.trim_start_matches("0x"), 16)?)
}

/// The best block's number.
pub async fn best_number(client: &RpcClient) -> Result<u64> {
	let header: serde_json::Value = client.request("chain_getHeader", rpc_params![]).await?;
	header_number(&header)
}

/// The finalized block's number.
pub async fn finalized_number(client: &RpcClient) -> Result<u64> {
	let hash: serde_json::Value = client.request("chain_getFinalizedHead", rpc_params![]).await?;
	let header: serde_json::Value = client.request("chain_getHeader", rpc_params![hash]).await?;
	header_number(&header)
}

/// Polls `probe` until it returns at least `target`, or fails after `timeout`.
pub async fn wait_for<F, Fut>(
	what: &str,
	target: u64,
	timeout: Duration,
	mut probe: F,
) -> Result<u64>
where
	F: FnMut() -> Fut,
	Fut: std::future::Future<Output = Result<u64>>,
{
	let deadline = Instant::now() + timeout;
	let mut last = None;
	loop {
		match probe().await {
			Ok(value) if value >= target => return Ok(value),
			Ok(value) => last = Some(value),
			Err(_) => {},
		}
		if Instant::now() > deadline {
			bail!("{what}: wanted {target}, last saw {last:?} after {timeout:?}");
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// GETs `path` from an HTTP server on loopback and returns the body.
pub fn http_get(port: u16, path: &str) -> Result<String> {
	use std::io::{Read, Write};
	let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
	stream.set_read_timeout(Some(Duration::from_secs(10)))?;
	write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
	let mut response = String::new();
	stream.read_to_string(&mut response)?;
	Ok(response)
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `modicum` CLI: `$MODICUM_CLI`, else the debug build in the shared target
/// directory (`scripts/test.sh` builds it).
pub fn modicum_binary() -> Result<PathBuf> {
	if let Ok(path) = std::env::var("MODICUM_CLI") {
		return Ok(PathBuf::from(path));
	}
	let target = std::env::var("CARGO_TARGET_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|_| repo_root().join("target"));
	let binary = target.join("debug").join("modicum");
	if !binary.is_file() {
		bail!("{} not found: build it with `cargo build -p modicum-cli`", binary.display());
	}
	Ok(binary)
}

/// A `modicum` daemon (`rp run`, `mediator run`, …) with its config `<work>/<name>.toml`
/// and log `<work>/<name>.log`. Killed when dropped.
pub struct Daemon {
	name: String,
	log: PathBuf,
	child: Child,
}

impl Daemon {
	/// Starts `modicum <args> --config <work>/<name>.toml` against the node at `url`.
	pub fn start(work: &Path, name: &str, url: &str, args: &[&str]) -> Result<Daemon> {
		let log = work.join(format!("{name}.log"));
		let file = std::fs::File::create(&log)?;
		let child = Command::new(modicum_binary()?)
			.args(args)
			.arg("--config")
			.arg(work.join(format!("{name}.toml")))
			.env("MODICUM_URL", url)
			.env_remove("MODICUM_KEY")
			.stdin(Stdio::null())
			.stdout(file.try_clone()?)
			.stderr(file)
			.spawn()
			.with_context(|| format!("starting the {name} daemon"))?;
		Ok(Daemon { name: name.into(), log, child })
	}

	/// Fails, with its log, if the daemon has exited.
	pub fn ensure_running(&mut self) -> Result<()> {
		if let Some(status) = self.child.try_wait()? {
			bail!("the {} daemon exited with {status}:\n{}", self.name, self.log_tail());
		}
		Ok(())
	}

	/// Its name (the config and log file stem).
	pub fn name(&self) -> &str {
		&self.name
	}

	/// The process id (benchmarks read its memory and CPU time).
	pub fn pid(&self) -> u32 {
		self.child.id()
	}

	/// Its whole log so far.
	pub fn log(&self) -> String {
		std::fs::read_to_string(&self.log).unwrap_or_default()
	}

	/// The last lines of its log.
	pub fn log_tail(&self) -> String {
		let log = std::fs::read_to_string(&self.log).unwrap_or_default();
		let lines: Vec<_> = log.lines().collect();
		format!("--- {} ---\n{}", self.name, lines[lines.len().saturating_sub(30)..].join("\n"))
	}
}

impl Drop for Daemon {
	fn drop(&mut self) {
		// Ctrl-C first, so the daemon stops what it started (the directory's registry).
		let _ = Command::new("kill").arg("-INT").arg(self.child.id().to_string()).status();
		let deadline = Instant::now() + Duration::from_secs(5);
		while Instant::now() < deadline {
			if let Ok(Some(_)) = self.child.try_wait() {
				return;
			}
			std::thread::sleep(Duration::from_millis(50));
		}
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

/// One resource provider of a one-machine market (see [`write_market_configs`]).
pub use modicum_offchain::devnet::RpPlan as RpRole;

/// Writes the role configurations of a one-machine market into `work`, as
/// `modicum devnet` does ([`modicum_offchain::devnet`]): a directory (//Dave,
/// `directory.toml`, registry and uptime service on free loopback ports), a mediator
/// (//Charlie), the `rps` (each trusting both) and a solver (//Eve). Returns the
/// registry's `host:port`.
pub fn write_market_configs(work: &Path, rps: &[RpRole]) -> Result<String> {
	let registry = format!("127.0.0.1:{}", free_port()?);
	let plan = modicum_offchain::devnet::Plan {
		work: work.to_path_buf(),
		registry_addr: registry.clone(),
		uptime_addr: format!("127.0.0.1:{}", free_port()?),
		rps: rps.to_vec(),
	};
	modicum_offchain::devnet::write_configs(&plan)?;
	Ok(registry)
}

/// Whether a Docker engine answers; a missing one fails when `MODICUM_REQUIRE_DOCKER=1`.
pub fn docker_available() -> Result<bool> {
	let ok =
		Command::new("docker").arg("info").output().map(|o| o.status.success()).unwrap_or(false);
	if !ok && std::env::var("MODICUM_REQUIRE_DOCKER").as_deref() == Ok("1") {
		bail!("MODICUM_REQUIRE_DOCKER=1 but no Docker engine answers `docker info`");
	}
	Ok(ok)
}

/// Waits (up to two minutes) until `who` holds `role` on chain, failing early if a
/// daemon died.
pub async fn wait_for_role(url: &str, who: &str, role: &str, daemons: &mut [Daemon]) -> Result<()> {
	for _ in 0..240 {
		let actor = Command::new(modicum_binary()?)
			.args(["--json", "market", "actor", who])
			.env("MODICUM_URL", url)
			.env("MODICUM_KEY", "//Alice")
			.output()
			.context("running modicum")?;
		if String::from_utf8_lossy(&actor.stdout).contains(&format!("\"{role}\"")) {
			return Ok(());
		}
		for daemon in daemons.iter_mut() {
			daemon.ensure_running()?;
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	bail!("{who} never registered as {role}")
}

/// A one-machine market for an end-to-end test: a dev node under `work` and the
/// devnet's daemons, every role registered.
pub struct TestMarket {
	/// The node.
	pub node: Node,
	/// Its WebSocket address.
	pub url: String,
	/// The directory's registry, `host:port`.
	pub registry: String,
	/// The daemons, in start order.
	pub daemons: Vec<Daemon>,
}

impl TestMarket {
	/// Starts the node and the daemons of [`write_market_configs`] with `rp`.
	pub async fn start(work: &Path, rp: RpRole) -> Result<TestMarket> {
		Self::start_with(work, &[rp]).await
	}

	/// Starts the node and the daemons of [`write_market_configs`] with every RP of
	/// `rps`.
	pub async fn start_with(work: &Path, rps: &[RpRole]) -> Result<TestMarket> {
		let mut node = Node::start("market", &work.join("node"), &["--dev"])?;
		let rpc = node.rpc(Duration::from_secs(60)).await?;
		wait_for("dev blocks", 1, Duration::from_secs(30), || best_number(&rpc)).await?;
		let url = node.url();
		let registry = write_market_configs(work, rps)?;
		let mut daemons = vec![Daemon::start(work, "directory", &url, &["directory", "serve"])?];
		wait_for_role(&url, "//Dave", "directory", &mut daemons).await?;
		daemons.push(Daemon::start(work, "mediator", &url, &["mediator", "run"])?);
		wait_for_role(&url, "//Charlie", "mediator", &mut daemons).await?;
		for rp in rps {
			daemons.push(Daemon::start(work, &rp.name, &url, &["rp", "run"])?);
		}
		daemons.push(Daemon::start(work, "solver", &url, &["solver", "run"])?);
		for rp in rps {
			wait_for_role(&url, &rp.key, "resource-provider", &mut daemons).await?;
		}
		Ok(TestMarket { node, url, registry, daemons })
	}

	/// The end of every daemon's log, for a failure message.
	pub fn logs(&self) -> String {
		self.daemons.iter().map(Daemon::log_tail).collect::<Vec<_>>().join("\n")
	}

	/// Fails if a daemon died, then stops the node.
	pub fn stop(mut self) -> Result<()> {
		for daemon in self.daemons.iter_mut() {
			daemon.ensure_running()?;
		}
		self.node.stop()
	}
}

/// Builds local image `tag` from a Dockerfile text, with the classic builder (it uses
/// local images and never pulls).
pub fn build_image(tag: &str, dockerfile: &str) -> Result<()> {
	let context = tempfile::tempdir()?;
	std::fs::write(context.path().join("Dockerfile"), dockerfile)?;
	let out = Command::new("docker")
		.args(["build", "-q", "-t", tag])
		.arg(context.path())
		.env("DOCKER_BUILDKIT", "0")
		.output()?;
	if !out.status.success() {
		bail!("docker build {tag}: {}", String::from_utf8_lossy(&out.stderr));
	}
	Ok(())
}

/// Pushes local `image` to the directory's `registry` as `repository`, as //Alice (a
/// registered job creator, so the directory lets her write).
pub async fn push_as_alice(
	registry: &str,
	image: &str,
	repository: &str,
) -> Result<modicum_offchain::directory::PushedImage> {
	let docker = modicum_offchain::docker::connect().await?;
	let alice = modicum_client::keys::from_uri("//Alice")?;
	let credential = modicum_offchain::directory::WriteCredential::new(&alice, registry);
	Ok(modicum_offchain::directory::push_image(&docker, image, registry, repository, &credential)
		.await?)
}

/// Posts a job offer with the deposit the chain quotes for `mediator`, open for
/// `lifetime_ms`; the new offer's id.
pub async fn post_job(
	chain: &modicum_client::Chain,
	jc: &modicum_client::Keypair,
	terms: modicum_client::chain::JobTerms,
	mediator: modicum_client::AccountId,
	lifetime_ms: u64,
) -> Result<u64> {
	let now = chain.now_ms().await?;
	let deposit = chain.quote_job_deposit(&terms, Some(mediator)).await?;
	let posted = modicum_client::calls::Market::new(chain, jc)
		.post_job_offer(terms, deposit, now + lifetime_ms)
		.await?;
	posted
		.iter()
		.find_map(|e| match e {
			modicum_client::MarketEvent::JobOfferPosted { offer_id, .. } => Some(*offer_id),
			_ => None,
		})
		.context("posting the job offer announced no JobOfferPosted")
}

/// Runs `modicum --json <args>` against the node at `url` as //Alice (a registered job
/// creator in the end-to-end tests); its stdout as JSON, or its output as the error.
pub fn modicum_json(url: &str, args: &[&str]) -> Result<serde_json::Value> {
	let output = Command::new(modicum_binary()?)
		.arg("--json")
		.args(args)
		.env("MODICUM_URL", url)
		.env("MODICUM_KEY", "//Alice")
		.output()
		.context("running modicum")?;
	if !output.status.success() {
		bail!(
			"modicum {} failed:\n{}{}",
			args.join(" "),
			String::from_utf8_lossy(&output.stdout),
			String::from_utf8_lossy(&output.stderr)
		);
	}
	Ok(serde_json::from_slice(&output.stdout)?)
}

/// The one-machine market most Docker tests use: the job images built, and one RP
/// (//Bob, one job at a time). `None`, after a note, when no Docker engine answers
/// (a failure instead under `MODICUM_REQUIRE_DOCKER=1`).
pub async fn docker_market(work: &Path) -> Result<Option<TestMarket>> {
	docker_market_with(work, &["//Bob"]).await
}

/// As [`docker_market`], with an RP daemon for each of `keys` (named `rp-<n>`, or `rp`
/// when there is one).
pub async fn docker_market_with(work: &Path, keys: &[&str]) -> Result<Option<TestMarket>> {
	if !docker_available()? {
		eprintln!("skipping: no Docker engine (set MODICUM_REQUIRE_DOCKER=1 to make this fail)");
		return Ok(None);
	}
	let status = Command::new("bash").arg(repo_root().join("scripts/build-images.sh")).status()?;
	if !status.success() {
		bail!("scripts/build-images.sh failed");
	}
	let rps: Vec<RpRole> = keys
		.iter()
		.enumerate()
		.map(|(i, key)| {
			// One RP keeps the name the single-RP tests read its state under.
			let name = if keys.len() == 1 { "rp".to_string() } else { format!("rp-{i}") };
			RpRole {
				name,
				key: key.to_string(),
				jobs_at_once: 1,
				open_offers: 1,
				determinism_probe_runs: 0,
			}
		})
		.collect();
	Ok(Some(TestMarket::start_with(work, &rps).await?))
}

/// An RP driven by the test itself, through raw extrinsics as a hostile client would
/// (no daemon).
pub struct HandDrivenProvider {
	/// Its key.
	pub keypair: modicum_client::Keypair,
	/// The terms it offers: //Bob's.
	pub terms: modicum_client::chain::ResourceTerms,
}

impl HandDrivenProvider {
	/// Posts one more resource offer on its terms, open for ten minutes.
	pub async fn offer(&self, chain: &modicum_client::Chain) -> Result<()> {
		use modicum_client::keys;
		let (charlie, dave) = (keys::parse_account("//Charlie")?, keys::parse_account("//Dave")?);
		let deposit = chain.quote_resource_deposit(&self.terms, Some(charlie), Some(dave)).await?;
		let now = chain.now_ms().await?;
		modicum_client::calls::Market::new(chain, &self.keypair)
			.post_resource_offer(self.terms.clone(), deposit, now + 600_000)
			.await?;
		Ok(())
	}
}

/// Registers `key` as a [`HandDrivenProvider`] with //Bob's speed, base layers and
/// offer terms, trusting the market's mediator (//Charlie) and directory (//Dave), and
/// posts one resource offer.
pub async fn hand_driven_provider(
	chain: &modicum_client::Chain,
	key: &str,
) -> Result<HandDrivenProvider> {
	use modicum_client::keys;
	let keypair = keys::from_uri(key)?;
	let (bob, charlie, dave) = (
		keys::parse_account("//Bob")?,
		keys::parse_account("//Charlie")?,
		keys::parse_account("//Dave")?,
	);
	let market = modicum_client::calls::Market::new(chain, &keypair);
	let speed = chain.resource_provider(&bob).await?.context("Bob is an RP")?;
	market.register_resource_provider(speed.arch, speed.time_per_instruction_ns).await?;
	market.trust_mediator(charlie).await?;
	market.trust_directory(dave).await?;
	for layer in chain.base_layers(&bob).await? {
		market.add_base_layer(layer).await?;
	}
	// Bob's daemon posts its first offer soon after it registers.
	let mut bobs = None;
	for _ in 0..120 {
		bobs = chain.resource_offers().await?.into_iter().find(|(_, offer)| offer.owner == bob);
		if bobs.is_some() {
			break;
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	let (_, bobs) = bobs.context("Bob posted no resource offer within a minute")?;
	let provider = HandDrivenProvider { keypair, terms: bobs.terms };
	provider.offer(chain).await?;
	Ok(provider)
}
