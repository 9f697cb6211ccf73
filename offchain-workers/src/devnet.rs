//! One way to wire a whole market on one machine, with loopback defaults and the
//! development keys: a directory (//Dave), a mediator (//Charlie), resource providers
//! (//Bob, …) and a solver (//Eve), each trusting the others as a working market
//! needs. `modicum devnet`, `scripts/devnet.sh`, the end-to-end tests and the
//! benchmarks all start their markets from these configurations.

use crate::{
	matchmaker::SolverConfig,
	mediator::{MediatorConfig, MediatorSettings},
	rp::{RpConfig, RpSettings},
};
use modicum_client::settings::ChainSettings;
use std::path::{Path, PathBuf};

/// The base image every job of the devnet builds on (`scripts/build-images.sh`).
pub const BASE_IMAGE: &str = "modicum/base:1";

/// What to start.
#[derive(Clone, Debug)]
pub struct Plan {
	/// Where configurations, state and logs go.
	pub work: PathBuf,
	/// The directory's registry, `host:port`.
	pub registry_addr: String,
	/// The directory's uptime service, `host:port`.
	pub uptime_addr: String,
	/// The resource providers.
	pub rps: Vec<RpPlan>,
}

/// One resource provider of the plan.
#[derive(Clone, Debug)]
pub struct RpPlan {
	/// Its daemon's name: config `<work>/<name>.toml`, state `<work>/<name>/`.
	pub name: String,
	/// Its key's secret URI.
	pub key: String,
	/// Jobs it runs at once.
	pub jobs_at_once: u32,
	/// Resource offers it keeps open, matched jobs waiting for a slot included; more
	/// than `jobs_at_once` has its next jobs matched while these run.
	pub open_offers: u32,
	/// Its determinism probe's extra runs (0: none).
	pub determinism_probe_runs: u32,
}

/// A daemon of the plan, with its configuration written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Daemon {
	/// Its name (config `<work>/<name>.toml`).
	pub name: String,
	/// The `modicum` subcommand that runs it.
	pub args: [&'static str; 2],
	/// Its account's secret URI.
	pub key: String,
	/// The role it registers in, as `modicum market actor` names it; `None` for the
	/// solver, which registers nothing.
	pub role: Option<&'static str>,
}

/// A configuration could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
	/// A file could not be written.
	#[error("{path}: {source}")]
	Io {
		/// The file.
		path: PathBuf,
		/// Why.
		source: std::io::Error,
	},
	/// A configuration could not be serialised.
	#[error("serialising {name}.toml: {reason}")]
	Serialise {
		/// The daemon.
		name: String,
		/// Why.
		reason: String,
	},
}

/// Writes every daemon's configuration into `plan.work` and returns the daemons in
/// the order to start them (the directory first: the others trust it).
pub fn write_configs(plan: &Plan) -> Result<Vec<Daemon>, DevnetError> {
	let work = &plan.work;
	let chain = |key: &str| ChainSettings { key: Some(key.into()), ..ChainSettings::default() };
	let mut daemons = Vec::new();
	let directory = format!(
		"[chain]\nkey = \"//Dave\"\n[directory]\ndata_dir = {}\nregistry_addr = {}\nuptime_addr = {}\navailability_price = \"0.001\"\n",
		quoted(&work.join("directory").display().to_string()),
		quoted(&plan.registry_addr),
		quoted(&plan.uptime_addr),
	);
	write(work, "directory", &directory)?;
	daemons.push(daemon("directory", ["directory", "serve"], "//Dave", Some("directory")));
	let mediator = MediatorConfig {
		chain: chain("//Charlie"),
		mediator: MediatorSettings {
			trusted_directories: vec!["//Dave".into()],
			base_images: vec![BASE_IMAGE.into()],
			work_dir: work.join("mediator"),
			..MediatorSettings::default()
		},
	};
	write(work, "mediator", &serialise("mediator", &mediator)?)?;
	daemons.push(daemon("mediator", ["mediator", "run"], "//Charlie", Some("mediator")));
	for rp in &plan.rps {
		let config = RpConfig {
			chain: chain(&rp.key),
			rp: RpSettings {
				trusted_mediators: vec!["//Charlie".into()],
				trusted_directories: vec!["//Dave".into()],
				base_images: vec![BASE_IMAGE.into()],
				work_dir: work.join(&rp.name),
				open_offers: rp.open_offers,
				concurrent_jobs: rp.jobs_at_once,
				determinism_probe_runs: rp.determinism_probe_runs,
				..RpSettings::default()
			},
		};
		write(work, &rp.name, &serialise(&rp.name, &config)?)?;
		daemons.push(daemon(&rp.name, ["rp", "run"], &rp.key, Some("resource-provider")));
	}
	let solver = SolverConfig { chain: chain("//Eve"), ..SolverConfig::default() };
	write(work, "solver", &serialise("solver", &solver)?)?;
	daemons.push(daemon("solver", ["solver", "run"], "//Eve", None));
	Ok(daemons)
}

