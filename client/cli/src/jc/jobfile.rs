//! Job files: `modicum jc submit job.toml`. Every `submit` flag has a key of the same
//! name (`--input` → `inputs`, `--arg` → `args`, `--mediator` → `mediators`, `--env` →
//! the `[env]` table); flags given on the command line override the file's keys, and
//! a list flag replaces the whole list. Paths in the file are relative to the file.

use anyhow::{anyhow, Context, Result};
use clap::Args;
use modicum_client::{
	records, settings,
	types::{Architecture, RecordRequirement},
	units::{Amount, ByteSize},
};
use modicum_offchain::job::package::{self, Additions, Input};
use serde::Deserialize;
use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
};

/// What to run and what you will pay for it: flags, or a job file and flags.
#[derive(Args, Clone, Debug, Default)]
pub struct SubmitArgs {
	/// A job file (TOML; `modicum jc template` prints a commented one). Flags given
	/// here override its keys.
	pub job_file: Option<PathBuf>,
	/// The local Docker image to run (its CMD is the job; outputs go to /out).
	#[arg(long)]
	pub image: Option<String>,
	/// The directory to store it in (SS58, 0x hex or //Name).
	#[arg(long)]
	pub directory: Option<String>,
	/// A file or directory the job reads, read-only: SOURCE (at /in/<name>) or
	/// SOURCE:/TARGET. Repeat for more.
	#[arg(long = "input", value_name = "SOURCE[:TARGET]")]
	pub inputs: Vec<String>,
	/// An argument of the job's command; together they replace the image's CMD.
	/// Repeat in order: --arg /bin/sh --arg -c --arg 'wc -l /in/data'.
	#[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
	pub args: Vec<String>,
	/// An environment variable for the job. Repeat for more.
	#[arg(long = "env", value_name = "KEY=VALUE")]
	pub env: Vec<String>,
	/// Most CPU milliseconds the job may use [default: 60000].
	#[arg(long)]
	pub instructions: Option<u64>,
	/// Most bytes the RP may download for it: image and inputs [default: 256MiB].
	#[arg(long)]
	pub bandwidth: Option<ByteSize>,
	/// Highest price per CPU millisecond [default: 0.000002].
	#[arg(long)]
	pub instruction_price: Option<Amount>,
	/// Highest price per byte downloaded [default: 1planck].
	#[arg(long)]
	pub bandwidth_price: Option<Amount>,
	/// Memory limit [default: 128MiB].
	#[arg(long)]
	pub ram: Option<ByteSize>,
	/// Local storage limit: outputs and /tmp [default: 32MiB].
	#[arg(long)]
	pub storage: Option<ByteSize>,
	/// Seconds from now by which the result must be posted [default: 600].
	#[arg(long)]
	pub deadline_secs: Option<u64>,
	/// What you pay the solver for matching [default: 0.001].
	#[arg(long)]
	pub match_incentive: Option<Amount>,
	/// Seconds the offer stays open unmatched [default: 600].
	#[arg(long)]
	pub lifetime_secs: Option<u64>,
	/// The job's architecture [default: amd64].
	#[arg(long)]
	pub arch: Option<Architecture>,
	/// Deposit to hold; default: the chain's quote for the dearest mediator you trust.
	#[arg(long)]
	pub deposit: Option<Amount>,
	/// A mediator you want for this job; trusted first if you do not trust it yet.
	/// Repeat for more.
	#[arg(long = "mediator", value_name = "MEDIATOR")]
	pub mediators: Vec<String>,
	/// Run the job on this many distinct RPs (2 to 5) whose results the chain compares:
	/// equal ones are accepted without you, different ones go to the mediator
	/// [default: 1].
	#[arg(long)]
	pub replicas: Option<u32>,
	/// With --replicas: an RP that must run no replica (SS58, 0x hex or //Name).
	/// Repeat for more.
	#[arg(long = "exclude-rp", value_name = "RP")]
	pub exclude_rps: Vec<String>,
	/// Run only on an RP with at least this many accepted jobs on its record (README,
	/// "Reputation").
	#[arg(long)]
	pub rp_min_accepted: Option<u32>,
	/// Run only on an RP at fault (fined or timed out) in at most this percentage of
	/// its jobs, 0 to 100.
	#[arg(long, value_name = "PERCENT")]
	pub rp_max_faults: Option<f64>,
	/// Follow the job until its result is posted.
	#[arg(long)]
	pub wait: bool,
	/// With --wait: download and unpack the result here.
	#[arg(long)]
	pub out: Option<PathBuf>,
	/// With --wait: accept the result once downloaded and verified.
	#[arg(long)]
	pub accept: bool,
	/// Post nothing: show the deposit it would hold and why, and which resource
	/// offers could take it (or the rule that rules each out).
	#[arg(long)]
	pub dry_run: bool,
}

