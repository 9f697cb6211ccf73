//! What the kernel says about processes: resident memory, CPU time, children; and the
//! machine's CPU time, to tell whether the two cores were saturated.

use anyhow::{Context, Result};
use std::{fs, sync::OnceLock};

/// A process's resident set (`VmRSS`) in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
	status_field(pid, "VmRSS:")
}

/// A process's peak resident set (`VmHWM`) in KiB.
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
	status_field(pid, "VmHWM:")
}

/// The anonymous part of its resident set (`RssAnon`: its heap and stacks, its own),
/// in KiB.
pub fn rss_anon_kib(pid: u32) -> Result<u64> {
	status_field(pid, "RssAnon:")
}

/// The file-backed part of its resident set (`RssFile`: the pages of its binary and
/// libraries it has touched, shared with every process mapping the same files), in KiB.
pub fn rss_file_kib(pid: u32) -> Result<u64> {
	status_field(pid, "RssFile:")
}

/// Its thread count.
pub fn threads(pid: u32) -> Result<u64> {
	status_field(pid, "Threads:")
}

fn status_field(pid: u32, field: &str) -> Result<u64> {
	let status = fs::read_to_string(format!("/proc/{pid}/status"))
		.with_context(|| format!("reading /proc/{pid}/status"))?;
	let line = status
		.lines()
		.find(|l| l.starts_with(field))
		.with_context(|| format!("no {field} in /proc/{pid}/status"))?;
	let number = line[field.len()..].split_whitespace().next().unwrap_or_default();
	number.parse().with_context(|| format!("{field} {number:?} is not a number"))
}

/// The fields of `/proc/<pid>/stat` after the command name.
fn stat_fields(pid: u32) -> Result<Vec<String>> {
	let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
		.with_context(|| format!("reading /proc/{pid}/stat"))?;
	// The command name is in parentheses and may contain spaces.
	let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed stat")?;
	Ok(rest.split_whitespace().map(str::to_string).collect())
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux in practice).
fn ticks_per_second() -> f64 {
	static TICKS: OnceLock<f64> = OnceLock::new();
	*TICKS.get_or_init(|| {
		std::process::Command::new("getconf")
			.arg("CLK_TCK")
			.output()
			.ok()
			.and_then(|o| String::from_utf8(o.stdout).ok())
			.and_then(|s| s.trim().parse().ok())
			.unwrap_or(100.0)
	})
}

/// CPU seconds (user + system) a process has used, with those of its waited-for
/// children.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
	let fields = stat_fields(pid)?;
	// After ')': state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based).
	let tick = |i: usize| -> Result<f64> {
		Ok(fields.get(i - 3).context("short stat")?.parse::<f64>()? / ticks_per_second())
	};
	Ok(tick(14)? + tick(15)? + tick(16)? + tick(17)?)
}

/// The direct children of a process.
pub fn children(pid: u32) -> Vec<u32> {
	let mut found = Vec::new();
	for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
		let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
			continue;
		};
		// Field 4 (1-based) is the parent's pid.
		if stat_fields(child).ok().and_then(|f| f.get(1).and_then(|p| p.parse().ok())) == Some(pid)
		{
			found.push(child);
		}
	}
	found
}

/// Processes whose command name is `name` (e.g. `dockerd`).
pub fn pids_named(name: &str) -> Vec<u32> {
	let mut found = Vec::new();
	for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
		let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
			continue;
		};
		if fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name) {
			found.push(pid);
		}
	}
	found
}

/// The machine's CPU time so far: (busy, total) seconds over all cores.
pub fn machine_cpu() -> Result<(f64, f64)> {
	let stat = fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
	let line = stat.lines().next().context("empty /proc/stat")?;
	let ticks: Vec<f64> =
		line.split_whitespace().skip(1).filter_map(|v| v.parse::<f64>().ok()).collect();
	// user nice system idle iowait irq softirq steal (guest time is already in user).
	let total: f64 = ticks.iter().take(8).sum();
	let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
	Ok(((total - idle) / ticks_per_second(), total / ticks_per_second()))
}

/// CPU seconds used by named processes between two points: a profile of where the
/// time went.
#[derive(Clone, Debug, Default)]
pub struct CpuProfile {
	start: Vec<(String, Vec<u32>, f64)>,
	machine: (f64, f64),
}

impl CpuProfile {
	/// Starts counting for `(label, pids)`.
	pub fn start(processes: Vec<(String, Vec<u32>)>) -> Self {
		let start = processes
			.into_iter()
			.map(|(label, pids)| {
				let used = pids.iter().filter_map(|p| cpu_seconds(*p).ok()).sum();
				(label, pids, used)
			})
			.collect();
		CpuProfile { start, machine: machine_cpu().unwrap_or_default() }
	}

	/// CPU seconds each labelled group used since the start, the machine's busy
	/// seconds, and its capacity (cores × wall seconds).
	pub fn finish(&self) -> serde_json::Value {
		let mut per = serde_json::Map::new();
		for (label, pids, before) in &self.start {
			let now: f64 = pids.iter().filter_map(|p| cpu_seconds(*p).ok()).sum();
			per.insert(label.clone(), round3(now - before).into());
		}
		let (busy, total) = machine_cpu().unwrap_or_default();
		serde_json::json!({
			"cpu_seconds": per,
			"machine_busy_cpu_seconds": round3(busy - self.machine.0),
			"machine_cpu_seconds": round3(total - self.machine.1),
		})
	}
}

/// Rounds to three decimals for the JSON.
pub fn round3(x: f64) -> f64 {
	(x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn reads_this_process() {
		let me = std::process::id();
		assert!(rss_kib(me).unwrap() > 0);
		assert!(peak_rss_kib(me).unwrap() >= rss_kib(me).unwrap());
		assert!(cpu_seconds(me).unwrap() >= 0.0);
		assert!(threads(me).unwrap() >= 1);
		let (busy, total) = machine_cpu().unwrap();
		assert!(total > busy && busy > 0.0);
	}
}
