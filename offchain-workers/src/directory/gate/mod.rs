//! The directory's public registry port. The registry itself listens on a private
//! loopback port; everyone talks to this gate in front of it, which:
//!
//! - takes connections through its own front door ([`front`]): a TLS handshake is
//!   refused at once (Docker tries HTTPS first), and slow or endless request heads
//!   and idle connections are closed;
//!
//! - passes reads (`GET`, `HEAD`) of registry paths (`/v2/…`) straight through, to
//!   anyone, and refuses any other request target;
//! - lets writes (`POST`, `PUT`, `PATCH`) through only with a write credential
//!   ([`super::credential`]) of an account the directory accepts as a writer (the CLI:
//!   accounts registered on chain as job creator or resource provider, and itself),
//!   given as Basic auth or as a bearer token the gate issued for one;
//! - refuses deletes, always: nobody can remove a result and then have its RP ruled
//!   `ResultNotFound` (the registry's own deletes are off too);
//! - refuses writes once the registry's storage holds its quota, and cuts off a body
//!   that would pass it;
//! - keeps the phase board ([`phases`]): what each RP says it is doing with a match;
//! - proves single files of a stored result against its root ([`proofs`]).
//!
//! Token dance, for the Docker engine: `GET /v2/` without credentials answers 401 with
//! a `Bearer` challenge naming `/modicum/token` (once the registry behind answers); the
//! engine fetches a token there (anonymously: a read token; with a write credential: a
//! write token) and sends it on. Tokens verify themselves ([`token`]), so the gate
//! keeps no table of them.

mod forward;
mod front;
mod phases;
mod proofs;
mod token;

pub use phases::{JobProgress, PhaseEntry};

use super::{credential, DirectoryError};
use forward::{error_response, header, header_of, json_response, relay, Response};
use modicum_client::AccountId;
use std::{
	net::SocketAddr,
	path::PathBuf,
	sync::{
		atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
		Arc,
	},
	thread::JoinHandle,
	time::Duration,
};
use token::{Grant, Tokens};

/// Requests served at once; past it a request gets 503 at once, so slow clients cannot
/// hold the gate (nor the uptime probe behind them).
const MAX_ACTIVE: usize = 64;
/// How often the storage in use is measured.
const MEASURE_EVERY: Duration = Duration::from_secs(5);
/// The token endpoint's path.
const TOKEN_PATH: &str = "/modicum/token";

/// Whether an account may write to the directory.
pub type WriterCheck = Arc<dyn Fn(&AccountId) -> bool + Send + Sync>;

/// What the gate enforces.
#[derive(Clone)]
pub struct GatePolicy {
	/// The registry name writers sign for: the `host:port` of the directory's endpoint.
	pub registry_name: String,
	/// The registry's storage directory, measured against the quota.
	pub storage_dir: PathBuf,
	/// Most bytes the registry may hold.
	pub quota_bytes: u64,
	/// Which signers may write; `None` lets any valid credential write.
	pub writers: Option<WriterCheck>,
}

impl std::fmt::Debug for GatePolicy {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("GatePolicy")
			.field("registry_name", &self.registry_name)
			.field("storage_dir", &self.storage_dir)
			.field("quota_bytes", &self.quota_bytes)
			.field("writers", &self.writers.as_ref().map(|_| "checked"))
			.finish()
	}
}

/// A running gate; dropping it (or [`Gate::shutdown`]) stops it.
pub struct Gate {
	server: Arc<tiny_http::Server>,
	stop: Arc<AtomicBool>,
	threads: Vec<JoinHandle<()>>,
	addr: SocketAddr,
}

impl Gate {
	/// The address it listens on.
	pub fn local_addr(&self) -> SocketAddr {
		self.addr
	}

	/// Stops accepting (requests under way finish on their own threads).
	pub fn shutdown(mut self) {
		self.stop_threads();
	}

	fn stop_threads(&mut self) {
		self.stop.store(true, Ordering::SeqCst);
		self.server.unblock();
		for thread in self.threads.drain(..) {
			let _ = thread.join();
		}
	}
}

impl Drop for Gate {
	fn drop(&mut self) {
		self.stop_threads();
	}
}

pub(super) struct Shared {
	upstream: String,
	policy: GatePolicy,
	agent: ureq::Agent,
	tokens: Tokens,
	used_bytes: AtomicU64,
	active: AtomicUsize,
	phases: phases::Board,
	indexes: proofs::Indexes,
}

