//! The Directory: partially trusted storage for job images and results (paper §3).
//!
//! A directory is a stock OCI registry (Debian's `docker-registry`, started and watched
//! by [`RegistryProcess`]) behind a gate that lets anyone read and only credentialed
//! writers write ([`Gate`], [`WriteCredential`]), plus an uptime record ([`UptimeRecord`]) that a mediator can
//! query over HTTP when a party claims the directory was unavailable. Its on-chain
//! endpoint names both ([`DirectoryEndpoint`]).
//!
//! The clients live here too: the Job Creator pushes its image with [`push_image`], the
//! Resource Provider uploads results as content-addressed blobs with [`upload_blob`],
//! and the Job Creator or mediator fetch them with [`download_blob_to`], which streams
//! to a file under a cap and checks the content against its digest, so the directory
//! cannot alter what it stores.
//!
//! The HTTP clients here block (ureq); async callers run them in
//! `tokio::task::spawn_blocking`.

mod blobs;
mod credential;
mod endpoint;
mod gate;
pub mod phase;
mod proof_client;
mod push;
mod registry;
mod transfer;
mod unpacked;
mod uptime;

pub use blobs::probe_store_and_read;
pub use blobs::{
	digest_bytes, manifest_exists, sha256_digest, upload_blob, upload_file, validate_repository,
	BlobRef,
};
pub use credential::{
	now_secs, verify_header, CredentialError, WriteCredential, CREDENTIAL_LIFETIME,
};
pub use endpoint::{DirectoryEndpoint, MAX_ENDPOINT_LEN};
pub use gate::{serve_gate, Gate, GatePolicy, WriterCheck};
pub use proof_client::fetch_proven_files;
pub use push::{push_image, PushedImage};
pub use registry::{probe_registry, RegistryProcess, REGISTRY_BIN_ENV};
pub use transfer::{download_blob_to, manifest_size, timeout_until, ImageSize, Layer};
pub use unpacked::{unpacked_size_within, Unpacked};
pub use uptime::{
	query_uptime, serve_uptime, UptimeHistory, UptimeRecord, UptimeReport, UptimeServer,
	PROBE_TOLERANCE_MS,
};

