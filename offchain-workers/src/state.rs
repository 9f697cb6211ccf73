//! A daemon's memory across restarts: one JSON file, rewritten atomically (temp file,
//! fsync, rename) after every change, so a crash leaves either the old or the new state.

use serde::{de::DeserializeOwned, Serialize};
use std::{
	io::Write,
	path::{Path, PathBuf},
};

/// Reading or writing a state file failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
	/// The file could not be read or written.
	#[error("state file {path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// Why.
		source: std::io::Error,
	},
	/// The file is not valid state (edited by hand, or from another version).
	#[error("state file {path} is corrupt: {source} (move it aside to start afresh)")]
	Corrupt {
		/// The file.
		path: PathBuf,
		/// Why.
		source: serde_json::Error,
	},
}

/// State of type `T` persisted at a path.
pub struct StateFile<T> {
	path: PathBuf,
	value: T,
}

impl<T: Serialize + DeserializeOwned + Default> StateFile<T> {
	/// Loads the state at `path`, or starts from `T::default()` if there is none.
	pub fn open(path: &Path) -> Result<Self, StateError> {
		let io = |source| StateError::Io { path: path.to_path_buf(), source };
		let value = match std::fs::read(path) {
			Ok(bytes) => serde_json::from_slice(&bytes)
				.map_err(|source| StateError::Corrupt { path: path.to_path_buf(), source })?,
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => T::default(),
			Err(e) => return Err(io(e)),
		};
		Ok(StateFile { path: path.to_path_buf(), value })
	}

	/// The current state.
	pub fn get(&self) -> &T {
		&self.value
	}

	/// Changes the state and persists it before returning.
	pub fn update<R>(&mut self, change: impl FnOnce(&mut T) -> R) -> Result<R, StateError> {
		let result = change(&mut self.value);
		self.save()?;
		Ok(result)
	}

	fn save(&self) -> Result<(), StateError> {
		let io = |source| StateError::Io { path: self.path.clone(), source };
		if let Some(dir) = self.path.parent() {
			std::fs::create_dir_all(dir).map_err(io)?;
		}
		let bytes = serde_json::to_vec_pretty(&self.value)
			.map_err(|source| StateError::Corrupt { path: self.path.clone(), source })?;
		let temp = self.path.with_extension("tmp");
		let mut file = std::fs::File::create(&temp).map_err(io)?;
		file.write_all(&bytes).map_err(io)?;
		file.sync_all().map_err(io)?;
		std::fs::rename(&temp, &self.path).map_err(io)
	}
}

/// Serde for a 32-byte hash as `0x`-prefixed hex: bytes in memory, readable on disk.
pub mod hex32 {
	use serde::{de::Error, Deserialize, Deserializer, Serializer};

	/// Writes `0x<64 hex digits>`.
	pub fn serialize<S: Serializer>(hash: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
		serializer.serialize_str(&format!("0x{}", hex::encode(hash)))
	}

	/// Reads `0x<64 hex digits>` (or bare hex), refusing anything but 32 bytes.
	pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
		let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
		let bytes = hex::decode(text.trim_start_matches("0x")).map_err(D::Error::custom)?;
		bytes.try_into().map_err(|_| D::Error::custom("a hash is 32 bytes"))
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::collections::BTreeMap;

	#[test]
	fn survives_a_reopen_and_refuses_corruption() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("state.json");
		let mut state = StateFile::<BTreeMap<u64, String>>::open(&path).unwrap();
		assert!(state.get().is_empty());
		state.update(|s| s.insert(7, "posted".into())).unwrap();
		let reopened = StateFile::<BTreeMap<u64, String>>::open(&path).unwrap();
		assert_eq!(reopened.get().get(&7).map(String::as_str), Some("posted"));
		std::fs::write(&path, b"{not json").unwrap();
		let error = StateFile::<BTreeMap<u64, String>>::open(&path).err().unwrap().to_string();
		assert!(error.contains("corrupt"), "{error}");
	}

	#[test]
	fn hashes_persist_as_hex_and_only_32_bytes_read_back() {
		#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
		struct Held(#[serde(with = "hex32")] [u8; 32]);
		let text = serde_json::to_string(&Held([0xab; 32])).unwrap();
		assert_eq!(text, format!("\"0x{}\"", "ab".repeat(32)));
		assert_eq!(serde_json::from_str::<Held>(&text).unwrap(), Held([0xab; 32]));
		assert!(serde_json::from_str::<Held>("\"0x1234\"").is_err());
		assert!(serde_json::from_str::<Held>("\"zz\"").is_err());
	}
}
