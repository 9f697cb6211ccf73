//! `modicum jc spot-check <match> --job job.toml`: check a record job's result by
//! re-computing a random sample of its records, without downloading the rest.
//!
//! A *record job* reads one file per record under `/in/records/` and writes one output
//! per record, of the same name, under `/out/records/`; so the result's Merkle tree has
//! a leaf per record output. The sample is drawn with a seed from the hash of the block
//! finalized when the check runs, which the RP could not know when it posted. The
//! sampled outputs come from the directory with a Merkle proof against the root on
//! chain (`leaf_proof`), never the whole result; the job file's image re-runs just those
//! records here, through the same executor the RP and the mediator use, and the outputs
//! are compared byte for byte.

use super::{
	jobfile::{self, SubmitArgs},
	open_match, posted_result,
	submit::directory_endpoint,
	Session,
};
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use modicum_client::{
	calls::Market,
	reference_text,
	types::{PostedResult, ResultStatus},
};
use modicum_offchain::{
	directory,
	executor::{self, ExecStatus, JobSpec},
	job::{package, timing},
};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where a record job reads its records.
pub use modicum_offchain::executor::RECORDS_IN;
/// Where it writes one output per record (relative to the result).
pub use modicum_offchain::job::records::RECORDS_OUT;

/// What a spot check found.
#[derive(Serialize)]
struct SpotCheckReport {
	match_id: u64,
	records: usize,
	sampled: Vec<String>,
	seed_block: String,
	mismatches: Vec<String>,
	consistent: bool,
	accepted: bool,
}

/// `spot-check`'s arguments.
pub struct SpotCheckRequest {
	/// The match.
	pub match_id: u64,
	/// The job file the job was submitted with.
	pub job: PathBuf,
	/// The fraction of records to re-compute.
	pub fraction: f64,
	/// Accept the result if every sampled record agrees.
	pub accept: bool,
}

pub async fn spot_check(s: &Session, asked: SpotCheckRequest, json: bool) -> Result<()> {
	if !(asked.fraction > 0.0 && asked.fraction <= 1.0) {
		bail!("--fraction must be in (0, 1], not {}", asked.fraction);
	}
	let request =
		jobfile::resolve(&SubmitArgs { job_file: Some(asked.job.clone()), ..Default::default() })?;
	let records_input =
		request.additions.inputs.iter().find(|input| input.target == RECORDS_IN).ok_or_else(
			|| anyhow!("{}: a record job reads its records at {RECORDS_IN}", asked.job.display()),
		)?;
	let names = record_names(&records_input.source)?;
	let info = open_match(&s.chain, asked.match_id).await?;
	let result = posted_result(&info)
		.ok_or_else(|| anyhow!("match {} has no result yet", asked.match_id))?;
	if result.status != ResultStatus::Completed {
		bail!("the RP posted {}: there are no record outputs to check", result.status);
	}

	let job = RecordJob { request: &request, records: &records_input.source, names: &names };
	let checked = check_sample(s, &job, asked.match_id, &info, &result, asked.fraction).await?;
	let mismatches = match checked.verdict {
		SampleVerdict::Compared { mismatches } => mismatches,
		SampleVerdict::Unproven { reason } => bail!(
			"the sampled records' outputs could not be proven against the posted root ({reason}): \
			 reject with `modicum jc reject {} --reason wrong-results`",
			asked.match_id
		),
	};
	let (sampled, seed_block) = (checked.sampled, checked.seed_block);
	let consistent = mismatches.is_empty();
	let mut accepted = false;
	if consistent && asked.accept {
		Market::new(&s.chain, &s.signer).accept_result(asked.match_id).await?;
		accepted = true;
	}
	let report = SpotCheckReport {
		match_id: asked.match_id,
		records: names.len(),
		sampled,
		seed_block: format!("0x{}", hex::encode(seed_block)),
		mismatches,
		consistent,
		accepted,
	};
	output::print(json, &report, || describe(&report));
	Ok(())
}

fn describe(r: &SpotCheckReport) -> String {
	let head = format!(
		"match {}: re-computed {} of {} records (sample seeded by block {})",
		r.match_id,
		r.sampled.len(),
		r.records,
		r.seed_block
	);
	if r.consistent {
		let next = if r.accepted {
			"accepted: the RP is paid".to_string()
		} else {
			format!("accept with `modicum jc accept {}`", r.match_id)
		};
		format!("{head}\nevery sampled record agrees with the posted result; {next}")
	} else {
		format!(
			"{head}\n{} record(s) differ from the posted result: {}\nreject with `modicum jc reject {} --reason wrong-results --records {}` (the mediator tries just those first)",
			r.mismatches.len(),
			r.mismatches.join(", "),
			r.match_id,
			disputable(&r.mismatches).join(",")
		)
	}
}

