//! The directory's uptime record and the HTTP server a mediator asks it from.
//!
//! The daemon probes its registry every second. Each success extends the current
//! availability interval, if the previous probe succeeded no more than
//! [`PROBE_TOLERANCE_MS`] earlier; otherwise it opens a new interval. A failed probe
//! closes the current interval at the last success. The record persists across
//! restarts, and a fresh start always opens a new interval, so time the daemon was
//! down counts as unavailable.

use super::{agent, endpoint::DirectoryEndpoint, http_error, lock, DirectoryError};
use crate::state::StateFile;
use serde::{Deserialize, Serialize};
use std::{
	path::Path,
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc, Mutex,
	},
	thread::JoinHandle,
	time::Duration,
};

/// How far apart two successful probes may be and still count as one unbroken
/// interval; also how long after the latest success the directory counts as up.
/// Absorbs a late probe on a loaded machine without inventing outages.
pub const PROBE_TOLERANCE_MS: u64 = 2_000;

/// What is persisted: the availability intervals, sorted and disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UptimeHistory {
	/// `[from_ms, to_ms]` spans (ms since the Unix epoch) the registry answered in.
	pub intervals: Vec<(u64, u64)>,
}

impl UptimeHistory {
	/// Sorts and merges overlapping intervals, so a hand-edited file cannot break the
	/// record's invariants.
	fn normalize(&mut self) {
		for interval in &mut self.intervals {
			if interval.0 > interval.1 {
				*interval = (interval.1, interval.0);
			}
		}
		self.intervals.sort_unstable();
		let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.intervals.len());
		for (from, to) in self.intervals.drain(..) {
			match merged.last_mut() {
				Some(last) if from <= last.1 => last.1 = last.1.max(to),
				_ => merged.push((from, to)),
			}
		}
		self.intervals = merged;
	}
}

/// The directory's availability over a span, as the uptime server reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UptimeReport {
	/// Start of the span asked about (ms since the Unix epoch).
	pub from_ms: u64,
	/// End of the span asked about (ms since the Unix epoch).
	pub to_ms: u64,
	/// How much of the span the registry was available, in ms.
	pub available_ms: u64,
	/// Whether it was available over the whole span.
	pub fully_available: bool,
	/// The parts of the span it was not, as `(from_ms, to_ms)`.
	pub outages: Vec<(u64, u64)>,
}

/// The availability record, in memory and (unless built with
/// [`UptimeRecord::in_memory`]) in a JSON file rewritten atomically on each change.
pub struct UptimeRecord {
	history: UptimeHistory,
	/// Whether the latest probe of this run succeeded. Not persisted: after a
	/// restart, the next success must open a new interval.
	up: bool,
	file: Option<StateFile<UptimeHistory>>,
}

impl UptimeRecord {
	/// Loads the record at `path` (e.g. `<data_dir>/uptime.json`), or starts an empty
	/// one there.
	pub fn open(path: &Path) -> Result<Self, DirectoryError> {
		let file = StateFile::<UptimeHistory>::open(path)?;
		let mut history = file.get().clone();
		history.normalize();
		Ok(UptimeRecord { history, up: false, file: Some(file) })
	}

	/// A record that is not persisted (tests, tools).
	pub fn in_memory() -> Self {
		UptimeRecord { history: UptimeHistory::default(), up: false, file: None }
	}

	/// The recorded intervals.
	pub fn intervals(&self) -> &[(u64, u64)] {
		&self.history.intervals
	}

	/// Whether the latest probe succeeded.
	pub fn is_up(&self) -> bool {
		self.up
	}

	/// Records a probe made at `at_ms`, persisting the record if it changed. A sample
	/// older than the record's latest (the clock stepped back) is ignored.
	pub fn record_probe(&mut self, at_ms: u64, up: bool) -> Result<(), DirectoryError> {
		if !up {
			self.up = false;
			return Ok(());
		}
		match self.history.intervals.last_mut() {
			Some(last) if at_ms <= last.1 => return Ok(()),
			Some(last) if self.up && at_ms - last.1 <= PROBE_TOLERANCE_MS => last.1 = at_ms,
			_ => self.history.intervals.push((at_ms, at_ms)),
		}
		self.up = true;
		self.save()
	}