use std::{
	future::Future,
	net::SocketAddr,
	path::PathBuf,
	sync::{Arc, Mutex},
	time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// Everything that can go wrong serving a directory or talking to one.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
	/// An on-chain endpoint string is malformed.
	#[error("invalid directory endpoint {input:?}: {reason} (expected `registry=HOST:PORT,uptime=HOST:PORT`)")]
	InvalidEndpoint {
		/// What was given.
		input: String,
		/// Why it is invalid.
		reason: String,
	},
	/// A `host:port` address is malformed.
	#[error("invalid address {input:?}: {reason} (expected HOST:PORT)")]
	InvalidAddress {
		/// What was given.
		input: String,
		/// Why it is invalid.
		reason: String,
	},
	/// A result reference (`<repository>@sha256:<hex>`) is malformed.
	#[error(
		"invalid blob reference {input:?}: {reason} (expected `<repository>@sha256:<64 hex>`)"
	)]
	InvalidBlobRef {
		/// What was given.
		input: String,
		/// Why it is invalid.
		reason: String,
	},
	/// A content digest is malformed.
	#[error("invalid digest {input:?}: {reason} (expected `sha256:<64 lowercase hex>`)")]
	InvalidDigest {
		/// What was given.
		input: String,
		/// Why it is invalid.
		reason: String,
	},
	/// A repository name or tag does not follow the OCI distribution grammar.
	#[error("invalid repository or tag {input:?}: {reason}")]
	InvalidRepository {
		/// What was given.
		input: String,
		/// Why it is invalid.
		reason: String,
	},
	/// The registry binary is not installed.
	#[error("registry binary {path} not found: run scripts/setup.sh (it installs Debian's docker-registry) or set MODICUM_REGISTRY_BIN")]
	RegistryBinaryMissing {
		/// Where it was looked for.
		path: String,
	},
	/// A port this directory must listen on is taken.
	#[error("port {port} is already in use ({addr}); is another registry or directory daemon still running?")]
	PortBusy {
		/// The port.
		port: u16,
		/// The full address.
		addr: SocketAddr,
	},
	/// Listening on an address failed for another reason than a busy port.
	#[error("cannot listen on {addr}: {reason}")]
	Bind {
		/// The address.
		addr: SocketAddr,
		/// Why.
		reason: String,
	},
	/// A file of the directory's data directory could not be read or written.
	#[error("{path}: {source}")]
	Io {
		/// The file or directory.
		path: PathBuf,
		/// Why.
		source: std::io::Error,
	},
	/// The registry process could not be started.
	#[error("cannot start the registry {path}: {source}")]
	RegistrySpawn {
		/// The binary.
		path: String,
		/// Why.
		source: std::io::Error,
	},
	/// The registry process exited while starting.
	#[error("the registry exited while starting ({status}); end of its log:\n{log_tail}")]
	RegistryExited {
		/// Its exit status.
		status: String,
		/// The last lines of its log file.
		log_tail: String,
	},
	/// The registry did not answer `GET /v2/` in time.
	#[error("the registry on {addr} did not answer GET /v2/ within {waited_secs} s; end of its log:\n{log_tail}")]
	RegistryTimeout {
		/// Where it should listen.
		addr: SocketAddr,
		/// How long we waited.
		waited_secs: u64,
		/// The last lines of its log file.
		log_tail: String,
	},
	/// The uptime record could not be loaded or saved.
	#[error(transparent)]
	State(#[from] crate::state::StateError),
	/// A directory could not be reached (connection refused, timeout, reset…).
	#[error("directory unreachable at {url}: {reason}")]
	Unreachable {
		/// The request.
		url: String,
		/// Why.
		reason: String,
	},
	/// The directory does not hold the requested blob.
	#[error("blob {digest} not found in repository {repository}")]
	BlobNotFound {
		/// The repository asked.
		repository: String,
		/// The digest asked.
		digest: String,
	},
	/// Content does not hash to the digest it was stored or requested under.
	#[error("digest mismatch: expected {expected}, got content hashing to {actual}")]
	DigestMismatch {
		/// The digest asked for.
		expected: String,
		/// The digest of what was received.
		actual: String,
	},
	/// The directory answered with a status we did not expect.
	#[error("{method} {url} answered HTTP {status}: {body}")]
	UnexpectedStatus {
		/// The HTTP method.
		method: &'static str,
		/// The request.
		url: String,
		/// The status code.
		status: u16,
		/// The start of the response body.
		body: String,
	},
	/// A download passed the most its reader will take.
	#[error("{url} is larger than the {max_bytes} bytes allowed")]
	TooLarge {
		/// The request.
		url: String,
		/// The cap.
		max_bytes: u64,
	},
	/// The directory's answer could not be understood.
	#[error("bad answer from {url}: {reason}")]
	BadResponse {
		/// The request.
		url: String,
		/// What was wrong.
		reason: String,
	},
	/// The local Docker image to push does not exist.
	#[error("local image {image} not found (build or pull it first)")]
	ImageNotFound {
		/// The image.
		image: String,
	},
	/// A Docker Engine call failed.
	#[error("docker {action} failed: {source}")]
	Docker {
		/// What we asked Docker to do.
		action: String,
		/// Why it failed.
		source: bollard::errors::Error,
	},
	/// Docker reported an error while pushing.
	#[error("pushing {image} failed: {message}")]
	PushFailed {
		/// The image being pushed.
		image: String,
		/// Docker's message.
		message: String,
	},
	/// Docker gave no manifest digest for a push.
	#[error("pushed {image} but found no manifest digest for it (neither in the push output nor in its RepoDigests)")]
	NoPushDigest {
		/// The pushed image.
		image: String,
	},
	/// A local image has no layers to take the base-layer hash from.
	#[error("image {image} has no valid first layer: {reason}")]
	NoBaseLayer {
		/// The image.
		image: String,
		/// What was wrong.
		reason: String,
	},
	/// A background task failed (panicked or was cancelled).
	#[error("internal task failed: {0}")]
	Task(String),
}