/// Serves the gate on `listen` in front of the registry at `upstream`.
pub fn serve_gate(
	listen: SocketAddr,
	upstream: SocketAddr,
	policy: GatePolicy,
) -> Result<Gate, DirectoryError> {
	let public = super::registry::bind(listen)?;
	let bind_error =
		|e: &dyn std::fmt::Display| DirectoryError::Bind { addr: listen, reason: e.to_string() };
	let addr = public.local_addr().map_err(|e| bind_error(&e))?;
	// The HTTP server listens privately; the front door ([`front`]) faces the clients.
	let private = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| bind_error(&e))?;
	let backend = private.local_addr().map_err(|e| bind_error(&e))?;
	let server = tiny_http::Server::from_listener(private, None).map_err(|e| bind_error(&e))?;
	let tokens = Tokens::new().map_err(|e| DirectoryError::Task(format!("token secret: {e}")))?;
	let mut gate = Gate {
		server: Arc::new(server),
		stop: Arc::new(AtomicBool::new(false)),
		threads: Vec::new(),
		addr,
	};
	let shared = Arc::new(Shared {
		upstream: upstream.to_string(),
		used_bytes: AtomicU64::new(storage_bytes(&policy.storage_dir)),
		policy,
		// Redirects and error statuses pass through to the client as they are.
		agent: ureq::AgentBuilder::new()
			.timeout_connect(Duration::from_secs(5))
			.timeout_read(Duration::from_secs(60))
			.redirects(0)
			.build(),
		tokens,
		active: AtomicUsize::new(0),
		phases: phases::Board::default(),
		indexes: proofs::Indexes::default(),
	});
	// From here on, an early return drops `gate`, which stops what was started.
	let (server, stop, accepting) = (gate.server.clone(), gate.stop.clone(), shared.clone());
	gate.threads.push(spawn("registry-gate", move || accept(&server, &stop, &accepting))?);
	let (stop, measuring) = (gate.stop.clone(), shared);
	gate.threads.push(spawn("registry-gate-measure", move || measure(&stop, &measuring))?);
	let stop = gate.stop.clone();
	gate.threads
		.push(spawn("registry-gate-front", move || front::accept(&public, backend, &stop))?);
	Ok(gate)
}

