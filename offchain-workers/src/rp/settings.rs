//! An RP's configuration file: node and key, the machine, and its offers' terms.

use modicum_client::{chain::Head, settings::ChainSettings, units::Amount};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The terms of the resource offers the daemon keeps posted.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OfferSettings {
	/// Price per instruction (CPU millisecond).
	pub instruction_price: Amount,
	/// Most instructions (CPU ms) one job may use.
	pub instruction_cap: u64,
	/// Most memory (bytes) one job may use.
	pub memory_cap: u64,
	/// Most local storage (bytes) one job may write.
	pub local_storage_cap: u64,
	/// Most bytes one job may download.
	pub bandwidth_cap: u64,
	/// Price per byte downloaded.
	pub bandwidth_price: Amount,
	/// What the RP pays the solver for matching the offer.
	pub match_incentive: Amount,
	/// How long each offer stays open (ms).
	pub lifetime_ms: u64,
	/// Take jobs only from JCs with at least this many accepted jobs on their record
	/// (README, "Reputation").
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub jc_min_accepted: Option<u32>,
	/// Take jobs only from JCs fined in at most this percentage of their jobs (0 to
	/// 100).
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub jc_max_faults: Option<f64>,
}

impl Default for OfferSettings {
	fn default() -> Self {
		OfferSettings {
			instruction_price: Amount(1_000_000),
			instruction_cap: 600_000,
			memory_cap: 256 << 20,
			local_storage_cap: 64 << 20,
			bandwidth_cap: 512 << 20,
			bandwidth_price: Amount(1),
			match_incentive: Amount(1_000_000_000),
			lifetime_ms: 3_600_000,
			jc_min_accepted: None,
			jc_max_faults: None,
		}
	}
}

/// The `[rp]` table of an RP's configuration file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpSettings {
	/// The machine's architecture (`amd64`, `arm64`, …).
	pub arch: String,
	/// Wall-clock nanoseconds per instruction (per CPU ms: 1_000_000 on one full core).
	pub time_per_instruction_ns: u64,
	/// Mediators to trust (SS58, 0x hex or //Name).
	pub trusted_mediators: Vec<String>,
	/// Directories to trust.
	pub trusted_directories: Vec<String>,
	/// Base layers to declare, as 0x hex hashes.
	pub base_layers: Vec<String>,
	/// Local images whose first layer to declare as a base layer.
	pub base_images: Vec<String>,
	/// Where jobs, results and the state file live.
	pub work_dir: PathBuf,
	/// How many resource offers to keep open at once. Running jobs do not count, so
	/// the next job is matched while one runs; a matched job waiting for a free slot
	/// does, so at most this many jobs ever wait.
	pub open_offers: u32,
	/// How many jobs' containers to run at once (packing and uploading a result
	/// happen outside this count).
	pub concurrent_jobs: u32,
	/// CPU cores each job may use.
	pub cpus: f64,
	/// Most processes each job may start.
	pub pids_limit: i64,
	/// Bytes of pulled job images to keep for jobs that come again; past it the least
	/// recently used go.
	pub image_cache_bytes: u64,
	/// Runs each completed job this many more times before posting, and declines it
	/// if a run differs (a non-deterministic job would get an honest RP fined); 0 to
	/// 4, each a whole run's cost.
	pub determinism_probe_runs: u32,
	/// The offers' terms.
	pub offer: OfferSettings,
	/// Which blocks the RP acts on: `best` (the default: a match is seen one slot after
	/// it is made, and a result is posted once it is in a best block) or `finalized`
	/// (each step waits out the finality lag too). On best blocks a retracted match
	/// costs at most a wasted run: results are posted only while the chain still shows
	/// the match the RP ran.
	pub follow: Head,
}

impl Default for RpSettings {
	fn default() -> Self {
		RpSettings {
			arch: "amd64".into(),
			time_per_instruction_ns: 1_000_000,
			trusted_mediators: Vec::new(),
			trusted_directories: Vec::new(),
			base_layers: Vec::new(),
			base_images: Vec::new(),
			work_dir: PathBuf::from("modicum-rp"),
			open_offers: 1,
			concurrent_jobs: 1,
			cpus: 1.0,
			pids_limit: 64,
			image_cache_bytes: crate::image_cache::DEFAULT_BUDGET_BYTES,
			determinism_probe_runs: 0,
			offer: OfferSettings::default(),
			follow: Head::Best,
		}
	}
}

/// A whole RP configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RpConfig {
	/// Node and key.
	#[serde(default)]
	pub chain: ChainSettings,
	/// The RP's own settings.
	#[serde(default)]
	pub rp: RpSettings,
}
