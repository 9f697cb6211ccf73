//! The gate's bearer tokens, for the Docker engine: self-verifying (an HMAC over who,
//! what and until when, keyed with a secret the gate draws at start), so the gate
//! keeps no table that a flood of requests could fill.

use hmac::{Hmac, Mac};
use modicum_client::AccountId;
use sha2::Sha256;
use std::time::Duration;

/// How long a token holds.
pub(super) const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Account (32) ‖ expiry in Unix seconds (8, big-endian) ‖ write flag (1).
const PAYLOAD_BYTES: usize = 41;

/// What a token lets its bearer do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Grant {
	/// Read only (anonymous).
	Read,
	/// Write, as this account.
	Write(AccountId),
}

/// Issues and checks tokens with one secret.
pub(super) struct Tokens {
	/// Keyed with the secret; cloned for each token.
	keyed: Hmac<Sha256>,
}

impl Tokens {
	/// Tokens under a fresh random secret (tokens die with the process; the engine
	/// fetches a new one on the next 401).
	pub(super) fn new() -> std::io::Result<Self> {
		use std::io::Read;
		let mut secret = [0u8; 32];
		std::fs::File::open("/dev/urandom")?.read_exact(&mut secret)?;
		let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&secret)
			.map_err(|e| std::io::Error::other(e.to_string()))?;
		Ok(Tokens { keyed })
	}

	fn mac(&self) -> Hmac<Sha256> {
		self.keyed.clone()
	}

	/// A token for `grant`, good until `now_secs` + [`TOKEN_LIFETIME`].
	pub(super) fn issue(&self, grant: &Grant, now_secs: u64) -> String {
		let mut payload = [0u8; PAYLOAD_BYTES];
		let expires = now_secs.saturating_add(TOKEN_LIFETIME.as_secs());
		payload[32..40].copy_from_slice(&expires.to_be_bytes());
		if let Grant::Write(account) = grant {
			payload[..32].copy_from_slice(&account.0);
			payload[40] = 1;
		}
		let mut mac = self.mac();
		mac.update(&payload);
		format!("{}.{}", hex::encode(payload), hex::encode(mac.finalize().into_bytes()))
	}

	/// What `token` grants at `now_secs`, if it is one of ours and still good.
	pub(super) fn check(&self, token: &str, now_secs: u64) -> Option<Grant> {
		let (payload, tag) = token.trim().split_once('.')?;
		let payload: [u8; PAYLOAD_BYTES] = hex::decode(payload).ok()?.try_into().ok()?;
		let tag = hex::decode(tag).ok()?;
		let mut mac = self.mac();
		mac.update(&payload);
		mac.verify_slice(&tag).ok()?;
		let expires = u64::from_be_bytes(payload[32..40].try_into().ok()?);
		if now_secs > expires {
			return None;
		}
		match payload[40] {
			1 => {
				let account: [u8; 32] = payload[..32].try_into().ok()?;
				Some(Grant::Write(AccountId::from(account)))
			},
			_ => Some(Grant::Read),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tokens_verify_expire_and_cannot_be_altered() {
		let tokens = Tokens::new().unwrap();
		let alice = AccountId::from([7u8; 32]);
		let write = tokens.issue(&Grant::Write(alice), 1_000);
		assert_eq!(tokens.check(&write, 1_000), Some(Grant::Write(alice)));
		assert_eq!(tokens.check(&write, 1_000 + TOKEN_LIFETIME.as_secs() + 1), None);
		let read = tokens.issue(&Grant::Read, 1_000);
		assert_eq!(tokens.check(&read, 1_000), Some(Grant::Read));
		// Turning a read token into a write token breaks its tag.
		let forged = format!("{}01{}", &read[..80], &read[82..]);
		assert_eq!(tokens.check(&forged, 1_000), None);
		// Another gate's tokens mean nothing here.
		let other = Tokens::new().unwrap();
		assert_eq!(other.check(&write, 1_000), None);
		assert_eq!(tokens.check("garbage", 1_000), None);
	}
}
