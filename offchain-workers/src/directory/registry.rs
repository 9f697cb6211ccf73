//! The directory's OCI registry: Debian's `docker-registry` (CNCF distribution 2.8)
//! run as a child process with a generated configuration, killed when dropped. Its pid
//! is kept in `<data_dir>/registry.pid`, so a registry left running by a directory that
//! was killed outright (no chance to stop its child) is stopped by the next start.

use super::DirectoryError;
use nix::{sys::signal, unistd::Pid};
use std::{
	io::{Read, Seek, SeekFrom},
	net::{SocketAddr, TcpListener},
	os::unix::ffi::OsStrExt,
	path::{Path, PathBuf},
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};

/// The environment variable that overrides the registry binary's path.
pub const REGISTRY_BIN_ENV: &str = "MODICUM_REGISTRY_BIN";
/// Where `scripts/setup.sh` (Debian's `docker-registry` package) installs it.
pub(crate) const DEFAULT_REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// How long a fresh registry may take to answer `GET /v2/` (generous: the machine
/// may be busy building).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one availability probe may take before it counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How many log lines a startup error quotes.
const LOG_TAIL_LINES: usize = 20;
/// The file in the data directory that names the running registry's process.
const PID_FILE: &str = "registry.pid";
/// How long a left-over registry may take to go away once killed.
const LEFTOVER_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running registry; dropping it kills the process.
pub struct RegistryProcess {
	child: Child,
	addr: SocketAddr,
	data_dir: PathBuf,
}

impl RegistryProcess {
	/// Writes `<data_dir>/config.yml` (filesystem storage in `<data_dir>/storage`,
	/// deletes disabled, no auth of its own — the directory's gate stands in front of
	/// it — listening on `addr`), starts the registry with its
	/// output in `<data_dir>/registry.log`, and waits until `GET /v2/` answers 200.
	/// Refuses a busy port rather than sharing it with whatever holds it.
	/// The binary is `$MODICUM_REGISTRY_BIN`, or `/usr/bin/docker-registry`.
	pub fn start(data_dir: &Path, addr: SocketAddr) -> Result<Self, DirectoryError> {
		let bin = std::env::var(REGISTRY_BIN_ENV).unwrap_or_else(|_| DEFAULT_REGISTRY_BIN.into());
		Self::start_with_binary(&bin, data_dir, addr)
	}

	/// [`RegistryProcess::start`] with an explicit binary (a path, or a name looked
	/// up in `PATH`).
	pub fn start_with_binary(
		bin: &str,
		data_dir: &Path,
		addr: SocketAddr,
	) -> Result<Self, DirectoryError> {
		let bin = bin.to_string();
		if bin.contains('/') && !Path::new(&bin).exists() {
			return Err(DirectoryError::RegistryBinaryMissing { path: bin });
		}
		if addr.port() == 0 {
			// Clients and the on-chain endpoint need to know the port in advance.
			return Err(DirectoryError::Bind {
				addr,
				reason: "the registry needs a fixed port".into(),
			});
		}
		let io = |path: &Path| {
			let path = path.to_path_buf();
			move |source| DirectoryError::Io { path, source }
		};
		std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
		// Absolute, so a left-over registry's command line names it however we were run.
		let data_dir = &data_dir.canonicalize().map_err(io(data_dir))?;
		let storage = data_dir.join("storage");
		std::fs::create_dir_all(&storage).map_err(io(&storage))?;
		let config_path = data_dir.join("config.yml");
		stop_leftover(data_dir, &config_path, addr);
		ensure_port_free(addr)?;
		std::fs::write(&config_path, config_yaml(&storage, addr)?).map_err(io(&config_path))?;
		let log_path = data_dir.join("registry.log");
		let log = std::fs::File::create(&log_path).map_err(io(&log_path))?;
		let log_err = log.try_clone().map_err(io(&log_path))?;
		let child = Command::new(&bin)
			.arg("serve")
			.arg(&config_path)
			.stdin(Stdio::null())
			.stdout(log)
			.stderr(log_err)
			.spawn()
			.map_err(|source| match source.kind() {
				std::io::ErrorKind::NotFound => {
					DirectoryError::RegistryBinaryMissing { path: bin.clone() }
				},
				_ => DirectoryError::RegistrySpawn { path: bin.clone(), source },
			})?;
		// From here on, an early return drops `registry` and so kills the child.
		let mut registry = RegistryProcess { child, addr, data_dir: data_dir.to_path_buf() };
		let pid_path = data_dir.join(PID_FILE);
		std::fs::write(&pid_path, registry.child.id().to_string()).map_err(io(&pid_path))?;
		registry.wait_ready()?;
		tracing::info!(%addr, %bin, "registry started");
		Ok(registry)
	}

