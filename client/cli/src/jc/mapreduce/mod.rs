//! `modicum jc mapreduce job.toml`: a map job over records, split into shards that are
//! posted, matched, deposited and settled each on its own; every shard's result is
//! spot-checked (a random sample of its records re-computed here against outputs the
//! directory proves), downloaded whole and accepted, or disputed; a shard whose offer
//! lapses, whose RP stays silent or is found at fault is posted again. Once every shard
//! is accepted, the reduce job (if any) reads all their outputs at /in/records.

mod plan;
mod task;

use super::{spot_check::RECORDS_OUT, submit, Session};
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use modicum_client::{calls::Market, events::MarketEvents};
use serde::Serialize;
use std::{
	path::{Path, PathBuf},
	time::Instant,
};
use task::{Attempt, Kind, State, Task};

/// `jc mapreduce`'s arguments; flags override the file's keys.
#[derive(Args, Clone, Debug)]
pub struct MapReduceArgs {
	/// The map-reduce file (TOML): `input`, `map` (a job file), and optionally
	/// `reduce` (a job file), `shards`, `spot_check`, `attempts`, `out`.
	pub file: PathBuf,
	/// How many shards (jobs) to split the records into [default: 4].
	#[arg(long)]
	pub shards: Option<usize>,
	/// The fraction of each shard's records to re-compute here [default: 0.01].
	#[arg(long)]
	pub spot_check: Option<f64>,
	/// How many times a shard may be posted before the run gives up [default: 3].
	#[arg(long)]
	pub attempts: Option<u32>,
	/// Where the output goes: the reduce's result, or every map output under
	/// records/ [default: result, beside the file].
	#[arg(long)]
	pub out: Option<PathBuf>,
}

/// What the run reports.
#[derive(Serialize)]
struct Report {
	records: usize,
	shards: Vec<TaskReport>,
	reduce: Option<TaskReport>,
	out: Option<PathBuf>,
	succeeded: bool,
}

/// One shard or the reduce.
#[derive(Serialize)]
struct TaskReport {
	task: String,
	records: Option<usize>,
	/// `done` or `failed`.
	state: &'static str,
	match_id: Option<u64>,
	result_hash: Option<String>,
	failure: Option<String>,
	attempts: Vec<Attempt>,
}

impl TaskReport {
	fn of(task: &Task) -> TaskReport {
		let records = match &task.kind {
			Kind::Map(records) => Some(records.names.len()),
			Kind::Reduce => None,
		};
		let (state, match_id, result_hash, failure) = match &task.state {
			State::Done { match_id, result, .. } => {
				("done", Some(*match_id), Some(format!("0x{}", hex::encode(result.hash))), None)
			},
			State::Failed(why) => ("failed", None, None, Some(why.clone())),
			_ => ("failed", None, None, Some("unfinished".into())),
		};
		TaskReport {
			task: task.label.clone(),
			records,
			state,
			match_id,
			result_hash,
			failure,
			attempts: task.attempts.clone(),
		}
	}
}

/// Progress lines for people: a bar over the tasks and a line per step.
struct Lines {
	bar: ProgressBar,
	started: Instant,
}

impl task::Progress for Lines {
	fn say(&self, task: &str, what: &str) {
		let at = self.started.elapsed().as_secs();
		self.bar.println(format!("{:>3}:{:02} {task:<12} {what}", at / 60, at % 60));
	}
}

impl Lines {
	fn start(json: bool, tasks: usize) -> Lines {
		let bar = if json {
			ProgressBar::hidden()
		} else {
			let bar = ProgressBar::new(tasks as u64);
			if let Ok(style) =
				ProgressStyle::with_template("{elapsed:>4} [{bar:20}] {pos}/{len} {msg}")
			{
				bar.set_style(style);
			}
			bar
		};
		Lines { bar, started: Instant::now() }
	}
}

pub async fn mapreduce(s: &Session, args: MapReduceArgs, json: bool) -> Result<()> {
	let overrides = plan::Overrides {
		shards: args.shards,
		spot_check: args.spot_check,
		attempts: args.attempts,
		out: args.out.clone(),
	};
	let plan = plan::read(&args.file, &overrides)?;
	let work = tempfile::tempdir()?;
	let shards = plan::split(&plan.input, plan.shards, work.path())?;
	let records: usize = shards.iter().map(|s| s.names.len()).sum();
	let count = shards.len();
	let mut tasks: Vec<Task> = shards
		.into_iter()
		.enumerate()
		.map(|(i, records)| {
			let request = plan::with_records(&plan.map, &records.dir);
			Task::new(format!("shard {}/{count}", i + 1), request, Kind::Map(records))
		})
		.collect();
	let lines = Lines::start(json, count + usize::from(plan.reduce.is_some()));
	lines.bar.set_message(format!("mapping {records} records in {count} shards"));
	let settings = task::Settings {
		spot_check: plan.spot_check,
		attempts: plan.attempts,
		verify_reduce: plan.verify_reduce,
		work: work.path(),
		progress: &lines,
	};
	run(s, &mut tasks, &settings, &lines.bar).await?;

	let mut report = Report {
		records,
		shards: tasks.iter().map(TaskReport::of).collect(),
		reduce: None,
		out: None,
		succeeded: false,
	};
	let shards_done = tasks.iter().all(|t| matches!(t.state, State::Done { .. }));
	if shards_done {
		let merged = work.path().join("map-outputs");
		merge_outputs(&tasks, &merged)?;
		match &plan.reduce {
			Some(reduce) => {
				lines.bar.set_message("reducing".to_string());
				let request = plan::with_records(reduce, &merged);
				let mut reduce = [Task::new("reduce".into(), request, Kind::Reduce)];
				run(s, &mut reduce, &settings, &lines.bar).await?;
				if let State::Done { outputs, .. } = &reduce[0].state {
					move_dir(outputs, &plan.out)?;
					report.out = Some(plan.out.clone());
					report.succeeded = true;
				}
				report.reduce = Some(TaskReport::of(&reduce[0]));
			},
			None => {
				std::fs::create_dir_all(&plan.out)?;
				move_dir(&merged, &plan.out.join("records"))?;
				report.out = Some(plan.out.clone());
				report.succeeded = true;
			},
		}
	}
	lines.bar.finish_and_clear();
	let succeeded = report.succeeded;
	output::print(json, &report, || describe(&report));
	if !succeeded {
		bail!("the map-reduce did not finish: see the failed tasks above");
	}
	Ok(())
}