/// A job file's keys (all optional here; [`resolve`] names the missing ones).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
	image: Option<String>,
	directory: Option<String>,
	inputs: Option<Vec<String>>,
	args: Option<Vec<String>>,
	env: Option<BTreeMap<String, String>>,
	instructions: Option<u64>,
	bandwidth: Option<ByteSize>,
	instruction_price: Option<Amount>,
	bandwidth_price: Option<Amount>,
	ram: Option<ByteSize>,
	storage: Option<ByteSize>,
	deadline_secs: Option<u64>,
	match_incentive: Option<Amount>,
	lifetime_secs: Option<u64>,
	arch: Option<Architecture>,
	deposit: Option<Amount>,
	mediators: Option<Vec<String>>,
	replicas: Option<u32>,
	exclude_rps: Option<Vec<String>>,
	rp_min_accepted: Option<u32>,
	rp_max_faults: Option<f64>,
	wait: Option<bool>,
	out: Option<PathBuf>,
	accept: Option<bool>,
}

/// A job ready to submit: every value known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRequest {
	pub image: String,
	pub directory: String,
	pub additions: Additions,
	pub instructions: u64,
	pub bandwidth: u64,
	pub instruction_price: u128,
	pub bandwidth_price: u128,
	pub ram: u64,
	pub storage: u64,
	pub deadline_secs: u64,
	pub match_incentive: u128,
	pub lifetime_secs: u64,
	pub arch: Architecture,
	pub deposit: Option<u128>,
	pub mediators: Vec<String>,
	pub replicas: u32,
	pub exclude_rps: Vec<String>,
	/// The record an RP needs to take the job.
	pub rp_record: Option<RecordRequirement>,
	pub wait: bool,
	pub out: Option<PathBuf>,
	pub accept: bool,
}

/// Reads the job file if one is named and lays the flags over it.
pub fn resolve(args: &SubmitArgs) -> Result<JobRequest> {
	let (file, base) = match &args.job_file {
		Some(path) => (read(path)?, path.parent().map(Path::to_path_buf).unwrap_or_default()),
		None => (JobFile::default(), PathBuf::new()),
	};
	let named = args.job_file.as_ref().map(|p| p.display().to_string());
	let required = |flag: Option<&String>, key: Option<String>, name: &str| {
		flag.cloned().or(key).ok_or_else(|| match &named {
			Some(file) => anyhow!("{file}: the job needs `{name}` (the key, or --{name})"),
			None => anyhow!("the job needs --{name} (or a job file with `{name} = …`)"),
		})
	};
	let image = required(args.image.as_ref(), file.image, "image")?;
	let directory = required(args.directory.as_ref(), file.directory, "directory")?;

	let inputs = if !args.inputs.is_empty() {
		parse_inputs(&args.inputs, Path::new(""))?
	} else {
		parse_inputs(&file.inputs.unwrap_or_default(), &base)?
	};
	let env = if !args.env.is_empty() {
		let mut env = BTreeMap::new();
		for pair in &args.env {
			let (key, value) = package::parse_env(pair)?;
			env.insert(key, value);
		}
		env
	} else {
		let env = file.env.unwrap_or_default();
		for (key, value) in &env {
			package::parse_env(&format!("{key}={value}"))?;
		}
		env
	};
	let args_list = if !args.args.is_empty() { Some(args.args.clone()) } else { file.args };
	let mediators = if !args.mediators.is_empty() {
		args.mediators.clone()
	} else {
		file.mediators.unwrap_or_default()
	};
	Ok(JobRequest {
		image,
		directory,
		additions: Additions { inputs, args: args_list, env },
		instructions: args.instructions.or(file.instructions).unwrap_or(60_000),
		bandwidth: args.bandwidth.or(file.bandwidth).map_or(256 << 20, |s| s.0),
		instruction_price: args
			.instruction_price
			.or(file.instruction_price)
			.map_or(2_000_000, |a| a.0),
		bandwidth_price: args.bandwidth_price.or(file.bandwidth_price).map_or(1, |a| a.0),
		ram: args.ram.or(file.ram).map_or(128 << 20, |s| s.0),
		storage: args.storage.or(file.storage).map_or(32 << 20, |s| s.0),
		deadline_secs: args.deadline_secs.or(file.deadline_secs).unwrap_or(600),
		match_incentive: args
			.match_incentive
			.or(file.match_incentive)
			.map_or(1_000_000_000, |a| a.0),
		lifetime_secs: args.lifetime_secs.or(file.lifetime_secs).unwrap_or(600),
		arch: args.arch.or(file.arch).unwrap_or(Architecture::Amd64),
		deposit: args.deposit.or(file.deposit).map(|a| a.0),
		mediators,
		replicas: args.replicas.or(file.replicas).unwrap_or(1),
		exclude_rps: if args.exclude_rps.is_empty() {
			file.exclude_rps.unwrap_or_default()
		} else {
			args.exclude_rps.clone()
		},
		rp_record: records::requirement(
			args.rp_min_accepted.or(file.rp_min_accepted),
			args.rp_max_faults.or(file.rp_max_faults),
		)
		.context("rp_max_faults")?,
		wait: args.wait || file.wait.unwrap_or(false),
		out: args.out.clone().or(file.out.map(|out| base.join(out))),
		accept: args.accept || file.accept.unwrap_or(false),
	})
}