/// The mismatches a rejection can name: record names the chain takes, at most
/// [`modicum_client::MAX_DISPUTED_RECORDS`] of them (any one wrong record decides).
pub fn disputable(mismatches: &[String]) -> Vec<String> {
	mismatches
		.iter()
		.filter(|name| modicum_client::is_record_name(name))
		.take(modicum_client::MAX_DISPUTED_RECORDS)
		.cloned()
		.collect()
}

/// What a sample showed.
pub struct SampleCheck {
	/// The sampled records' names.
	pub sampled: Vec<String>,
	/// The finalized block whose hash seeded the sample.
	pub seed_block: [u8; 32],
	/// What comparing them found.
	pub verdict: SampleVerdict,
}

/// The outcome of comparing a sample.
pub enum SampleVerdict {
	/// The outputs were proven and compared; these records differ (none: consistent).
	Compared { mismatches: Vec<String> },
	/// The directory could not prove the sampled outputs against the posted root.
	Unproven { reason: String },
}

/// A record job: its request, and its records (files named `names` under `records`).
pub struct RecordJob<'a> {
	pub request: &'a jobfile::JobRequest,
	pub records: &'a Path,
	pub names: &'a [String],
}

/// Draws a sample of `names` (files under `records`) seeded by the block finalized now,
/// fetches their posted outputs with proofs against `result`'s root, re-computes them
/// here with `request`'s image and compares: the one way a JC checks a record job.
pub async fn check_sample(
	s: &Session,
	job: &RecordJob<'_>,
	match_id: u64,
	info: &modicum_client::chain::MatchInfo,
	result: &PostedResult,
	fraction: f64,
) -> Result<SampleCheck> {
	let seed_block = s.chain.finalized_hash().await?;
	let sampled = sample(job.names, fraction, &seed_block, match_id);
	let endpoint = directory_endpoint(&s.chain, &info.job.directory).await?;
	let posted = reference_text(&result.reference);
	let (repository, digest) = posted
		.split_once('@')
		.ok_or_else(|| anyhow!("the posted result reference {posted:?} names no digest"))?;
	let paths: Vec<String> = sampled.iter().map(|name| format!("{RECORDS_OUT}/{name}")).collect();
	let (registry, repository, digest, root) =
		(endpoint.registry.clone(), repository.to_string(), digest.to_string(), result.hash);
	let wanted = paths.clone();
	let proven = tokio::task::spawn_blocking(move || {
		directory::fetch_proven_files(&registry, &repository, &digest, &root, &wanted)
	})
	.await?;
	let proven = match proven {
		Ok(files) => files,
		Err(e) => {
			let reason = e.to_string();
			return Ok(SampleCheck {
				sampled,
				seed_block,
				verdict: SampleVerdict::Unproven { reason },
			});
		},
	};
	let rp_speed = s
		.chain
		.resource_provider(&info.resource_provider)
		.await?
		.map_or(1_000_000, |rp| rp.time_per_instruction_ns);
	let recomputed = recompute(job.request, job.records, &sampled, info, rp_speed).await?;
	let mismatches: Vec<String> = sampled
		.iter()
		.zip(&paths)
		.filter(|(name, path)| {
			let posted = proven.iter().find(|(p, _)| p == *path).map(|(_, bytes)| bytes);
			posted != recomputed.iter().find(|(n, _)| n == *name).map(|(_, bytes)| bytes)
		})
		.map(|(name, _)| name.clone())
		.collect();
	Ok(SampleCheck { sampled, seed_block, verdict: SampleVerdict::Compared { mismatches } })
}

/// The record files' names, sorted.
pub fn record_names(dir: &Path) -> Result<Vec<String>> {
	let mut names = Vec::new();
	for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
		let entry = entry?;
		if entry.file_type()?.is_file() {
			let name = entry
				.file_name()
				.into_string()
				.map_err(|n| anyhow!("record name {n:?} is not UTF-8"))?;
			names.push(name);
		}
	}
	if names.is_empty() {
		bail!("{} holds no records", dir.display());
	}
	names.sort();
	Ok(names)
}