	fn save(&mut self) -> Result<(), DirectoryError> {
		if let Some(file) = &mut self.file {
			let history = self.history.clone();
			file.update(|stored| *stored = history)?;
		}
		Ok(())
	}

	/// The availability over `[from_ms, to_ms]` (swapped if given in reverse). While
	/// the latest probe succeeded, the current interval counts up to
	/// [`PROBE_TOLERANCE_MS`] past it, the time until the next probe is due.
	pub fn availability(&self, from_ms: u64, to_ms: u64) -> UptimeReport {
		let (from, to) = if from_ms <= to_ms { (from_ms, to_ms) } else { (to_ms, from_ms) };
		let last = self.history.intervals.len().wrapping_sub(1);
		let intervals = self.history.intervals.iter().enumerate().map(|(i, &(a, b))| {
			if i == last && self.up {
				(a, b.saturating_add(PROBE_TOLERANCE_MS))
			} else {
				(a, b)
			}
		});
		let mut available_ms = 0;
		let mut outages = Vec::new();
		let mut covered_to = from;
		let mut point_covered = false;
		for (a, b) in intervals {
			if b < from || a > to {
				continue;
			}
			point_covered = true;
			available_ms += b.min(to) - a.max(from);
			if a > covered_to {
				outages.push((covered_to, a));
			}
			covered_to = covered_to.max(b);
		}
		if covered_to < to {
			outages.push((covered_to, to));
		}
		// An instant (from == to) is available if some interval contains it.
		if from == to && !point_covered {
			outages.push((from, to));
		}
		UptimeReport {
			from_ms: from,
			to_ms: to,
			available_ms,
			fully_available: outages.is_empty(),
			outages,
		}
	}
}

/// A running uptime server; dropping it (or [`UptimeServer::shutdown`]) stops it.
pub struct UptimeServer {
	server: Arc<tiny_http::Server>,
	stop: Arc<AtomicBool>,
	thread: Option<JoinHandle<()>>,
	addr: std::net::SocketAddr,
}

impl UptimeServer {
	/// The address it listens on (useful when started on port 0).
	pub fn local_addr(&self) -> std::net::SocketAddr {
		self.addr
	}

	/// Stops the server and waits for its thread.
	pub fn shutdown(mut self) {
		self.stop_thread();
	}

	fn stop_thread(&mut self) {
		self.stop.store(true, Ordering::SeqCst);
		self.server.unblock();
		if let Some(thread) = self.thread.take() {
			let _ = thread.join();
		}
	}
}

impl Drop for UptimeServer {
	fn drop(&mut self) {
		self.stop_thread();
	}
}

/// Serves the record over HTTP on its own thread:
/// `GET /uptime?from=<ms>&to=<ms>` answers an [`UptimeReport`] as JSON, and
/// `GET /health` answers `{"ok":true,"registry_up":<bool>}`.
pub fn serve_uptime(
	addr: std::net::SocketAddr,
	record: Arc<Mutex<UptimeRecord>>,
) -> Result<UptimeServer, DirectoryError> {
	// Bind ourselves so a busy port gives the same error as for the registry.
	let listener = super::registry::bind(addr)?;
	let local =
		listener.local_addr().map_err(|e| DirectoryError::Bind { addr, reason: e.to_string() })?;
	let server = tiny_http::Server::from_listener(listener, None)
		.map_err(|e| DirectoryError::Bind { addr, reason: e.to_string() })?;
	let server = Arc::new(server);
	let stop = Arc::new(AtomicBool::new(false));
	let thread = {
		let (server, stop) = (server.clone(), stop.clone());
		std::thread::Builder::new()
			.name("uptime-server".into())
			.spawn(move || {
				while !stop.load(Ordering::SeqCst) {
					match server.recv_timeout(Duration::from_millis(500)) {
						Ok(Some(request)) => respond(request, &record),
						Ok(None) => {},
						Err(e) => {
							// E.g. too many open files: keep serving once it passes.
							tracing::warn!(error = %e, "uptime server cannot accept a connection");
							std::thread::sleep(Duration::from_millis(100));
						},
					}
				}
			})
			.map_err(|e| DirectoryError::Task(format!("cannot start the uptime server: {e}")))?
	};
	Ok(UptimeServer { server, stop, thread: Some(thread), addr: local })
}