fn spawn(
	name: &str,
	work: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, DirectoryError> {
	std::thread::Builder::new()
		.name(name.into())
		.spawn(work)
		.map_err(|e| DirectoryError::Task(format!("cannot start the registry gate: {e}")))
}

/// Takes requests and serves each on a thread of its own, at most [`MAX_ACTIVE`] at once.
fn accept(server: &tiny_http::Server, stop: &AtomicBool, shared: &Arc<Shared>) {
	while !stop.load(Ordering::SeqCst) {
		let request = match server.recv_timeout(Duration::from_millis(500)) {
			Ok(Some(request)) => request,
			Ok(None) => continue,
			Err(e) => {
				tracing::warn!(error = %e, "registry gate cannot accept a connection");
				std::thread::sleep(Duration::from_millis(100));
				continue;
			},
		};
		if shared.active.fetch_add(1, Ordering::SeqCst) >= MAX_ACTIVE {
			shared.active.fetch_sub(1, Ordering::SeqCst);
			let _ =
				request.respond(error_response(503, "TOOMANYREQUESTS", "the directory is busy"));
			continue;
		}
		let shared = shared.clone();
		let spawned =
			std::thread::Builder::new().name("registry-gate-request".into()).spawn(move || {
				handle(request, &shared);
				shared.active.fetch_sub(1, Ordering::SeqCst);
			});
		if let Err(e) = spawned {
			tracing::warn!(error = %e, "registry gate cannot start a request thread");
		}
	}
}

/// Measures the registry's storage every [`MEASURE_EVERY`], off the request path.
fn measure(stop: &AtomicBool, shared: &Shared) {
	let mut last = std::time::Instant::now();
	while !stop.load(Ordering::SeqCst) {
		std::thread::sleep(Duration::from_millis(200));
		if last.elapsed() >= MEASURE_EVERY {
			last = std::time::Instant::now();
			shared.used_bytes.store(storage_bytes(&shared.policy.storage_dir), Ordering::Relaxed);
		}
	}
}

/// A request target the gate serves: the registry API, its token endpoint, or the
/// phase board.
fn served_path(path: &str) -> bool {
	path == "/v2"
		|| path.starts_with("/v2/")
		|| path == TOKEN_PATH
		|| path.starts_with(&format!("{TOKEN_PATH}?"))
		|| path.starts_with(phases::PHASE_PATH)
		|| path == proofs::PROOF_PATH
}

fn handle(mut request: tiny_http::Request, shared: &Shared) {
	use tiny_http::Method;
	let authorization = header(&request, "Authorization");
	let path = request.url().to_string();
	let response = if !served_path(&path) {
		error_response(400, "UNSUPPORTED", "not a registry path")
	} else if path.starts_with(TOKEN_PATH) {
		issue_token(authorization.as_deref(), shared)
	} else if path.starts_with(phases::PHASE_PATH) {
		phases::serve(&mut request, authorization.as_deref(), shared)
	} else if path == proofs::PROOF_PATH {
		proofs::serve(&mut request, shared)
	} else {
		match request.method() {
			Method::Get | Method::Head if path == "/v2" || path == "/v2/" => {
				// The ping: the registry's answer, or, to a client without credentials,
				// the challenge that leads the engine to a token.
				match forward::forward(&mut request, shared, false) {
					Ok(answer) if answer.status() == 200 && authorization.is_none() => {
						challenge(&request, shared)
					},
					Ok(answer) => relay(answer),
					Err(e) => unavailable(&e),
				}
			},
			Method::Get | Method::Head => match forward::forward(&mut request, shared, false) {
				Ok(answer) => relay(answer),
				Err(e) => unavailable(&e),
			},
			Method::Delete => {
				error_response(405, "UNSUPPORTED", "this directory never deletes anything")
			},
			_ => match authorization.as_deref().and_then(|auth| shared.writer(auth)) {
				None => challenge(&request, shared),
				Some(_)
					if shared.used_bytes.load(Ordering::Relaxed) >= shared.policy.quota_bytes =>
				{
					error_response(507, "DENIED", "the directory's storage quota is reached")
				},
				Some(account) => {
					tracing::debug!(%account, method = %request.method(), path, "write");
					match forward::forward(&mut request, shared, true) {
						Ok(answer) => relay(answer),
						Err(e) => unavailable(&e),
					}
				},
			},
		}
	};
	// A client that hung up is not our problem.
	let _ = request.respond(response);
}

fn unavailable(error: &str) -> Response {
	tracing::warn!(%error, "the registry behind the gate did not answer");
	error_response(502, "UNAVAILABLE", "the registry is not answering")
}

/// 401 with a `Bearer` challenge naming the token endpoint on the host the client used.
fn challenge(request: &tiny_http::Request, shared: &Shared) -> Response {
	let host = header(request, "Host").unwrap_or_else(|| shared.policy.registry_name.clone());
	let challenge =
		format!("Bearer realm=\"http://{host}{TOKEN_PATH}\",service=\"modicum-directory\"");
	let mut response =
		error_response(401, "UNAUTHORIZED", "writing needs a directory write credential");
	let headers = [
		header_of("WWW-Authenticate", &challenge),
		header_of("Docker-Distribution-API-Version", "registry/2.0"),
	];
	for header in headers.into_iter().flatten() {
		response.add_header(header);
	}
	response
}

impl Shared {
	/// The account behind a write credential or a write token, if it may write.
	fn writer(&self, authorization: &str) -> Option<AccountId> {
		let account = match authorization.strip_prefix("Bearer ") {
			Some(token) => match self.tokens.check(token, credential::now_secs())? {
				Grant::Write(account) => account,
				Grant::Read => return None,
			},
			None => self.signer(authorization)?,
		};
		Some(account)
	}

	/// The account of a valid Basic write credential, if the policy accepts it.
	fn signer(&self, authorization: &str) -> Option<AccountId> {
		let now = credential::now_secs();
		let account =
			credential::verify_header(authorization, &self.policy.registry_name, now).ok()?;
		match &self.policy.writers {
			Some(allowed) if !allowed(&account) => {
				tracing::info!(%account, "a write credential of an account that may not write");
				None
			},
			_ => Some(account),
		}
	}
}

fn issue_token(authorization: Option<&str>, shared: &Shared) -> Response {
	let grant = match authorization {
		None => Grant::Read,
		Some(auth) => match shared.signer(auth) {
			Some(account) => Grant::Write(account),
			None => {
				return error_response(401, "UNAUTHORIZED", "the write credential is not accepted")
			},
		},
	};
	let token = shared.tokens.issue(&grant, credential::now_secs());
	let body = serde_json::json!({
		"token": token,
		"access_token": token,
		"expires_in": token::TOKEN_LIFETIME.as_secs(),
	});
	json_response(200, body.to_string())
}

/// Bytes under `dir` (apparent sizes; links not followed).
pub(super) fn storage_bytes(dir: &std::path::Path) -> u64 {
	let mut total = 0u64;
	let mut pending = vec![dir.to_path_buf()];
	while let Some(current) = pending.pop() {
		let Ok(entries) = std::fs::read_dir(&current) else { continue };
		for entry in entries.flatten() {
			let Ok(meta) = entry.path().symlink_metadata() else { continue };
			if meta.is_dir() {
				pending.push(entry.path());
			} else {
				total = total.saturating_add(meta.len());
			}
		}
	}
	total
}

#[cfg(test)]
mod tests;