/// `⌈fraction · N⌉` (at least one) of `names`, drawn without replacement by a
/// SplitMix64 stream seeded from `blake2_256(seed_block ‖ match id)`; sorted.
pub fn sample(
	names: &[String],
	fraction: f64,
	seed_block: &[u8; 32],
	match_id: u64,
) -> Vec<String> {
	let count = ((names.len() as f64 * fraction).ceil() as usize).clamp(1, names.len());
	let mut seed_input = seed_block.to_vec();
	seed_input.extend_from_slice(&match_id.to_le_bytes());
	let digest = sp_crypto_hashing::blake2_256(&seed_input);
	let mut state = u64::from_le_bytes(digest[..8].try_into().unwrap_or_default());
	let mut next = move || {
		state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
		let mut z = state;
		z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
		z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
		z ^ (z >> 31)
	};
	// A partial Fisher–Yates shuffle over the indices.
	let mut indices: Vec<usize> = (0..names.len()).collect();
	for i in 0..count {
		let span = (names.len() - i) as u64;
		let j = i + (next() % span) as usize;
		indices.swap(i, j);
	}
	let mut picked: Vec<String> = indices[..count].iter().map(|&i| names[i].clone()).collect();
	picked.sort();
	picked
}

/// Runs the job's image on just `sampled` records through the executor, within the
/// match's limits; each record's output.
async fn recompute(
	request: &jobfile::JobRequest,
	records: &Path,
	sampled: &[String],
	info: &modicum_client::chain::MatchInfo,
	rp_speed: u64,
) -> Result<Vec<(String, Vec<u8>)>> {
	let scratch = tempfile::tempdir()?;
	let subset = scratch.path().join("records");
	std::fs::create_dir(&subset)?;
	for name in sampled {
		std::fs::copy(records.join(name), subset.join(name))
			.with_context(|| format!("copying record {name}"))?;
	}
	let mut additions = request.additions.clone();
	for input in additions.inputs.iter_mut().filter(|i| i.target == RECORDS_IN) {
		input.source = subset.clone();
	}
	let docker = modicum_offchain::docker::connect().await?;
	let built = package::build_job_image(&docker, &request.image, &additions)
		.await
		.context("building the sample's job image")?;
	let spec = JobSpec {
		image: built.image.clone(),
		memory_limit_bytes: info.job.ram_limit,
		instruction_limit_ms: info.job.instruction_limit,
		storage_limit_bytes: info.job.local_storage_limit,
		bandwidth_limit_bytes: info.job.bandwidth_limit,
		wall_clock_limit: timing::run_budget(info.job.instruction_limit, rp_speed),
		extra_ns_per_instruction: 0,
		cpus: 1.0,
		pids_limit: 256,
		records_dir: None,
	};
	let work = scratch.path().join("run");
	std::fs::create_dir(&work)?;
	let name = format!("jc-spot-check-{}-{}", info.job_offer_id, std::process::id());
	let outcome = executor::run_job(&docker, &spec, &work, &name).await;
	let _ = docker
		.remove_image(&built.image, None::<bollard::query_parameters::RemoveImageOptions>, None)
		.await;
	let outcome = outcome.context("running the sample")?;
	if outcome.status != ExecStatus::Completed {
		bail!(
			"re-running the sample here ended in {}; it cannot be compared",
			outcome.status.name()
		);
	}
	let out = outcome.result_dir.join(RECORDS_OUT);
	Ok(sampled
		.iter()
		.map(|name| (name.clone(), std::fs::read(out.join(name)).unwrap_or_default()))
		.collect())
}

#[cfg(test)]
mod tests {
	use super::sample;

	#[test]
	fn samples_are_fixed_by_the_block_and_match_distinct_and_sized() {
		let names: Vec<String> = (0..1000).map(|i| format!("r{i:04}")).collect();
		let a = sample(&names, 0.01, &[7; 32], 3);
		assert_eq!(a.len(), 10);
		assert_eq!(a, sample(&names, 0.01, &[7; 32], 3));
		assert_ne!(a, sample(&names, 0.01, &[8; 32], 3));
		assert_ne!(a, sample(&names, 0.01, &[7; 32], 4));
		let mut unique = a.clone();
		unique.dedup();
		assert_eq!(unique.len(), 10);
		assert_eq!(sample(&names, 0.0001, &[7; 32], 3).len(), 1);
		assert_eq!(sample(&names, 1.0, &[7; 32], 3), names);
	}
}