fn respond(request: tiny_http::Request, record: &Mutex<UptimeRecord>) {
	let (status, body) = route(request.method(), request.url(), record);
	let mut response = tiny_http::Response::from_string(body).with_status_code(status);
	if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
		response.add_header(header);
	}
	// A client that hung up is not our problem.
	let _ = request.respond(response);
}

fn route(method: &tiny_http::Method, url: &str, record: &Mutex<UptimeRecord>) -> (u16, String) {
	let error = |message: String| serde_json::json!({ "error": message }).to_string();
	if *method != tiny_http::Method::Get {
		return (405, error(format!("{method} is not supported; use GET")));
	}
	let (path, query) = url.split_once('?').unwrap_or((url, ""));
	match path {
		"/health" => {
			let up = lock(record).is_up();
			(200, serde_json::json!({ "ok": true, "registry_up": up }).to_string())
		},
		"/uptime" => match span(query) {
			Ok((from, to)) => {
				let report = lock(record).availability(from, to);
				match serde_json::to_string(&report) {
					Ok(json) => (200, json),
					Err(e) => (500, error(e.to_string())),
				}
			},
			Err(message) => (400, error(message)),
		},
		_ => (404, error(format!("no such path {path}; try /uptime?from=<ms>&to=<ms> or /health"))),
	}
}

/// Reads `from` and `to` (ms) from a query string.
fn span(query: &str) -> Result<(u64, u64), String> {
	let (mut from, mut to) = (None, None);
	for pair in query.split('&').filter(|p| !p.is_empty()) {
		let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
		let slot = match key {
			"from" => &mut from,
			"to" => &mut to,
			_ => continue,
		};
		*slot = Some(
			value.parse::<u64>().map_err(|_| format!("{key}={value:?} is not a number of ms"))?,
		);
	}
	match (from, to) {
		(Some(from), Some(to)) if from <= to => Ok((from, to)),
		(Some(_), Some(_)) => Err("`from` is after `to`".into()),
		_ => Err("both `from` and `to` (ms since the Unix epoch) are required".into()),
	}
}

/// Asks a directory's uptime server for its availability over `[from_ms, to_ms]`.
pub fn query_uptime(
	endpoint: &DirectoryEndpoint,
	from_ms: u64,
	to_ms: u64,
) -> Result<UptimeReport, DirectoryError> {
	super::endpoint::check_host_port(&endpoint.uptime).map_err(|reason| {
		DirectoryError::InvalidAddress { input: endpoint.uptime.clone(), reason }
	})?;
	// The server refuses reversed spans; the record treats them as swapped.
	let (from_ms, to_ms) = (from_ms.min(to_ms), from_ms.max(to_ms));
	let url = format!("http://{}/uptime?from={from_ms}&to={to_ms}", endpoint.uptime);
	let response =
		agent(Duration::from_secs(10)).get(&url).call().map_err(|e| http_error("GET", &url, e))?;
	let body = response.into_string().map_err(|e| DirectoryError::Unreachable {
		url: url.clone(),
		reason: format!("reading the answer: {e}"),
	})?;
	let report: UptimeReport = serde_json::from_str(&body)
		.map_err(|e| DirectoryError::BadResponse { url: url.clone(), reason: e.to_string() })?;
	// A directory answering about another span must not be taken at its word.
	if (report.from_ms, report.to_ms) != (from_ms, to_ms) {
		return Err(DirectoryError::BadResponse {
			url,
			reason: format!(
				"answered about [{}, {}] instead of [{from_ms}, {to_ms}]",
				report.from_ms, report.to_ms
			),
		});
	}
	Ok(report)
}