fn read(path: &Path) -> Result<JobFile> {
	let text = std::fs::read_to_string(path)
		.with_context(|| format!("reading the job file {}", path.display()))?;
	toml::from_str(&text).map_err(|e| {
		anyhow!("{}: {}", path.display(), settings::parse_error_without_secrets(&text, &e))
	})
}

/// Inputs, with relative sources taken from `base`.
fn parse_inputs(texts: &[String], base: &Path) -> Result<Vec<Input>> {
	texts
		.iter()
		.map(|text| {
			let mut input: Input = text.parse()?;
			if input.source.is_relative() {
				input.source = base.join(&input.source);
			}
			Ok(input)
		})
		.collect()
}

/// A commented job file with every key, for `modicum jc template`.
pub const TEMPLATE: &str = r#"# A Modicum job file: `modicum jc submit job.toml`.
# Flags given on the command line override these keys; a list flag (--input, --arg,
# --env, --mediator) replaces the whole list. Paths are relative to this file.
# Sizes are bytes or text: "128MiB", "1.5GiB", "64MB". Amounts are MDC ("0.001") or
# planck ("1500planck").

# The local Docker image to run; the job writes its outputs under /out. (required)
image = "modicum/wordcount:1"
# The directory that stores the image, the inputs and the result. (required)
directory = "//Dave"
# Files and directories the job reads, read-only: "SOURCE" (at /in/<name>) or
# "SOURCE:/TARGET". Their bytes count as bandwidth.
inputs = ["data:/in/data"]
# The job's command and its arguments, replacing the image's CMD.
args = ["/bin/sh", "-c", "wc -w /in/data/* > /out/counts"]

# Limits: CPU milliseconds, memory, local storage (outputs and /tmp), and the bytes
# the RP downloads (image and inputs).
instructions = 60000
ram = "128MiB"
storage = "32MiB"
bandwidth = "256MiB"
arch = "amd64"

# The most you pay per CPU millisecond and per byte downloaded, and the solver's fee.
instruction_price = "0.000002"
bandwidth_price = "1planck"
match_incentive = "0.001"
# The deposit to hold; leave it out for the chain's quote (see `--dry-run`).
# deposit = "1.5"

# Seconds until the result must be posted, and until an unmatched offer lapses.
deadline_secs = 600
lifetime_secs = 600

# Mediators you want for this job (trusted first if you do not trust them yet).
mediators = ["//Charlie"]

# Run the job on this many distinct RPs (2 to 5) and let the chain compare the results:
# equal ones are paid without you, different ones go to the mediator. Each replica
# holds its own deposit and pays its own price. Leave out RPs you do not want.
# replicas = 2
# exclude_rps = ["//Ferdie"]

# Run only on an RP whose record (`modicum market actor`) shows at least this many
# accepted jobs, and faults (fined or timed out) in at most this percentage of them.
# rp_min_accepted = 10
# rp_max_faults = 5

# Follow the job until its result is posted; then download it to `out` and accept it.
wait = true
out = "result"
accept = false

# Environment variables for the job (a table: keep it last).
[env]
MODE = "fast"
"#;

#[cfg(test)]
mod tests;
