//! Signing keys from a secret URI: a dev name (`//Alice`), a BIP-39 mnemonic with
//! optional derivation (`"word … word//hard/soft"`), a hex seed (`0x…`), or a file that
//! holds one of those.

use crate::{AccountId, ClientError};
use std::{path::Path, str::FromStr};
use subxt_signer::{sr25519::Keypair, SecretUri};

/// Parses a secret URI into an sr25519 key pair.
pub fn from_uri(uri: &str) -> Result<Keypair, ClientError> {
	let uri = uri.trim();
	if uri.is_empty() {
		return Err(ClientError::Key("empty secret URI".into()));
	}
	// Keep the secret out of error messages: say what shape was expected instead.
	let parsed = SecretUri::from_str(uri).map_err(|e| {
		ClientError::Key(format!(
			"not a secret URI ({e}); expected //Name, a mnemonic phrase or a 0x hex seed"
		))
	})?;
	Keypair::from_uri(&parsed).map_err(|e| ClientError::Key(format!("cannot derive a key: {e}")))
}

/// Reads a secret URI from a file (the first non-empty line). A file that its group or
/// other users may read or write is refused: anyone who can read it can spend from the
/// account.
pub fn from_file(path: &Path) -> Result<Keypair, ClientError> {
	use std::os::unix::fs::PermissionsExt;
	let mode = std::fs::metadata(path)
		.map_err(|e| ClientError::Key(format!("cannot read key file {}: {e}", path.display())))?
		.permissions()
		.mode();
	if mode & 0o077 != 0 {
		return Err(ClientError::Key(format!(
			"key file {} is open to other users (mode {:o}); run `chmod 600 {}`",
			path.display(),
			mode & 0o777,
			path.display()
		)));
	}
	let text = std::fs::read_to_string(path)
		.map_err(|e| ClientError::Key(format!("cannot read key file {}: {e}", path.display())))?;
	let line = text.lines().map(str::trim).find(|l| !l.is_empty()).ok_or_else(|| {
		ClientError::Key(format!("key file {} holds no secret URI", path.display()))
	})?;
	from_uri(line)
}

/// The key from `uri` if given, else from `file`; one of them is required.
pub fn resolve(uri: Option<&str>, file: Option<&Path>) -> Result<Keypair, ClientError> {
	match (uri, file) {
		(Some(uri), _) => from_uri(uri),
		(None, Some(file)) => from_file(file),
		(None, None) => Err(ClientError::Key(
			"no key given: pass --key //Alice (or a mnemonic), --key-file PATH, or set \
			 MODICUM_KEY / MODICUM_KEY_FILE"
				.into(),
		)),
	}
}

/// Whether a secret URI is one of the well-known development keys (`//Alice`, …),
/// which are no secret.
pub fn is_dev_key(uri: &str) -> bool {
	let uri = uri.trim();
	uri.starts_with("//") && !uri[2..].contains(' ')
}

/// The account a key pair signs for.
pub fn account_of(keypair: &Keypair) -> AccountId {
	keypair.public_key().to_account_id()
}

/// Parses an account given as SS58 text, 0x-prefixed hex, or a dev name (`//Bob`).
pub fn parse_account(text: &str) -> Result<AccountId, ClientError> {
	let text = text.trim();
	if text.starts_with("//") {
		return Ok(account_of(&from_uri(text)?));
	}
	if let Some(hex_part) = text.strip_prefix("0x") {
		let bytes = hex::decode(hex_part)
			.map_err(|e| ClientError::Key(format!("account {text:?} is not hex: {e}")))?;
		let bytes: [u8; 32] = bytes
			.try_into()
			.map_err(|_| ClientError::Key(format!("account {text:?} is not 32 bytes of hex")))?;
		return Ok(AccountId::from(bytes));
	}
	AccountId::from_str(text)
		.map_err(|e| ClientError::Key(format!("account {text:?} is not SS58, hex or //Name: {e}")))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn dev_uri_and_dev_account_agree() {
		let alice = from_uri("//Alice").unwrap();
		assert_eq!(account_of(&alice), parse_account("//Alice").unwrap());
		let ss58 = account_of(&alice).to_string();
		assert_eq!(parse_account(&ss58).unwrap(), account_of(&alice));
		let hex = format!("0x{}", hex::encode(account_of(&alice).0));
		assert_eq!(parse_account(&hex).unwrap(), account_of(&alice));
	}

	#[test]
	fn mnemonic_and_file() {
		let phrase = "bottom drive obey lake curtain smoke basket hold race lonely fit walk//Alice";
		let from_phrase = from_uri(phrase).unwrap();
		assert_eq!(account_of(&from_phrase), account_of(&from_uri("//Alice").unwrap()));
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("key");
		std::fs::write(&path, format!("\n{phrase}\n")).unwrap();
		use std::os::unix::fs::PermissionsExt;
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
		let error = from_file(&path).err().unwrap().to_string();
		assert!(error.contains("chmod 600") && !error.contains("bottom"), "{error}");
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
		assert_eq!(account_of(&from_file(&path).unwrap()), account_of(&from_phrase));
	}

	#[test]
	fn bad_keys_say_what_was_expected() {
		let error = resolve(None, None).unwrap_err().to_string();
		assert!(error.contains("--key"), "{error}");
		assert!(parse_account("0x1234").unwrap_err().to_string().contains("32 bytes"));
		assert!(from_file(Path::new("/nonexistent/key")).is_err());
	}
}