#[cfg(test)]
mod tests {
	use super::*;

	/// A record with successful probes every second over `[from, to]` (inclusive).
	fn probe_every_second(record: &mut UptimeRecord, from: u64, to: u64) {
		for at in (from..=to).step_by(1000) {
			record.record_probe(at, true).unwrap();
		}
	}

	#[test]
	fn merges_probes_within_the_tolerance() {
		let mut record = UptimeRecord::in_memory();
		probe_every_second(&mut record, 10_000, 20_000);
		// A late probe (1.9 s) still extends; a 2.6 s gap opens a new interval.
		record.record_probe(21_900, true).unwrap();
		record.record_probe(24_500, true).unwrap();
		record.record_probe(25_500, true).unwrap();
		assert_eq!(record.intervals(), &[(10_000, 21_900), (24_500, 25_500)]);
		// A sample from the past (clock stepped back) changes nothing.
		record.record_probe(15_000, true).unwrap();
		assert_eq!(record.intervals(), &[(10_000, 21_900), (24_500, 25_500)]);
	}

	#[test]
	fn a_failed_probe_ends_the_interval() {
		let mut record = UptimeRecord::in_memory();
		probe_every_second(&mut record, 0, 5_000);
		record.record_probe(6_000, false).unwrap();
		// Back within the tolerance, but after a failure: a new interval.
		probe_every_second(&mut record, 7_000, 9_000);
		assert_eq!(record.intervals(), &[(0, 5_000), (7_000, 9_000)]);
		let report = record.availability(1_000, 8_000);
		assert_eq!(report.outages, vec![(5_000, 7_000)]);
		assert_eq!(report.available_ms, 5_000);
		assert!(!report.fully_available);
	}

	#[test]
	fn availability_over_spans() {
		let mut record = UptimeRecord::in_memory();
		probe_every_second(&mut record, 10_000, 20_000);
		record.record_probe(21_000, false).unwrap();
		probe_every_second(&mut record, 30_000, 40_000);
		record.record_probe(41_000, false).unwrap();

		// Wholly inside an interval.
		let inside = record.availability(12_000, 18_000);
		assert_eq!(
			inside,
			UptimeReport {
				from_ms: 12_000,
				to_ms: 18_000,
				available_ms: 6_000,
				fully_available: true,
				outages: vec![],
			}
		);
		// Exactly an interval.
		assert!(record.availability(10_000, 20_000).fully_available);
		// Across the outage, and past the end of the record.
		let across = record.availability(15_000, 45_000);
		assert_eq!(across.available_ms, 5_000 + 10_000);
		assert_eq!(across.outages, vec![(20_000, 30_000), (40_000, 45_000)]);
		assert!(!across.fully_available);
		// Before any record.
		let before = record.availability(0, 12_000);
		assert_eq!(before.outages, vec![(0, 10_000)]);
		assert_eq!(before.available_ms, 2_000);
		// Reversed bounds are swapped.
		assert_eq!(record.availability(18_000, 12_000), inside);
		// Instants.
		assert!(record.availability(15_000, 15_000).fully_available);
		assert_eq!(record.availability(25_000, 25_000).outages, vec![(25_000, 25_000)]);
	}

	#[test]
	fn the_current_interval_counts_until_the_next_probe_is_due() {
		let mut record = UptimeRecord::in_memory();
		probe_every_second(&mut record, 0, 10_000);
		// Still up: a span ending between probes is covered...
		assert!(record.availability(5_000, 10_800).fully_available);
		// ...but not beyond the tolerance.
		assert_eq!(record.availability(5_000, 13_000).outages, vec![(12_000, 13_000)]);
		// Once a probe fails, the interval ends at the last success.
		record.record_probe(11_000, false).unwrap();
		assert_eq!(record.availability(5_000, 10_800).outages, vec![(10_000, 10_800)]);
	}

