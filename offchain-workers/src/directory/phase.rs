//! Reading and setting a match's phase on the directory's phase board (see the gate's
//! `phases` module): the RP says what it is doing, the JC's `--wait` shows it.

pub use super::gate::{JobProgress, PhaseEntry};
use super::{agent, blobs::check_registry, http_error, DirectoryError, WriteCredential};
use modicum_client::AccountId;
use std::time::Duration;

/// How long one board request may take: progress must never hold anyone up.
const BOARD_TIMEOUT: Duration = Duration::from_secs(5);

fn board_url(registry: &str, match_id: u64, account: &AccountId) -> String {
	format!("http://{registry}/modicum/phase/{match_id}/{account}")
}

/// Sets `phase` as the credential's account's phase of `match_id`.
pub fn publish_phase(
	registry: &str,
	match_id: u64,
	phase: JobProgress,
	credential: &WriteCredential,
) -> Result<(), DirectoryError> {
	check_registry(registry)?;
	let account: AccountId =
		credential.username.parse().map_err(|_| DirectoryError::BadResponse {
			url: registry.to_string(),
			reason: "the credential names no account".into(),
		})?;
	let url = board_url(registry, match_id, &account);
	agent(BOARD_TIMEOUT)
		.put(&url)
		.set("Authorization", &credential.header())
		.send_string(phase.name())
		.map_err(|e| http_error("PUT", &url, e))?;
	Ok(())
}

/// What `account` last said about `match_id`, if anything.
pub fn read_phase(
	registry: &str,
	match_id: u64,
	account: &AccountId,
) -> Result<Option<PhaseEntry>, DirectoryError> {
	check_registry(registry)?;
	let url = board_url(registry, match_id, account);
	match agent(BOARD_TIMEOUT).get(&url).call() {
		Ok(response) => {
			let text = response.into_string().map_err(|e| DirectoryError::BadResponse {
				url: url.clone(),
				reason: e.to_string(),
			})?;
			serde_json::from_str(&text)
				.map(Some)
				.map_err(|e| DirectoryError::BadResponse { url, reason: e.to_string() })
		},
		Err(ureq::Error::Status(404, _)) => Ok(None),
		Err(e) => Err(http_error("GET", &url, e)),
	}
}
