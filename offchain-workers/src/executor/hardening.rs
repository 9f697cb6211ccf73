//! The container's isolation settings, and the check that the engine kept them all.

use super::{ExecError, JobSpec};
use bollard::models::{HostConfig, HostConfigLogConfig, Mount, MountTypeEnum, ResourcesUlimits};
use std::collections::HashMap;

/// Security options that would switch a confinement off; never accepted.
const UNCONFINED: [&str; 3] = ["seccomp=unconfined", "apparmor=unconfined", "label=disable"];

/// The cgroup parent of a job's container.
pub fn cgroup_parent(job_name: &str) -> String {
	format!("/modicum/{job_name}")
}

/// The name of a job's container.
pub fn container_name(job_name: &str) -> String {
	format!("modicum-{job_name}")
}

/// The container's host configuration: every isolation setting lives here.
pub fn host_config(spec: &JobSpec, out_dir: &str, job_name: &str) -> HostConfig {
	let memory = i64::try_from(spec.memory_limit_bytes).unwrap_or(i64::MAX);
	HostConfig {
		network_mode: Some("none".into()),
		readonly_rootfs: Some(true),
		cap_drop: Some(vec!["ALL".into()]),
		security_opt: Some(vec!["no-new-privileges".into()]),
		privileged: Some(false),
		memory: Some(memory),
		// Equal to `memory`: no swap, so the memory limit is the job's whole footprint.
		memory_swap: Some(memory),
		nano_cpus: Some(nano_cpus(spec.cpus)),
		pids_limit: Some(spec.pids_limit),
		// No core dumps: a crashing job must not write its memory to the host.
		ulimits: Some(vec![ResourcesUlimits {
			name: Some("core".into()),
			soft: Some(0),
			hard: Some(0),
		}]),
		cgroup_parent: Some(cgroup_parent(job_name)),
		tmpfs: Some(HashMap::from([("/tmp".to_string(), tmpfs_options(spec.storage_limit_bytes))])),
		mounts: Some(mounts(spec, out_dir)),
		log_config: Some(log_config(spec.storage_limit_bytes)),
		auto_remove: Some(false),
		..Default::default()
	}
}

/// `/out`, writable; and, for a run on some records, those records read-only over
/// `/in/records`.
fn mounts(spec: &JobSpec, out_dir: &str) -> Vec<Mount> {
	let bind = |target: &str, source: String, read_only: bool| Mount {
		target: Some(target.into()),
		source: Some(source),
		typ: Some(MountTypeEnum::BIND),
		read_only: Some(read_only),
		..Default::default()
	};
	let mut mounts = vec![bind("/out", out_dir.into(), false)];
	if let Some(records) = &spec.records_dir {
		mounts.push(bind(RECORDS_IN, records.to_string_lossy().into_owned(), true));
	}
	mounts
}

/// Where a record job reads its records (README, "Spot checks of record jobs").
pub const RECORDS_IN: &str = "/in/records";

/// Checks the configuration the engine stored against the one asked for: an engine
/// may drop a setting it cannot apply with only a warning.
pub fn verify_hardening(wanted: &HostConfig, got: &HostConfig) -> Result<(), String> {
	let mut dropped = Vec::new();
	let mut check = |name: &str, ok: bool| {
		if !ok {
			dropped.push(name.to_string());
		}
	};
	check("network none", got.network_mode == wanted.network_mode);
	check("read-only root filesystem", got.readonly_rootfs == Some(true));
	check("memory limit", got.memory == wanted.memory);
	check("no swap", got.memory_swap == wanted.memory_swap);
	check("CPU quota", got.nano_cpus == wanted.nano_cpus);
	check("cgroup parent", got.cgroup_parent == wanted.cgroup_parent);
	check("pids limit", got.pids_limit == wanted.pids_limit && got.pids_limit > Some(0));
	check("no core dumps", got.ulimits == wanted.ulimits);
	check(
		"only the /out and records mounts",
		same_mounts(wanted.mounts.as_deref(), got.mounts.as_deref()),
	);
	check("log size cap", got.log_config == wanted.log_config);
	check("privileged off", got.privileged != Some(true));
	let has = |list: &Option<Vec<String>>, needle: &str| -> bool {
		list.iter().flatten().any(|item| item.to_ascii_lowercase().contains(needle))
	};
	check("cap-drop ALL", has(&got.cap_drop, "all"));
	check("no-new-privileges", has(&got.security_opt, "no-new-privileges"));
	check(
		"seccomp and AppArmor not disabled",
		!UNCONFINED.iter().any(|o| has(&got.security_opt, o)),
	);
	check("/tmp tmpfs", got.tmpfs == wanted.tmpfs);
	if dropped.is_empty() {
		Ok(())
	} else {
		Err(format!("the engine dropped: {}", dropped.join(", ")))
	}
}