	#[test]
	fn a_restart_keeps_history_and_counts_the_gap_as_down() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("uptime.json");
		let mut record = UptimeRecord::open(&path).unwrap();
		probe_every_second(&mut record, 0, 10_000);
		drop(record);
		// The daemon was down from 10 s to 11.5 s (less than the tolerance): still a gap.
		let mut record = UptimeRecord::open(&path).unwrap();
		assert_eq!(record.intervals(), &[(0, 10_000)]);
		assert!(!record.is_up());
		probe_every_second(&mut record, 11_500, 20_500);
		assert_eq!(record.intervals(), &[(0, 10_000), (11_500, 20_500)]);
		let report = record.availability(0, 20_000);
		assert_eq!(report.outages, vec![(10_000, 11_500)]);
		assert_eq!(report.available_ms, 18_500);
		// And the file holds both intervals, with no temporary file left behind.
		let reopened = UptimeRecord::open(&path).unwrap();
		assert_eq!(reopened.intervals(), &[(0, 10_000), (11_500, 20_500)]);
		let names: Vec<_> = std::fs::read_dir(dir.path())
			.unwrap()
			.map(|e| e.unwrap().file_name().into_string().unwrap())
			.collect();
		assert_eq!(names, vec!["uptime.json".to_string()]);
	}

	#[test]
	fn a_hand_edited_file_is_normalized() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("uptime.json");
		std::fs::write(&path, r#"{"intervals":[[50,60],[10,20],[15,30],[55,40]]}"#).unwrap();
		let record = UptimeRecord::open(&path).unwrap();
		assert_eq!(record.intervals(), &[(10, 30), (40, 60)]);
	}

	#[test]
	fn parses_query_spans() {
		assert_eq!(span("from=1&to=2"), Ok((1, 2)));
		assert_eq!(span("to=2&x=y&from=1"), Ok((1, 2)));
		assert!(span("from=1").unwrap_err().contains("required"));
		assert!(span("from=a&to=2").unwrap_err().contains("not a number"));
		assert!(span("from=3&to=2").unwrap_err().contains("after"));
	}

	#[test]
	fn serves_and_answers_uptime_queries() {
		let mut record = UptimeRecord::in_memory();
		probe_every_second(&mut record, 1_000, 5_000);
		record.record_probe(6_000, false).unwrap();
		let record = Arc::new(Mutex::new(record));
		let server = serve_uptime("127.0.0.1:0".parse().unwrap(), record.clone()).unwrap();
		let addr = server.local_addr().to_string();
		let endpoint = DirectoryEndpoint { registry: "127.0.0.1:1".into(), uptime: addr.clone() };

		let report = query_uptime(&endpoint, 2_000, 8_000).unwrap();
		assert_eq!(report, lock(&record).availability(2_000, 8_000));
		assert_eq!(report.outages, vec![(5_000, 8_000)]);
		assert_eq!(query_uptime(&endpoint, 8_000, 2_000).unwrap(), report);

		let health = agent(Duration::from_secs(5))
			.get(&format!("http://{addr}/health"))
			.call()
			.unwrap()
			.into_string()
			.unwrap();
		assert_eq!(health, r#"{"ok":true,"registry_up":false}"#);
		match agent(Duration::from_secs(5)).get(&format!("http://{addr}/uptime?from=1")).call() {
			Err(ureq::Error::Status(400, _)) => {},
			other => panic!("expected 400, got {other:?}"),
		}
		match agent(Duration::from_secs(5)).get(&format!("http://{addr}/nope")).call() {
			Err(ureq::Error::Status(404, _)) => {},
			other => panic!("expected 404, got {other:?}"),
		}

		// A second server on the same port is refused, naming the port.
		let busy = serve_uptime(server.local_addr(), record.clone()).err().unwrap();
		assert!(busy.to_string().contains(&format!("port {}", server.local_addr().port())));

		server.shutdown();
		match query_uptime(&endpoint, 2_000, 8_000) {
			Err(DirectoryError::Unreachable { .. }) => {},
			other => panic!("expected unreachable, got {other:?}"),
		}
	}
}
