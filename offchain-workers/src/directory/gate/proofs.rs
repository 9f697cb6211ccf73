//! `POST /modicum/proof`: a Merkle multi-proof of some files of a stored result, and
//! where their bytes lie in its archive ([`crate::leaf_proof`]), so a reader fetches
//! just those bytes (HTTP `Range` on the blob) and checks them against the root posted
//! on chain. The body is `{"repository": …, "digest": "sha256:…", "paths": […]}`.
//! Each archive is read from the registry once and its index kept (the last
//! [`MOST_INDEXES`]).

use super::{
	forward::{error_response, json_response, Response},
	Shared,
};
use crate::{
	directory::blobs::{digest_bytes, validate_repository},
	leaf_proof::ArchiveIndex,
};
use std::{
	collections::VecDeque,
	io::Read,
	sync::{Arc, Mutex},
};

/// The endpoint's path.
pub(super) const PROOF_PATH: &str = "/modicum/proof";
/// Indexes kept.
const MOST_INDEXES: usize = 16;
/// The largest request body.
const MOST_BODY: u64 = 1 << 20;
/// Most paths one request may ask for.
const MOST_PATHS: usize = 10_000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofRequest {
	repository: String,
	digest: String,
	paths: Vec<String>,
}

/// Indexes of recently asked archives, by `repository@digest`.
#[derive(Default)]
pub(super) struct Indexes(Mutex<VecDeque<(String, Arc<ArchiveIndex>)>>);

impl Indexes {
	fn get(&self, key: &str) -> Option<Arc<ArchiveIndex>> {
		let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
		guard.iter().find(|(k, _)| k == key).map(|(_, index)| index.clone())
	}

	fn put(&self, key: String, index: Arc<ArchiveIndex>) {
		let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
		guard.retain(|(k, _)| *k != key);
		guard.push_back((key, index));
		while guard.len() > MOST_INDEXES {
			guard.pop_front();
		}
	}
}

/// Serves a proof request.
pub(super) fn serve(request: &mut tiny_http::Request, shared: &Shared) -> Response {
	if *request.method() != tiny_http::Method::Post {
		return error_response(405, "UNSUPPORTED", "POST a proof request");
	}
	let mut body = String::new();
	if request.as_reader().take(MOST_BODY + 1).read_to_string(&mut body).is_err()
		|| body.len() as u64 > MOST_BODY
	{
		return error_response(413, "SIZE_INVALID", "the request is too large");
	}
	let asked: ProofRequest = match serde_json::from_str(&body) {
		Ok(asked) => asked,
		Err(e) => return error_response(400, "UNSUPPORTED", &format!("bad proof request: {e}")),
	};
	if validate_repository(&asked.repository).is_err() || digest_bytes(&asked.digest).is_err() {
		return error_response(400, "NAME_INVALID", "bad repository or digest");
	}
	if asked.paths.is_empty() || asked.paths.len() > MOST_PATHS {
		return error_response(400, "UNSUPPORTED", "ask for 1 to 10000 paths");
	}
	let key = format!("{}@{}", asked.repository, asked.digest);
	let index = match shared.indexes.get(&key) {
		Some(index) => index,
		None => match read_index(shared, &asked.repository, &asked.digest) {
			Ok(index) => {
				let index = Arc::new(index);
				shared.indexes.put(key, index.clone());
				index
			},
			Err(response) => return response,
		},
	};
	match index.prove(&asked.paths) {
		Ok(proof) => json_response(200, serde_json::to_string(&proof).unwrap_or_default()),
		Err(e) => error_response(404, "NAME_UNKNOWN", &e.to_string()),
	}
}

/// Streams the blob from the registry behind the gate and indexes it.
fn read_index(shared: &Shared, repository: &str, digest: &str) -> Result<ArchiveIndex, Response> {
	let url = format!("http://{}/v2/{repository}/blobs/{digest}", shared.upstream);
	let answer = match shared.agent.get(&url).call() {
		Ok(answer) => answer,
		Err(ureq::Error::Status(404, _)) => {
			return Err(error_response(404, "BLOB_UNKNOWN", "no such result"))
		},
		Err(e) => {
			tracing::warn!(%url, "the registry did not give a result to index: {e}");
			return Err(error_response(502, "UNAVAILABLE", "the registry is not answering"));
		},
	};
	ArchiveIndex::read(answer.into_reader())
		.map_err(|e| error_response(422, "UNSUPPORTED", &format!("not a result archive: {e}")))
}