/// Where a directory daemon keeps its files and listens, and what it enforces.
#[derive(Clone)]
pub struct DirectoryConfig {
	/// Holds `config.yml`, `registry.log`, `storage/` and `uptime.json`.
	pub data_dir: PathBuf,
	/// Where the registry's gate listens: the public registry address.
	pub registry_addr: SocketAddr,
	/// Where the uptime server listens.
	pub uptime_addr: SocketAddr,
	/// The registry as the directory's endpoint names it on chain (`host:port`): what
	/// writers sign their credentials for.
	pub registry_name: String,
	/// Most bytes the registry may store; writes are refused past it.
	pub quota_bytes: u64,
	/// The directory's own key, with which its uptime probe writes.
	pub signer: modicum_client::Keypair,
	/// Which other accounts may write (`None`: any valid credential); the directory's
	/// own account always may.
	pub writers: Option<WriterCheck>,
}

impl std::fmt::Debug for DirectoryConfig {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		// Never the key.
		f.debug_struct("DirectoryConfig")
			.field("data_dir", &self.data_dir)
			.field("registry_addr", &self.registry_addr)
			.field("uptime_addr", &self.uptime_addr)
			.field("registry_name", &self.registry_name)
			.field("quota_bytes", &self.quota_bytes)
			.finish_non_exhaustive()
	}
}

/// How often the daemon probes its registry.
const PROBE_PERIOD: Duration = Duration::from_secs(1);
/// How long the daemon waits before restarting a registry that died.
const RESTART_BACKOFF: Duration = Duration::from_secs(10);

/// Runs a directory until `shutdown` completes: the registry on a private loopback
/// port, its gate on the public one ([`gate`]: anyone reads, only credentialed writers
/// write, nobody deletes, within a quota), the once-a-second probe that stores and
/// reads back a blob through the gate and feeds the uptime record, and the uptime
/// server. Registering the endpoint on chain is the caller's business.
pub async fn serve(
	config: DirectoryConfig,
	shutdown: impl Future<Output = ()>,
) -> Result<(), DirectoryError> {
	std::fs::create_dir_all(&config.data_dir)
		.map_err(|source| DirectoryError::Io { path: config.data_dir.clone(), source })?;
	let record = Arc::new(Mutex::new(UptimeRecord::open(&config.data_dir.join("uptime.json"))?));
	// The uptime server and the gate first: they bind synchronously, so a busy port
	// fails fast.
	let server = serve_uptime(config.uptime_addr, record.clone())?;
	let private = private_addr()?;
	let me = modicum_client::keys::account_of(&config.signer);
	let writers: Option<WriterCheck> = config.writers.clone().map(|others| -> WriterCheck {
		std::sync::Arc::new(move |who: &modicum_client::AccountId| *who == me || others(who))
	});
	let policy = GatePolicy {
		registry_name: config.registry_name.clone(),
		storage_dir: config.data_dir.join("storage"),
		quota_bytes: config.quota_bytes,
		writers,
	};
	let gate = serve_gate(config.registry_addr, private, policy)?;
	let registry = start_registry(config.data_dir.clone(), private).await?;
	tracing::info!(
		registry = %config.registry_addr,
		uptime = %server.local_addr(),
		data_dir = %config.data_dir.display(),
		quota = config.quota_bytes,
		"directory serving"
	);
	// Dropping the loop on shutdown drops the registry, whose Drop kills the process.
	let result = tokio::select! {
		() = shutdown => Ok(()),
		result = probe_loop(config, gate.local_addr(), registry, record) => result,
	};
	gate.shutdown();
	server.shutdown();
	tracing::info!("directory stopped");
	result
}

/// A loopback address whose port is free now, for the registry behind the gate.
fn private_addr() -> Result<SocketAddr, DirectoryError> {
	let any: SocketAddr = (std::net::Ipv4Addr::LOCALHOST, 0).into();
	let listener = registry::bind(any)?;
	listener.local_addr().map_err(|e| DirectoryError::Bind { addr: any, reason: e.to_string() })
}

async fn start_registry(
	data_dir: PathBuf,
	addr: SocketAddr,
) -> Result<RegistryProcess, DirectoryError> {
	tokio::task::spawn_blocking(move || RegistryProcess::start(&data_dir, addr))
		.await
		.map_err(|e| DirectoryError::Task(e.to_string()))?
}