	fn wait_ready(&mut self) -> Result<(), DirectoryError> {
		let started = Instant::now();
		let target = self.host_port();
		loop {
			if let Ok(Some(status)) = self.child.try_wait() {
				return Err(DirectoryError::RegistryExited {
					status: status.to_string(),
					log_tail: self.log_tail(),
				});
			}
			if probe_registry(&target) {
				return Ok(());
			}
			if started.elapsed() > START_TIMEOUT {
				return Err(DirectoryError::RegistryTimeout {
					addr: self.addr,
					waited_secs: START_TIMEOUT.as_secs(),
					log_tail: self.log_tail(),
				});
			}
			std::thread::sleep(Duration::from_millis(100));
		}
	}

	/// The address the registry listens on.
	pub fn addr(&self) -> SocketAddr {
		self.addr
	}

	/// The `host:port` a local client should use: the listening address, with a
	/// wildcard IP replaced by loopback.
	pub fn host_port(&self) -> String {
		let mut addr = self.addr;
		if addr.ip().is_unspecified() {
			addr.set_ip(match addr {
				SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
				SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
			});
		}
		addr.to_string()
	}

	/// The registry's log file.
	pub fn log_path(&self) -> PathBuf {
		self.data_dir.join("registry.log")
	}

	/// Whether the process has exited (crashed or was killed from outside).
	pub fn has_exited(&mut self) -> bool {
		!matches!(self.child.try_wait(), Ok(None))
	}

	/// The last lines of its log file, for error messages.
	pub fn log_tail(&self) -> String {
		let Ok(mut file) = std::fs::File::open(self.log_path()) else {
			return "(no log)".into();
		};
		// Only the end matters; a registry that ran long may have logged a lot.
		let len = file.metadata().map(|m| m.len()).unwrap_or(0);
		let _ = file.seek(SeekFrom::Start(len.saturating_sub(8192)));
		let mut bytes = Vec::new();
		let _ = file.read_to_end(&mut bytes);
		let text = String::from_utf8_lossy(&bytes);
		let lines: Vec<&str> = text.lines().collect();
		let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
		if tail.trim().is_empty() {
			"(log empty)".into()
		} else {
			tail
		}
	}
}

impl Drop for RegistryProcess {
	fn drop(&mut self) {
		// Ignore errors: the process may already be gone.
		let _ = self.child.kill();
		let _ = self.child.wait();
		let _ = std::fs::remove_file(self.data_dir.join(PID_FILE));
	}
}

/// Stops the registry an earlier start in `data_dir` left running, if any: the pid
/// file names it, and only a process whose command line still names this data
/// directory's `config_path` is killed (the pid may since belong to someone else).
fn stop_leftover(data_dir: &Path, config_path: &Path, addr: SocketAddr) {
	let pid_path = data_dir.join(PID_FILE);
	let Ok(text) = std::fs::read_to_string(&pid_path) else { return };
	let _ = std::fs::remove_file(&pid_path);
	let Ok(pid) = text.trim().parse::<i32>() else { return };
	// A process that exited (or a zombie) has an empty command line.
	let names_our_config = || {
		std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
			cmdline.split(|&b| b == 0).any(|arg| arg == config_path.as_os_str().as_bytes())
		})
	};
	if !names_our_config() {
		return;
	}
	tracing::warn!(pid, "stopping the registry an earlier run of this directory left running");
	let _ = signal::kill(Pid::from_raw(pid), signal::Signal::SIGKILL);
	let started = Instant::now();
	while names_our_config() && started.elapsed() < LEFTOVER_EXIT_TIMEOUT {
		std::thread::sleep(Duration::from_millis(50));
	}
	// A dying process drops its memory (and so its command line) before its sockets:
	// wait for the port too, or the restart races the old listener.
	while ensure_port_free(addr).is_err() && started.elapsed() < LEFTOVER_EXIT_TIMEOUT {
		std::thread::sleep(Duration::from_millis(50));
	}
}