/// Posts every task and follows them all, block by block, until each is done or
/// failed.
async fn run(
	s: &Session,
	tasks: &mut [Task],
	set: &task::Settings<'_>,
	bar: &ProgressBar,
) -> Result<()> {
	// Subscribe before posting so no event about the offers can slip past.
	let mut events = MarketEvents::subscribe(&s.chain).await?;
	post_pending(s, tasks, set).await;
	while tasks.iter().any(|t| !t.finished()) {
		let block = events
			.next()
			.await
			.ok_or_else(|| anyhow!("the node closed the event subscription"))??;
		for event in &block.events {
			for task in tasks.iter_mut() {
				task.on_event(s, event, set).await;
			}
		}
		let now = s.chain.now_ms().await?;
		for task in tasks.iter_mut() {
			task.on_tick(s, now, set).await;
		}
		post_pending(s, tasks, set).await;
		bar.set_position(
			tasks.iter().filter(|t| matches!(t.state, State::Done { .. })).count() as u64
		);
	}
	Ok(())
}

/// Prepares every pending task's job and posts them all in one batch, each offer
/// accepted or refused on its own.
async fn post_pending(s: &Session, tasks: &mut [Task], set: &task::Settings<'_>) {
	let mut ready = Vec::new();
	for (index, task) in tasks.iter_mut().enumerate() {
		if let Some(prepared) = task.prepare_if_pending(s, set).await {
			ready.push((index, prepared));
		}
	}
	if ready.is_empty() {
		return;
	}
	let offers: Vec<_> =
		ready.iter().map(|(_, p)| (p.terms.clone(), p.deposit, p.expires_at)).collect();
	let outcomes = Market::new(&s.chain, &s.signer).post_job_offers(&offers).await;
	for ((index, prepared), outcome) in ready.into_iter().zip(outcomes) {
		let offer_id = outcome.map_err(anyhow::Error::from).and_then(|e| submit::offer_id(&e));
		tasks[index].posted(&prepared, offer_id, set);
	}
}

/// Every shard's record outputs in one directory (their names are the records' own,
/// unique across shards).
fn merge_outputs(tasks: &[Task], merged: &Path) -> Result<()> {
	std::fs::create_dir_all(merged)?;
	for task in tasks {
		if let State::Done { outputs, .. } = &task.state {
			let dir = outputs.join(RECORDS_OUT);
			for entry in
				std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
			{
				let entry = entry?;
				std::fs::rename(entry.path(), merged.join(entry.file_name()))?;
			}
		}
	}
	Ok(())
}

/// Moves `from` to `to` (new or empty), copying when they are on different file systems.
fn move_dir(from: &Path, to: &Path) -> Result<()> {
	if to.exists() {
		std::fs::remove_dir(to).with_context(|| format!("{} is not empty", to.display()))?;
	}
	if let Some(parent) = to.parent() {
		std::fs::create_dir_all(parent)?;
	}
	if std::fs::rename(from, to).is_ok() {
		return Ok(());
	}
	copy_tree(from, to).with_context(|| format!("copying the output to {}", to.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
	std::fs::create_dir_all(to)?;
	for entry in std::fs::read_dir(from)? {
		let entry = entry?;
		let target = to.join(entry.file_name());
		if entry.file_type()?.is_dir() {
			copy_tree(&entry.path(), &target)?;
		} else {
			std::fs::copy(entry.path(), target)?;
		}
	}
	Ok(())
}

fn describe(r: &Report) -> String {
	let mut text = String::new();
	for task in r.shards.iter().chain(&r.reduce) {
		let head = match (&task.match_id, &task.failure) {
			(Some(id), _) => format!("{}: accepted as match {id}", task.task),
			(None, Some(why)) => format!("{}: failed: {why}", task.task),
			(None, None) => format!("{}: unfinished", task.task),
		};
		text.push_str(&head);
		text.push_str(&format!(" ({} attempt(s))\n", task.attempts.len()));
		for (i, attempt) in task.attempts.iter().enumerate() {
			let at = attempt.resource_provider.as_deref().unwrap_or("no RP");
			let outcome = attempt.outcome.as_deref().unwrap_or("unfinished");
			text.push_str(&format!("  {}. offer {} at {at}: {outcome}\n", i + 1, attempt.offer_id));
		}
	}
	match &r.out {
		Some(out) if r.succeeded => {
			text.push_str(&format!("{} records mapped; output in {}", r.records, out.display()))
		},
		_ => text.push_str("the map-reduce did not finish"),
	}
	text
}
