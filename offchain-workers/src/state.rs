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
}
