//! Who may write to a directory: a write credential is HTTP Basic auth whose user is
//! the writer's account (SS58) and whose password is `<unix seconds>.<signature>`, the
//! account's sr25519 signature over the directory's registry name and that time. The
//! directory checks it with nothing but the account's public key, and so knows which
//! account stored each image and result (it logs it); a credential is good for
//! [`CREDENTIAL_LIFETIME`] around its time and for one directory only.

use modicum_client::{keys, AccountId, Keypair};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subxt_signer::sr25519;

/// How far from the directory's clock a credential's time may be.
pub const CREDENTIAL_LIFETIME: Duration = Duration::from_secs(3600);
/// Separates these signatures from every other use of the key.
const CONTEXT: &[u8] = b"modicum-directory-write:";

/// A write credential for one directory, as HTTP Basic auth.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteCredential {
	/// The writer's account, SS58.
	pub username: String,
	/// `<unix seconds>.<hex signature>`.
	pub password: String,
}

impl std::fmt::Debug for WriteCredential {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(f, "WriteCredential({})", self.username)
	}
}

impl WriteCredential {
	/// A credential of `signer` for the directory whose registry is `registry` (the
	/// `host:port` its endpoint names on chain), made now.
	pub fn new(signer: &Keypair, registry: &str) -> Self {
		Self::at(signer, registry, now_secs())
	}

	/// A credential made at `secs` (Unix time).
	pub fn at(signer: &Keypair, registry: &str, secs: u64) -> Self {
		let signature = signer.sign(&message(registry, secs));
		WriteCredential {
			username: keys::account_of(signer).to_string(),
			password: format!("{secs}.{}", hex::encode(signature.0)),
		}
	}

	/// The `Authorization` header value.
	pub fn header(&self) -> String {
		use base64::Engine;
		let pair = format!("{}:{}", self.username, self.password);
		format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
	}
}

/// Why a credential was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
	/// No Basic auth, or not `user:password` in base64.
	#[error("no Basic credentials")]
	Missing,
	/// The user is not an account.
	#[error("the user is not an account")]
	BadAccount,
	/// The password is not `<seconds>.<128 hex digits>`.
	#[error("the password is not <unix seconds>.<signature>")]
	BadPassword,
	/// Made too long ago, or in the future.
	#[error("the credential's time is more than an hour from ours")]
	Expired,
	/// The signature is not the account's over this directory and time.
	#[error("the signature does not verify")]
	BadSignature,
}

/// Checks an `Authorization` header against `registry` (this directory's name) at
/// `now_secs`; the writing account if it holds.
pub fn verify_header(
	header: &str,
	registry: &str,
	now_secs: u64,
) -> Result<AccountId, CredentialError> {
	use base64::Engine;
	let encoded = header.strip_prefix("Basic ").ok_or(CredentialError::Missing)?;
	let decoded = base64::engine::general_purpose::STANDARD
		.decode(encoded.trim())
		.map_err(|_| CredentialError::Missing)?;
	let text = String::from_utf8(decoded).map_err(|_| CredentialError::Missing)?;
	let (user, password) = text.split_once(':').ok_or(CredentialError::Missing)?;
	// SS58 only: a `//Name` would cost a key derivation before the signature is checked.
	let account = <AccountId as std::str::FromStr>::from_str(user)
		.map_err(|_| CredentialError::BadAccount)?;
	let (secs, signature) = password.split_once('.').ok_or(CredentialError::BadPassword)?;
	let secs: u64 = secs.parse().map_err(|_| CredentialError::BadPassword)?;
	let signature: [u8; 64] = hex::decode(signature)
		.ok()
		.and_then(|bytes| bytes.try_into().ok())
		.ok_or(CredentialError::BadPassword)?;
	if secs.abs_diff(now_secs) > CREDENTIAL_LIFETIME.as_secs() {
		return Err(CredentialError::Expired);
	}
	let public = sr25519::PublicKey(account.0);
	if !sr25519::verify(&sr25519::Signature(signature), message(registry, secs), &public) {
		return Err(CredentialError::BadSignature);
	}
	Ok(account)
}

fn message(registry: &str, secs: u64) -> Vec<u8> {
	[CONTEXT, registry.as_bytes(), b":", secs.to_string().as_bytes()].concat()
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_credential_holds_for_its_directory_and_hour_only() {
		let alice = keys::from_uri("//Alice").unwrap();
		let now = 1_800_000_000;
		let credential = WriteCredential::at(&alice, "127.0.0.1:5000", now);
		let header = credential.header();
		assert_eq!(
			verify_header(&header, "127.0.0.1:5000", now + 60),
			Ok(keys::account_of(&alice))
		);
		assert_eq!(
			verify_header(&header, "10.0.0.9:5000", now),
			Err(CredentialError::BadSignature),
			"another directory"
		);
		assert_eq!(
			verify_header(&header, "127.0.0.1:5000", now + 7200),
			Err(CredentialError::Expired)
		);
		// Bob claiming Alice's signature.
		let bob = keys::account_of(&keys::from_uri("//Bob").unwrap());
		let forged = WriteCredential { username: bob.to_string(), ..credential.clone() };
		assert_eq!(
			verify_header(&forged.header(), "127.0.0.1:5000", now),
			Err(CredentialError::BadSignature)
		);
		assert_eq!(verify_header("Bearer x", "127.0.0.1:5000", now), Err(CredentialError::Missing));
		let garbage = WriteCredential { password: "soon.abc".into(), ..credential };
		assert_eq!(
			verify_header(&garbage.header(), "127.0.0.1:5000", now),
			Err(CredentialError::BadPassword)
		);
		assert!(!format!("{garbage:?}").contains("abc"), "Debug shows no password");
	}
}