/// Whether the registry at `registry` (`host:port`) answers `GET /v2/` within a second
/// and a half: 200, or 401 with a challenge (a directory's gate asks for a token).
pub fn probe_registry(registry: &str) -> bool {
	let url = format!("http://{registry}/v2/");
	let agent = ureq::AgentBuilder::new().timeout(PROBE_TIMEOUT).build();
	match agent.get(&url).call() {
		Ok(response) => response.status() == 200,
		Err(ureq::Error::Status(401, response)) => response.header("WWW-Authenticate").is_some(),
		Err(_) => false,
	}
}

/// Fails with [`DirectoryError::PortBusy`] if something listens on `addr` already.
pub(crate) fn ensure_port_free(addr: SocketAddr) -> Result<(), DirectoryError> {
	bind(addr).map(drop)
}

/// Binds a listener, naming the port if it is busy.
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, DirectoryError> {
	TcpListener::bind(addr).map_err(|e| match e.kind() {
		std::io::ErrorKind::AddrInUse => DirectoryError::PortBusy { port: addr.port(), addr },
		_ => DirectoryError::Bind { addr, reason: e.to_string() },
	})
}

/// The registry's configuration. Paths are quoted as JSON strings, which YAML reads
/// as double-quoted scalars, so any UTF-8 path is safe.
fn config_yaml(storage: &Path, addr: SocketAddr) -> Result<String, DirectoryError> {
	let storage = storage.to_str().ok_or_else(|| DirectoryError::Io {
		path: storage.to_path_buf(),
		source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
	})?;
	let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
	// The access log is off: the once-a-second probe would fill it. Relative URLs: the
	// upload locations it hands out must lead back through the gate, whatever host the
	// gate forwarded the request with.
	Ok(format!(
		"version: 0.1\n\
		 log:\n  level: warn\n  accesslog:\n    disabled: true\n\
		 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: false\n\
		 http:\n  addr: {}\n  relativeurls: true\n",
		quote(storage),
		quote(&addr.to_string()),
	))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn config_quotes_paths() {
		let yaml =
			config_yaml(Path::new("/tmp/a \"b\"/storage"), "127.0.0.1:5000".parse().unwrap())
				.unwrap();
		assert!(yaml.contains("rootdirectory: \"/tmp/a \\\"b\\\"/storage\"\n"), "{yaml}");
		assert!(yaml.contains("  addr: \"127.0.0.1:5000\"\n  relativeurls: true\n"), "{yaml}");
		assert!(yaml.starts_with("version: 0.1\nlog:\n  level: warn\n"), "{yaml}");
		assert!(yaml.contains("  delete:\n    enabled: false\n"), "{yaml}");
	}

	#[test]
	fn stops_the_registry_a_killed_directory_left_running() {
		if !crate::directory::testing::registry_installed() {
			return;
		}
		let dir = tempfile::tempdir().unwrap();
		let addr = crate::directory::testing::free_addr();
		let first = RegistryProcess::start(dir.path(), addr).unwrap();
		let leftover = first.child.id();
		// As if the directory was SIGKILLed: its child is never stopped.
		std::mem::forget(first);
		let second = RegistryProcess::start(dir.path(), addr).unwrap();
		assert_ne!(second.child.id(), leftover);
		assert!(probe_registry(&second.host_port()));
		let leftover_cmdline =
			std::fs::read(format!("/proc/{leftover}/cmdline")).unwrap_or_default();
		assert!(leftover_cmdline.is_empty(), "the left-over registry still runs");
	}

	#[test]
	fn refuses_a_busy_port() {
		let holder = TcpListener::bind("127.0.0.1:0").unwrap();
		let addr = holder.local_addr().unwrap();
		let dir = tempfile::tempdir().unwrap();
		// Any existing binary will do: the port is checked before anything starts.
		match RegistryProcess::start_with_binary("/bin/sh", dir.path(), addr) {
			Err(e @ DirectoryError::PortBusy { .. }) => {
				assert!(e.to_string().contains(&format!("port {}", addr.port())), "{e}");
			},
			Err(e) => panic!("unexpected error: {e}"),
			Ok(_) => panic!("started on a busy port"),
		}
	}

	#[test]
	fn a_missing_binary_points_to_setup() {
		let dir = tempfile::tempdir().unwrap();
		let addr = crate::directory::testing::free_addr();
		for bin in ["/nonexistent/docker-registry", "modicum-no-such-registry-binary"] {
			let error = RegistryProcess::start_with_binary(bin, dir.path(), addr)
				.err()
				.expect("a missing binary must not start")
				.to_string();
			assert!(error.contains("scripts/setup.sh") && error.contains(bin), "{error}");
		}
	}
}