/// The mounts the engine kept are exactly the ones asked for (target, source, type,
/// writability).
fn same_mounts(wanted: Option<&[Mount]>, got: Option<&[Mount]>) -> bool {
	let key = |m: &Mount| (m.target.clone(), m.source.clone(), m.typ, m.read_only.unwrap_or(false));
	let (wanted, got) = (wanted.unwrap_or_default(), got.unwrap_or_default());
	wanted.len() == got.len() && wanted.iter().zip(got).all(|(w, g)| key(w) == key(g))
}

/// An engine confines jobs only if it runs them under a seccomp profile: `docker info`
/// must list seccomp with a profile other than `unconfined`.
pub(super) fn engine_confines(security_options: &[String]) -> Result<(), String> {
	let seccomp = security_options.iter().find(|o| o.contains("name=seccomp"));
	match seccomp {
		Some(option) if !option.contains("profile=unconfined") => Ok(()),
		Some(option) => Err(format!("the engine runs containers unconfined ({option})")),
		None => Err("the engine does not run containers under seccomp".into()),
	}
}

pub(super) fn validate_pids(pids_limit: i64) -> Result<(), ExecError> {
	// The engine reads 0 or less as "no limit": a fork bomb would be unbounded.
	if pids_limit >= 1 {
		Ok(())
	} else {
		Err(ExecError::InvalidSpec(format!("pids_limit must be at least 1, not {pids_limit}")))
	}
}

pub(super) fn validate_job_name(job_name: &str) -> Result<(), ExecError> {
	let mut chars = job_name.chars();
	let valid = job_name.len() <= 64
		&& chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
		&& chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
	if valid {
		Ok(())
	} else {
		Err(ExecError::InvalidJobName(job_name.to_string()))
	}
}

pub(super) fn validate_cpus(cpus: f64) -> Result<(), ExecError> {
	// Docker's smallest quota; larger than the host is refused by the engine itself.
	if cpus.is_finite() && cpus >= 0.01 {
		Ok(())
	} else {
		Err(ExecError::InvalidSpec(format!("cpus must be at least 0.01, not {cpus}")))
	}
}

pub(super) fn nano_cpus(cpus: f64) -> i64 {
	(cpus * 1e9).round() as i64
}

pub(super) fn tmpfs_options(storage_limit: u64) -> String {
	// `size=0` would mean "unlimited" to tmpfs, hence the one-page floor; the inode cap
	// keeps a million empty files from costing the host kernel memory past the limit.
	let inodes = (storage_limit / super::ENTRY_BYTES).saturating_add(2);
	format!("rw,noexec,nosuid,nodev,size={},nr_inodes={inodes},mode=1777", storage_limit.max(4096))
}

/// Logs go to json-file in one file. Each line is charged its framing on disk
/// ([`super::LOG_FRAME_BYTES`]) against the storage limit, so a job within its limit
/// never reaches this file size and never has its output rotated away (rotation would
/// make stdout depend on timing); a flood between two polls is cut off here, so the
/// host's disk holds at most this much. Setting it explicitly also overrides a
/// daemon-wide `max-size`.
pub(super) fn log_config(storage_limit: u64) -> HostConfigLogConfig {
	let max_size = storage_limit.saturating_mul(2).saturating_add(16 << 20).min(1 << 40);
	HostConfigLogConfig {
		typ: Some("json-file".into()),
		config: Some(HashMap::from([
			("max-size".to_string(), max_size.to_string()),
			("max-file".to_string(), "1".to_string()),
		])),
	}
}