/// Probes the registry through its gate every [`PROBE_PERIOD`] (a blob stored and
/// read back) and restarts the registry if it dies. Only returns on an internal
/// failure; the caller stops it by dropping it.
async fn probe_loop(
	config: DirectoryConfig,
	gate: SocketAddr,
	mut registry: RegistryProcess,
	record: Arc<Mutex<UptimeRecord>>,
) -> Result<(), DirectoryError> {
	let target = loopback(gate);
	let private = registry.addr();
	let mut ticks = tokio::time::interval(PROBE_PERIOD);
	ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	let mut was_up = true;
	let mut next_restart = Instant::now();
	loop {
		ticks.tick().await;
		let probe_target = target.clone();
		let credential = WriteCredential::new(&config.signer, &config.registry_name);
		let up =
			tokio::task::spawn_blocking(move || probe_store_and_read(&probe_target, &credential))
				.await
				.map_err(|e| DirectoryError::Task(e.to_string()))?;
		let at = now_ms();
		if let Err(e) = lock(&record).record_probe(at, up) {
			// Keep serving: the in-memory record still answers queries.
			tracing::warn!(error = %e, "cannot persist the uptime record");
		}
		if up != was_up {
			if up {
				tracing::info!(registry = %target, "registry available again");
			} else {
				tracing::warn!(registry = %target, "registry unavailable");
			}
			was_up = up;
		}
		if !up && registry.has_exited() && Instant::now() >= next_restart {
			tracing::warn!(log = %registry.log_tail(), "registry process exited; restarting it");
			next_restart = Instant::now() + RESTART_BACKOFF;
			match start_registry(config.data_dir.clone(), private).await {
				Ok(restarted) => registry = restarted,
				Err(e) => tracing::error!(error = %e, "cannot restart the registry"),
			}
		}
	}
}

/// `addr` with a wildcard IP replaced by loopback, as `host:port`.
fn loopback(mut addr: SocketAddr) -> String {
	if addr.ip().is_unspecified() {
		addr.set_ip(match addr {
			SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
			SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
		});
	}
	addr.to_string()
}

/// Milliseconds since the Unix epoch, the unit of the chain's timestamps.
fn now_ms() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Locks the record even if a thread panicked while holding it: the record's
/// invariants hold between method calls, so its data is still usable.
fn lock(record: &Mutex<UptimeRecord>) -> std::sync::MutexGuard<'_, UptimeRecord> {
	record.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An HTTP agent for talking to directories (plain HTTP; no proxies).
fn agent(read_timeout: Duration) -> ureq::Agent {
	ureq::AgentBuilder::new()
		.timeout_connect(Duration::from_secs(5))
		.timeout_read(read_timeout)
		.timeout_write(Duration::from_secs(60))
		.build()
}

/// Turns a ureq failure into a [`DirectoryError`]: a status the caller did not handle
/// becomes [`DirectoryError::UnexpectedStatus`], anything else means unreachable.
fn http_error(method: &'static str, url: &str, error: ureq::Error) -> DirectoryError {
	match error {
		ureq::Error::Status(status, response) => DirectoryError::UnexpectedStatus {
			method,
			url: url.to_string(),
			status,
			body: body_excerpt(response),
		},
		ureq::Error::Transport(transport) => {
			DirectoryError::Unreachable { url: url.to_string(), reason: transport.to_string() }
		},
	}
}

/// The first few hundred bytes of a response body, for error messages.
fn body_excerpt(response: ureq::Response) -> String {
	use std::io::Read;
	let mut bytes = Vec::new();
	let _ = response.into_reader().take(300).read_to_end(&mut bytes);
	String::from_utf8_lossy(&bytes).trim().to_string()
}

/// Helpers for tests that need a real registry.
#[cfg(test)]
pub(crate) mod testing {
	use super::{registry::DEFAULT_REGISTRY_BIN, RegistryProcess, REGISTRY_BIN_ENV};
	use std::net::{SocketAddr, TcpListener};

