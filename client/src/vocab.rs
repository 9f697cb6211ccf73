//! The market's vocabulary as text: architectures, roles, statuses, reasons and
//! verdicts parse from and print as the kebab-case names users type.

use crate::types::{
	Architecture, FaultyParty, MatchState, RejectReason, ResultStatus, Role, Verdict,
};
use std::{fmt, str::FromStr};

/// A name that is not one of the expected words.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} {given:?}; expected one of: {}", .expected.join(", "))]
pub struct UnknownName {
	/// What kind of word.
	pub kind: &'static str,
	/// What was given.
	pub given: String,
	/// The accepted words.
	pub expected: Vec<&'static str>,
}

macro_rules! named {
	($ty:ident, $kind:literal, { $($variant:ident => $name:literal),* $(,)? }) => {
		impl $ty {
			/// Every accepted name.
			pub const NAMES: &'static [&'static str] = &[$($name),*];
			/// The kebab-case name.
			pub fn name(&self) -> &'static str {
				match self { $($ty::$variant => $name),* }
			}
		}
		impl fmt::Display for $ty {
			fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
				f.write_str(self.name())
			}
		}
		impl FromStr for $ty {
			type Err = UnknownName;
			fn from_str(s: &str) -> Result<Self, Self::Err> {
				let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
				match wanted.as_str() {
					$($name => Ok($ty::$variant),)*
					_ => Err(UnknownName { kind: $kind, given: s.into(), expected: Self::NAMES.to_vec() }),
				}
			}
		}
		// Persisted by name, so a state file reads as the CLI speaks.
		impl serde::Serialize for $ty {
			fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
				serializer.serialize_str(self.name())
			}
		}
		impl<'de> serde::Deserialize<'de> for $ty {
			fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
				let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
				text.parse().map_err(serde::de::Error::custom)
			}
		}
	};
}

named!(Architecture, "architecture", {
	Amd64 => "amd64", Arm64 => "arm64", Arm32 => "arm32", Riscv64 => "riscv64",
});
named!(Role, "role", {
	ResourceProvider => "resource-provider", JobCreator => "job-creator",
	Mediator => "mediator", Directory => "directory",
});
named!(ResultStatus, "result status", {
	Completed => "completed", Declined => "declined",
	JobDescriptionError => "job-description-error", JobNotFound => "job-not-found",
	MemoryExceeded => "memory-exceeded", StorageExceeded => "storage-exceeded",
	InstructionsExceeded => "instructions-exceeded", BandwidthExceeded => "bandwidth-exceeded",
	ExceptionOccurred => "exception-occurred", DirectoryUnavailable => "directory-unavailable",
});
named!(RejectReason, "reject reason", {
	WrongResults => "wrong-results", ResultNotFound => "result-not-found",
	TooMuchCost => "too-much-cost", InvalidResultStatus => "invalid-result-status",
	DirectoryUnavailable => "directory-unavailable", ReplicasDisagree => "replicas-disagree",
});
named!(Verdict, "verdict", {
	WrongResults => "wrong-results", ResultNotFound => "result-not-found",
	TooMuchCost => "too-much-cost", InvalidResultStatus => "invalid-result-status",
	CorrectResults => "correct-results", NonDeterministic => "non-deterministic",
	DirectoryUnavailable => "directory-unavailable",
});
named!(FaultyParty, "party", {
	JobCreator => "job-creator", ResourceProvider => "resource-provider", Directory => "directory",
});

/// A match state's short name.
pub fn state_name(state: &MatchState) -> &'static str {
	match state {
		MatchState::Matched => "running",
		MatchState::ResultPosted { .. } => "result-posted",
		MatchState::InMediation { .. } => "in-mediation",
		MatchState::Committed { .. } => "committed",
		MatchState::AwaitingReplicas { .. } => "awaiting-replicas",
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn names_roundtrip_and_errors_list_choices() {
		for name in RejectReason::NAMES {
			assert_eq!(name.parse::<RejectReason>().unwrap().name(), *name);
		}
		assert_eq!("Wrong_Results".parse::<RejectReason>().unwrap(), RejectReason::WrongResults);
		let error = "x86".parse::<Architecture>().unwrap_err().to_string();
		assert!(error.contains("amd64") && error.contains("x86"), "{error}");
	}

	#[test]
	fn enums_persist_by_name_and_refuse_unknown_names() {
		let text =
			serde_json::to_string(&(ResultStatus::Declined, Verdict::CorrectResults)).unwrap();
		assert_eq!(text, r#"["declined","correct-results"]"#);
		let back: (ResultStatus, Verdict) = serde_json::from_str(&text).unwrap();
		assert_eq!(back, (ResultStatus::Declined, Verdict::CorrectResults));
		assert!(serde_json::from_str::<FaultyParty>(r#""nobody""#).is_err());
	}
}
