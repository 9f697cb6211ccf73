//! The phase board: where an RP says what it is doing with a match's job (pulling,
//! running, uploading) and the JC reads it, without a chain call per second.
//!
//! `PUT /modicum/phase/<match>/<account>` with the account's write credential and a
//! body of one phase name sets it; `GET` the same path answers
//! `{"phase": …, "since_ms": …}` to anyone. Only the account named in the path can
//! set its entry, so a JC that reads the entry of its match's RP (from the chain) reads
//! what that RP said. Entries are kept in memory, at most [`MOST_ENTRIES`]: progress is
//! a courtesy, never evidence.

use super::{
	forward::{error_response, json_response, Response},
	Shared,
};
use modicum_client::AccountId;
use std::{collections::BTreeMap, io::Read, sync::Mutex};

/// The board's path prefix.
pub(super) const PHASE_PATH: &str = "/modicum/phase/";
/// Entries kept; the oldest go first.
const MOST_ENTRIES: usize = 10_000;
/// The longest body a phase needs.
const MOST_BODY: usize = 64;

/// What an RP is doing with a match's job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobProgress {
	/// Fetching the job image and its inputs from the directory.
	Pulling,
	/// The job runs.
	Running,
	/// Packing and uploading the result.
	Uploading,
}

impl JobProgress {
	/// The phase's name, as the board stores it.
	pub fn name(self) -> &'static str {
		match self {
			JobProgress::Pulling => "pulling",
			JobProgress::Running => "running",
			JobProgress::Uploading => "uploading",
		}
	}

	fn parse(name: &str) -> Option<Self> {
		[JobProgress::Pulling, JobProgress::Running, JobProgress::Uploading]
			.into_iter()
			.find(|p| p.name() == name)
	}
}

/// One entry of the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PhaseEntry {
	/// The phase.
	pub phase: JobProgress,
	/// Since when (ms since the epoch, the directory's clock).
	pub since_ms: u64,
}

/// A match and the account speaking about it.
type Key = (u64, [u8; 32]);

/// The entries, by key, each with when (in set order) it was last set.
#[derive(Default)]
struct Entries {
	by_key: BTreeMap<Key, (u64, PhaseEntry)>,
	sets: u64,
}

/// The board.
#[derive(Default)]
pub(super) struct Board(Mutex<Entries>);

impl Board {
	fn set(&self, key: Key, entry: PhaseEntry) {
		let mut entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
		entries.sets += 1;
		let set = entries.sets;
		entries.by_key.insert(key, (set, entry));
		if entries.by_key.len() > MOST_ENTRIES {
			let oldest = entries.by_key.iter().min_by_key(|(_, (set, _))| *set).map(|(k, _)| *k);
			if let Some(oldest) = oldest {
				entries.by_key.remove(&oldest);
			}
		}
	}

	fn get(&self, key: &Key) -> Option<PhaseEntry> {
		let entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
		entries.by_key.get(key).map(|(_, entry)| *entry)
	}
}

/// `<match>/<account>` of a board path.
fn key_of(path: &str) -> Option<(u64, AccountId)> {
	let rest = path.strip_prefix(PHASE_PATH)?;
	let (match_id, account) = rest.split_once('/')?;
	Some((match_id.parse().ok()?, account.parse().ok()?))
}

/// Serves a board request.
pub(super) fn serve(
	request: &mut tiny_http::Request,
	authorization: Option<&str>,
	shared: &Shared,
) -> Response {
	use tiny_http::Method;
	let Some((match_id, account)) = key_of(request.url()) else {
		return error_response(404, "NAME_UNKNOWN", "expected /modicum/phase/<match>/<account>");
	};
	let key = (match_id, account.0);
	match request.method() {
		Method::Get | Method::Head => match shared.phases.get(&key) {
			Some(entry) => json_response(200, serde_json::to_string(&entry).unwrap_or_default()),
			None => error_response(404, "NAME_UNKNOWN", "no phase posted for this match"),
		},
		Method::Put => {
			let Some(writer) = authorization.and_then(|auth| shared.signer(auth)) else {
				return error_response(
					401,
					"UNAUTHORIZED",
					"setting a phase needs a write credential",
				);
			};
			if writer != account {
				return error_response(
					403,
					"DENIED",
					"only the account named in the path may set it",
				);
			}
			let mut body = String::new();
			let read = request.as_reader().take(MOST_BODY as u64 + 1).read_to_string(&mut body);
			if read.is_err() || body.len() > MOST_BODY {
				return error_response(413, "SIZE_INVALID", "a phase is one short word");
			}
			let Some(phase) = JobProgress::parse(body.trim()) else {
				return error_response(400, "UNSUPPORTED", "phase: pulling, running or uploading");
			};
			let since_ms = std::time::SystemTime::now()
				.duration_since(std::time::UNIX_EPOCH)
				.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
			let entry = PhaseEntry { phase, since_ms };
			shared.phases.set(key, entry);
			json_response(200, serde_json::to_string(&entry).unwrap_or_default())
		},
		_ => error_response(405, "UNSUPPORTED", "GET or PUT"),
	}
}