	/// Whether tests must fail, not skip, when Docker or the registry is missing.
	pub(crate) fn require_docker() -> bool {
		std::env::var("MODICUM_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
	}

	/// Whether the registry binary is installed; if not, prints why the test is
	/// skipped, or fails under `MODICUM_REQUIRE_DOCKER=1`.
	pub(crate) fn registry_installed() -> bool {
		let bin = std::env::var(REGISTRY_BIN_ENV).unwrap_or_else(|_| DEFAULT_REGISTRY_BIN.into());
		if !bin.contains('/') || std::path::Path::new(&bin).exists() {
			return true;
		}
		assert!(!require_docker(), "MODICUM_REQUIRE_DOCKER=1 but {bin} is missing");
		eprintln!("skipping: {bin} is missing (run scripts/setup.sh)");
		false
	}

	/// A write credential of //Alice for `registry` (a bare test registry ignores it; a
	/// gate checks it).
	pub(crate) fn writer(registry: &str) -> super::WriteCredential {
		let alice = modicum_client::keys::from_uri("//Alice").expect("a dev key");
		super::WriteCredential::new(&alice, registry)
	}

	/// A loopback address with a port free right now.
	pub(crate) fn free_addr() -> SocketAddr {
		let listener = TcpListener::bind("127.0.0.1:0").unwrap();
		listener.local_addr().unwrap()
	}

	/// A registry on a free port with its data in a fresh temporary directory, or
	/// `None` if the binary is missing (see [`registry_installed`]).
	pub(crate) fn start_test_registry() -> Option<(tempfile::TempDir, RegistryProcess)> {
		if !registry_installed() {
			return None;
		}
		let dir = tempfile::tempdir().unwrap();
		let registry = RegistryProcess::start(dir.path(), free_addr()).unwrap();
		Some((dir, registry))
	}
}

#[cfg(test)]
mod tests {
	use super::{testing::*, *};

	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn serves_until_shutdown() {
		if !registry_installed() {
			return;
		}
		let dir = tempfile::tempdir().unwrap();
		let registry_addr = free_addr();
		let config = DirectoryConfig {
			data_dir: dir.path().join("directory"),
			registry_addr,
			uptime_addr: free_addr(),
			registry_name: registry_addr.to_string(),
			quota_bytes: 1 << 30,
			signer: modicum_client::keys::from_uri("//Dave").unwrap(),
			writers: None,
		};
		let endpoint = DirectoryEndpoint::new(
			config.registry_addr.to_string(),
			config.uptime_addr.to_string(),
		)
		.unwrap();
		let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
		let daemon = tokio::spawn(serve(config.clone(), async move {
			let _ = stopped.await;
		}));

		// Wait for the first successful probe.
		let health_url = format!("http://{}/health", endpoint.uptime);
		let deadline = Instant::now() + Duration::from_secs(30);
		loop {
			let url = health_url.clone();
			let health = tokio::task::spawn_blocking(move || {
				agent(Duration::from_secs(2)).get(&url).call().ok()?.into_string().ok()
			})
			.await
			.unwrap();
			if health.is_some_and(|h| h.contains("\"registry_up\":true")) {
				break;
			}
			assert!(Instant::now() < deadline, "the directory never reported its registry up");
			tokio::time::sleep(Duration::from_millis(200)).await;
		}

		let from = now_ms();
		tokio::time::sleep(Duration::from_millis(2_500)).await;
		let to = now_ms();
		let (report, digest) = tokio::task::spawn_blocking({
			let endpoint = endpoint.clone();
			move || {
				let report = query_uptime(&endpoint, from, to).unwrap();
				let digest = upload_blob(
					&endpoint.registry,
					"results/r",
					b"result",
					&crate::directory::testing::writer(&endpoint.registry),
				)
				.unwrap();
				(report, digest)
			}
		})
		.await
		.unwrap();
		assert!(report.fully_available, "{report:?}");
		assert_eq!(report.available_ms, to - from);
		assert_eq!(digest, sha256_digest(b"result"));

		// Let a probe or two land after `to`, so the saved record covers the span.
		tokio::time::sleep(Duration::from_millis(2_000)).await;
		stop.send(()).unwrap();
		daemon.await.unwrap().unwrap();
		// Both servers are gone and the history is on disk.
		assert!(!probe_registry(&endpoint.registry));
		assert!(matches!(
			query_uptime(&endpoint, from, to),
			Err(DirectoryError::Unreachable { .. })
		));
		let record = UptimeRecord::open(&config.data_dir.join("uptime.json")).unwrap();
		assert_eq!(record.intervals().len(), 1);
		assert!(record.availability(from, to).fully_available);
	}
}
