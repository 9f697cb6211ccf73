//! Per-role configuration files (TOML). Each role's file has a `[chain]` table (which
//! node, which key) and a table of its own; command-line flags and environment
//! variables override what the file says.

use crate::ClientError;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The local dev node's WebSocket address, the default everywhere.
pub const DEFAULT_NODE_URL: &str = "ws://127.0.0.1:9944";

/// Which node to talk to and which key signs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChainSettings {
	/// The node's WebSocket RPC address (default `ws://127.0.0.1:9944`).
	pub url: Option<String>,
	/// A secret URI: `//Alice`, a mnemonic, or a 0x seed. Prefer `key_file` off devnets.
	pub key: Option<String>,
	/// A file holding the secret URI.
	pub key_file: Option<PathBuf>,
}

impl ChainSettings {
	/// Overrides with values given on the command line or in the environment.
	pub fn overridden(
		mut self,
		url: Option<String>,
		key: Option<String>,
		key_file: Option<PathBuf>,
	) -> Self {
		if url.is_some() {
			self.url = url;
		}
		// A key given on the command line replaces both forms from the file.
		if key.is_some() || key_file.is_some() {
			self.key = key;
			self.key_file = key_file;
		}
		self
	}

	/// The node address to use.
	pub fn url(&self) -> &str {
		self.url.as_deref().unwrap_or(DEFAULT_NODE_URL)
	}

	/// The signing key.
	pub fn keypair(&self) -> Result<crate::Keypair, ClientError> {
		crate::keys::resolve(self.key.as_deref(), self.key_file.as_deref())
	}
}

/// Reads a TOML file into `T`; without a path, `T`'s defaults.
pub fn load<T: DeserializeOwned + Default>(path: Option<&Path>) -> Result<T, ClientError> {
	let Some(path) = path else { return Ok(T::default()) };
	let error = |reason: String| ClientError::Config { path: path.display().to_string(), reason };
	let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
	toml::from_str(&text).map_err(|e| error(parse_error_without_secrets(&text, &e)))
}

/// A TOML error as "line L, column C: message", never quoting the file (its `key` line
/// holds a secret), and with the quoted value of any `key = …` line blanked out of the
/// message too (serde's messages can quote a value of the wrong type).
pub fn parse_error_without_secrets(text: &str, error: &toml::de::Error) -> String {
	let mut message = error.message().to_string();
	for line in text.lines() {
		let Some((name, value)) = line.split_once('=') else { continue };
		let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
		if name.trim() == "key" && !value.is_empty() {
			message = message.replace(value, "<secret>");
		}
	}
	match error.span() {
		Some(span) => {
			let before = &text[..span.start.min(text.len())];
			let line = before.matches('\n').count() + 1;
			let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
			format!("line {line}, column {column}: {message}")
		},
		None => message,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[derive(Debug, Default, Deserialize)]
	#[serde(deny_unknown_fields)]
	struct Example {
		#[serde(default)]
		chain: ChainSettings,
		role: Option<Role>,
	}

	#[derive(Debug, Deserialize)]
	struct Role {
		price: u64,
	}

	#[test]
	fn file_then_overrides() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("rp.toml");
		std::fs::write(
			&path,
			"[chain]\nurl = \"ws://10.0.0.1:9944\"\nkey = \"//Bob\"\n[role]\nprice = 7\n",
		)
		.unwrap();
		let loaded: Example = load(Some(&path)).unwrap();
		assert_eq!(loaded.role.unwrap().price, 7);
		assert_eq!(loaded.chain.url(), "ws://10.0.0.1:9944");
		let chain = loaded.chain.overridden(None, Some("//Charlie".into()), None);
		assert_eq!(chain.key.as_deref(), Some("//Charlie"));
		assert_eq!(chain.url(), "ws://10.0.0.1:9944");
	}

	#[test]
	fn unknown_fields_and_missing_files_are_errors() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("bad.toml");
		std::fs::write(&path, "[chain]\nurll = \"x\"\n").unwrap();
		let error = load::<Example>(Some(&path)).unwrap_err().to_string();
		assert!(error.contains("urll"), "{error}");
		assert!(load::<Example>(Some(Path::new("/nonexistent.toml"))).is_err());
		assert_eq!(load::<Example>(None).unwrap().chain, ChainSettings::default());
	}

	#[test]
	fn a_broken_file_never_quotes_the_key() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("rp.toml");
		let secret = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";
		// An unclosed string on the key's own line, and a key of the wrong type.
		std::fs::write(&path, format!("[chain]\nkey = \"{secret}\n")).unwrap();
		let error = load::<Example>(Some(&path)).unwrap_err().to_string();
		assert!(!error.contains("bottom"), "{error}");
		assert!(error.contains("line 2"), "{error}");
		std::fs::write(
			&path,
			format!("[chain]\nkey = \"{secret}\"\n[role]\nprice = \"{secret}\"\n"),
		)
		.unwrap();
		let error = load::<Example>(Some(&path)).unwrap_err().to_string();
		assert!(!error.contains("bottom"), "{error}");
		assert!(error.contains("line 4"), "{error}");
	}
}