/// The plan's resource providers: `count` of them, //Bob first, then //RP2, //RP3, ….
pub fn rps(count: u32, jobs_at_once: u32) -> Vec<RpPlan> {
	(0..count)
		.map(|i| RpPlan {
			name: if count == 1 { "rp".into() } else { format!("rp-{i}") },
			key: if i == 0 { "//Bob".into() } else { format!("//RP{}", i + 1) },
			jobs_at_once,
			open_offers: jobs_at_once,
			determinism_probe_runs: 0,
		})
		.collect()
}

fn daemon(name: &str, args: [&'static str; 2], key: &str, role: Option<&'static str>) -> Daemon {
	Daemon { name: name.into(), args, key: key.into(), role }
}

fn serialise(name: &str, config: &impl serde::Serialize) -> Result<String, DevnetError> {
	toml::to_string(config)
		.map_err(|e| DevnetError::Serialise { name: name.into(), reason: e.to_string() })
}

fn quoted(text: &str) -> String {
	toml::Value::String(text.into()).to_string()
}

fn write(work: &Path, name: &str, text: &str) -> Result<(), DevnetError> {
	let path = work.join(format!("{name}.toml"));
	std::fs::create_dir_all(work)
		.and_then(|()| std::fs::write(&path, text))
		.map_err(|source| DevnetError::Io { path, source })
}

#[cfg(test)]
mod tests {
	use super::*;
	use modicum_client::settings;

	#[test]
	fn every_written_config_loads_as_its_daemon_reads_it() {
		let work = tempfile::tempdir().unwrap();
		let plan = Plan {
			work: work.path().to_path_buf(),
			registry_addr: "127.0.0.1:5000".into(),
			uptime_addr: "127.0.0.1:5001".into(),
			rps: rps(2, 3),
		};
		let daemons = write_configs(&plan).unwrap();
		let names: Vec<_> = daemons.iter().map(|d| d.name.as_str()).collect();
		assert_eq!(names, ["directory", "mediator", "rp-0", "rp-1", "solver"]);
		let rp: RpConfig = settings::load(Some(&work.path().join("rp-1.toml"))).unwrap();
		assert_eq!(rp.chain.key.as_deref(), Some("//RP2"));
		assert_eq!((rp.rp.open_offers, rp.rp.concurrent_jobs), (3, 3));
		assert_eq!(rp.rp.trusted_mediators, ["//Charlie"]);
		let mediator: MediatorConfig =
			settings::load(Some(&work.path().join("mediator.toml"))).unwrap();
		assert_eq!(mediator.mediator.work_dir, work.path().join("mediator"));
		let _: SolverConfig = settings::load(Some(&work.path().join("solver.toml"))).unwrap();
		let directory = std::fs::read_to_string(work.path().join("directory.toml")).unwrap();
		assert!(directory.contains("registry_addr = \"127.0.0.1:5000\""), "{directory}");
	}
}
