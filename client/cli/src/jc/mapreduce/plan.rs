//! A map-reduce file, and the shards its records split into.
//!
//! ```toml
//! input = "numbers.txt"   # one record per line; or a directory, one file per record
//! map = "square.toml"     # a job file: its image maps /in/records/* to /out/records/*
//! reduce = "sum.toml"     # optional: a job file that reads every map output at /in/records
//! shards = 4
//! spot_check = 0.01
//! attempts = 3
//! out = "result"
//! verify_reduce = true    # re-run the reduce here and compare its root before accepting
//! ```

use super::super::{
	jobfile::{self, JobRequest, SubmitArgs},
	spot_check::{record_names, RECORDS_IN},
};
use anyhow::{anyhow, bail, Context, Result};
use modicum_client::settings;
use modicum_offchain::job::package::Input;
use serde::Deserialize;
use std::{
	io::{BufRead, BufReader, Write},
	path::{Path, PathBuf},
};

/// The most shards one map job may have.
pub const MAX_SHARDS: usize = 256;
/// The most times one shard may be posted.
pub const MAX_ATTEMPTS: u32 = 10;

/// A map-reduce file's keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapReduceFile {
	input: PathBuf,
	map: PathBuf,
	reduce: Option<PathBuf>,
	shards: Option<usize>,
	spot_check: Option<f64>,
	attempts: Option<u32>,
	out: Option<PathBuf>,
	verify_reduce: Option<bool>,
}

/// What the command line may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
	pub shards: Option<usize>,
	pub spot_check: Option<f64>,
	pub attempts: Option<u32>,
	pub out: Option<PathBuf>,
}

/// A map-reduce job with every value known and checked.
#[derive(Debug)]
pub struct Plan {
	/// Where the records come from.
	pub input: PathBuf,
	/// The map job (without its records).
	pub map: JobRequest,
	/// The reduce job (without its inputs), if any.
	pub reduce: Option<JobRequest>,
	pub shards: usize,
	/// The fraction of each shard's records the JC re-computes.
	pub spot_check: f64,
	/// How many times a shard (or the reduce) may be posted.
	pub attempts: u32,
	/// Where the final output goes (new or empty).
	pub out: PathBuf,
	/// Whether the JC re-runs the reduce here and compares roots before accepting it.
	pub verify_reduce: bool,
}

/// Reads `path` and the job files it names, with `overrides` laid over it.
pub fn read(path: &Path, overrides: &Overrides) -> Result<Plan> {
	let text = std::fs::read_to_string(path)
		.with_context(|| format!("reading the map-reduce file {}", path.display()))?;
	let file: MapReduceFile = toml::from_str(&text).map_err(|e| {
		anyhow!("{}: {}", path.display(), settings::parse_error_without_secrets(&text, &e))
	})?;
	let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
	let job = |file: &Path, role: &str| -> Result<JobRequest> {
		let request = jobfile::resolve(&SubmitArgs {
			job_file: Some(base.join(file)),
			..Default::default()
		})?;
		if request.additions.inputs.iter().any(|input| input.target == RECORDS_IN) {
			bail!(
				"{}: the {role} job's records at {RECORDS_IN} come from the map-reduce file; \
				 drop that input",
				file.display()
			);
		}
		if request.replicas > 1 {
			bail!("{}: a {role} job is checked by spot checks, not replicas", file.display());
		}
		Ok(request)
	};
	let plan = Plan {
		input: base.join(&file.input),
		map: job(&file.map, "map")?,
		reduce: file.reduce.as_deref().map(|f| job(f, "reduce")).transpose()?,
		shards: overrides.shards.or(file.shards).unwrap_or(4),
		spot_check: overrides.spot_check.or(file.spot_check).unwrap_or(0.01),
		attempts: overrides.attempts.or(file.attempts).unwrap_or(3),
		out: overrides
			.out
			.clone()
			.unwrap_or_else(|| base.join(file.out.unwrap_or("result".into()))),
		verify_reduce: file.verify_reduce.unwrap_or(true),
	};
	check(&plan)?;
	Ok(plan)
}

fn check(plan: &Plan) -> Result<()> {
	if !(1..=MAX_SHARDS).contains(&plan.shards) {
		bail!("shards must be 1 to {MAX_SHARDS}, not {}", plan.shards);
	}
	if !(plan.spot_check > 0.0 && plan.spot_check <= 1.0) {
		bail!("spot_check must be a fraction in (0, 1], not {}", plan.spot_check);
	}
	if !(1..=MAX_ATTEMPTS).contains(&plan.attempts) {
		bail!("attempts must be 1 to {MAX_ATTEMPTS}, not {}", plan.attempts);
	}
	let out_in_use = std::fs::read_dir(&plan.out).map(|mut d| d.next().is_some()).unwrap_or(false);
	if out_in_use {
		bail!("{} is not empty: name a new directory for the output", plan.out.display());
	}
	Ok(())
}

/// One shard's records: files `names` under `dir`.
#[derive(Debug)]
pub struct ShardRecords {
	pub dir: PathBuf,
	pub names: Vec<String>,
}

