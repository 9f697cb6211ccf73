//! The machine the figures were measured on: absolute times only mean something
//! beside it.

use serde::Serialize;
use std::{path::Path, process::Command};

/// What the report says about the machine and the build.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
	/// `model name` from /proc/cpuinfo.
	pub cpu: String,
	/// Cores the benchmark may use.
	pub cores: usize,
	/// Physical memory in MiB.
	pub ram_mib: u64,
	/// The distribution (`PRETTY_NAME`).
	pub os: String,
	/// `uname -r`.
	pub kernel: String,
	/// The Docker engine's version, if one answers.
	pub docker_server: Option<String>,
	/// `rustc --version`.
	pub rustc: String,
	/// The commit measured, with `-dirty` if the tree had changes.
	pub git_commit: String,
}

fn command_output(program: &str, args: &[&str], dir: Option<&Path>) -> Option<String> {
	let mut command = Command::new(program);
	command.args(args);
	if let Some(dir) = dir {
		command.current_dir(dir);
	}
	let output = command.output().ok().filter(|o| o.status.success())?;
	Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn file_line(path: &str, key: &str) -> Option<String> {
	let text = std::fs::read_to_string(path).ok()?;
	text.lines().find(|l| l.starts_with(key)).map(|l| {
		l[key.len()..]
			.trim_start_matches([' ', '\t', ':', '='])
			.trim()
			.trim_matches('"')
			.to_string()
	})
}

/// Describes this machine; what cannot be read is reported as `unknown`.
pub fn describe(repo: &Path) -> Machine {
	let unknown = || "unknown".to_string();
	let ram_kib = file_line("/proc/meminfo", "MemTotal")
		.and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
		.unwrap_or(0);
	let commit = command_output("git", &["rev-parse", "--short=12", "HEAD"], Some(repo));
	let dirty = command_output("git", &["status", "--porcelain"], Some(repo))
		.is_some_and(|s| !s.is_empty());
	Machine {
		cpu: file_line("/proc/cpuinfo", "model name").unwrap_or_else(unknown),
		cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
		ram_mib: ram_kib / 1024,
		os: file_line("/etc/os-release", "PRETTY_NAME").unwrap_or_else(unknown),
		kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
			.map(|s| s.trim().to_string())
			.unwrap_or_else(|_| unknown()),
		docker_server: command_output(
			"docker",
			&["version", "--format", "{{.Server.Version}}"],
			None,
		),
		rustc: command_output("rustc", &["--version"], None).unwrap_or_else(unknown),
		git_commit: commit.map_or_else(unknown, |c| if dirty { format!("{c}-dirty") } else { c }),
	}
}

impl Machine {
	/// One markdown line.
	pub fn markdown(&self) -> String {
		format!(
			"{} ({} cores), {} MiB RAM, {}, Linux {}, Docker {}, {}, commit {}",
			self.cpu,
			self.cores,
			self.ram_mib,
			self.os,
			self.kernel,
			self.docker_server.as_deref().unwrap_or("not available"),
			self.rustc,
			self.git_commit
		)
	}
}
