//! A mediator's configuration file.

use modicum_client::{settings::ChainSettings, units::Amount};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The `[mediator]` table of a mediator's configuration file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediatorSettings {
	/// The machine's architecture.
	pub arch: String,
	/// Wall-clock nanoseconds per instruction of a re-run (1_000_000 on one full core):
	/// the chain sizes each match's mediation window from it, `n` runs of the job.
	pub time_per_instruction_ns: u64,
	/// Its price per instruction of a mediation run.
	pub instruction_price: Amount,
	/// Its price per byte of a mediation run.
	pub bandwidth_price: Amount,
	/// Its availability price per match.
	pub availability_price: Amount,
	/// Directories to trust.
	pub trusted_directories: Vec<String>,
	/// Base layers to declare (0x hex).
	pub base_layers: Vec<String>,
	/// Local images whose first layer to declare.
	pub base_images: Vec<String>,
	/// Where re-runs and the state file live.
	pub work_dir: PathBuf,
	/// CPU cores per run (keep equal to the RPs' so timing limits behave alike).
	pub cpus: f64,
	/// Most processes per run.
	pub pids_limit: i64,
	/// Bytes of pulled job images to keep; past it the least recently used go.
	pub image_cache_bytes: u64,
	/// Relative slack on claimed instructions: CPU time varies between machines and
	/// runs, so a claim up to `measured × (1 + slack) + 50 ms` is honest.
	pub usage_slack: f64,
}

impl Default for MediatorSettings {
	fn default() -> Self {
		MediatorSettings {
			arch: "amd64".into(),
			time_per_instruction_ns: 1_000_000,
			instruction_price: Amount(1_000_000),
			bandwidth_price: Amount(1),
			availability_price: Amount(1_000_000_000),
			trusted_directories: Vec::new(),
			base_layers: Vec::new(),
			base_images: Vec::new(),
			work_dir: PathBuf::from("modicum-mediator"),
			cpus: 1.0,
			pids_limit: 64,
			image_cache_bytes: crate::image_cache::DEFAULT_BUDGET_BYTES,
			usage_slack: 0.5,
		}
	}
}

/// A whole mediator configuration file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MediatorConfig {
	/// Node and key.
	#[serde(default)]
	pub chain: ChainSettings,
	/// The mediator's own settings.
	#[serde(default)]
	pub mediator: MediatorSettings,
}