/// Splits the records of `input` into `shards` contiguous shards of near-equal size,
/// one directory each under `work`. A file gives a record per line (named by its line
/// number, zero-padded so names sort in input order); a directory a record per file
/// (named as the file).
pub fn split(input: &Path, shards: usize, work: &Path) -> Result<Vec<ShardRecords>> {
	let meta = std::fs::metadata(input)
		.with_context(|| format!("reading the input {}", input.display()))?;
	let total = if meta.is_dir() { record_names(input)?.len() } else { count_lines(input)? };
	if total == 0 {
		bail!("{} holds no records", input.display());
	}
	if shards > total {
		bail!("{shards} shards for {total} record(s): at most one shard per record");
	}
	let mut out: Vec<ShardRecords> = (0..shards)
		.map(|i| {
			let dir = work.join(format!("shard-{i}")).join("records");
			std::fs::create_dir_all(&dir)?;
			Ok(ShardRecords { dir, names: Vec::new() })
		})
		.collect::<Result<_>>()?;
	let shard_of = |index: usize| index * shards / total;
	if meta.is_dir() {
		for (index, name) in record_names(input)?.into_iter().enumerate() {
			let shard = &mut out[shard_of(index)];
			std::fs::copy(input.join(&name), shard.dir.join(&name))
				.with_context(|| format!("copying record {name}"))?;
			shard.names.push(name);
		}
	} else {
		let width = (total - 1).to_string().len().max(6);
		let reader = BufReader::new(std::fs::File::open(input)?);
		for (index, line) in reader.split(b'\n').enumerate() {
			let mut record = line.with_context(|| format!("reading {}", input.display()))?;
			record.push(b'\n');
			let name = format!("{index:0width$}");
			let shard = &mut out[shard_of(index)];
			std::fs::File::create(shard.dir.join(&name))?.write_all(&record)?;
			shard.names.push(name);
		}
	}
	Ok(out)
}

/// The records of a text file: its lines, a last line without a newline included.
fn count_lines(path: &Path) -> Result<usize> {
	let reader = BufReader::new(
		std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
	);
	let mut lines = 0;
	for line in reader.split(b'\n') {
		line?;
		lines += 1;
	}
	Ok(lines)
}

/// `request` reading the records of `dir` at /in/records.
pub fn with_records(request: &JobRequest, dir: &Path) -> JobRequest {
	let mut request = request.clone();
	request.additions.inputs.push(Input { source: dir.to_path_buf(), target: RECORDS_IN.into() });
	request
}

#[cfg(test)]
mod tests {
	use super::*;

	fn names(shards: &[ShardRecords]) -> Vec<Vec<String>> {
		shards.iter().map(|s| s.names.clone()).collect()
	}

	#[test]
	fn lines_split_into_contiguous_near_equal_shards_in_input_order() -> Result<()> {
		let dir = tempfile::tempdir()?;
		let input = dir.path().join("in.txt");
		std::fs::write(&input, "a\nb\n\nd\ne")?;
		let shards = split(&input, 2, &dir.path().join("work"))?;
		assert_eq!(names(&shards), [vec!["000000", "000001", "000002"], vec!["000003", "000004"]]);
		assert_eq!(std::fs::read(shards[0].dir.join("000002"))?, b"\n");
		assert_eq!(std::fs::read(shards[1].dir.join("000004"))?, b"e\n");
		Ok(())
	}

	#[test]
	fn a_directory_gives_a_record_per_file_and_bad_splits_are_refused() -> Result<()> {
		let dir = tempfile::tempdir()?;
		let input = dir.path().join("records");
		std::fs::create_dir(&input)?;
		for name in ["c", "a", "b"] {
			std::fs::write(input.join(name), name)?;
		}
		let shards = split(&input, 3, &dir.path().join("w1"))?;
		assert_eq!(names(&shards), [vec!["a"], vec!["b"], vec!["c"]]);
		let too_many = split(&input, 4, &dir.path().join("w2")).unwrap_err();
		assert!(too_many.to_string().contains("at most one shard per record"), "{too_many}");
		let empty = dir.path().join("empty.txt");
		std::fs::write(&empty, "")?;
		assert!(split(&empty, 1, &dir.path().join("w3")).is_err());
		Ok(())
	}

	#[test]
	fn a_plan_refuses_records_in_the_map_job_and_bad_numbers() -> Result<()> {
		let dir = tempfile::tempdir()?;
		let job = "image = \"modicum/base:1\"\ndirectory = \"//Dave\"\n";
		std::fs::write(dir.path().join("map.toml"), job)?;
		std::fs::write(
			dir.path().join("bad-map.toml"),
			format!("{job}inputs = [\"x:/in/records\"]\n"),
		)?;
		let file = dir.path().join("mr.toml");
		std::fs::write(&file, "input = \"in.txt\"\nmap = \"map.toml\"\n")?;
		let plan = read(&file, &Overrides::default())?;
		assert_eq!((plan.shards, plan.spot_check, plan.attempts), (4, 0.01, 3));
		assert!(plan.reduce.is_none());
		for (overrides, wanted) in [
			(Overrides { shards: Some(0), ..Default::default() }, "shards must be"),
			(Overrides { spot_check: Some(1.5), ..Default::default() }, "spot_check must be"),
			(Overrides { attempts: Some(0), ..Default::default() }, "attempts must be"),
		] {
			let e = read(&file, &overrides).unwrap_err().to_string();
			assert!(e.contains(wanted), "{e}");
		}
		std::fs::write(&file, "input = \"in.txt\"\nmap = \"bad-map.toml\"\n")?;
		let e = read(&file, &Overrides::default()).unwrap_err().to_string();
		assert!(e.contains("drop that input"), "{e}");
		Ok(())
	}
}
