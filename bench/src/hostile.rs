//! Hostile jobs through the whole market (issue 15): each image below is pushed to the
//! directory and posted as a job, run by the real RP daemon, and must end in the status
//! listed, with the RP still running (it takes the next case, and a plain job at the
//! end), the host's free disk back within the job's storage limit once the job is
//! over, and the RP's peak resident memory while it ran read from `VmHWM` (reset
//! before each case through `/proc/<pid>/clear_refs`).

use crate::{
	market::{Market, MDC},
	procfs,
	row::{Quantity, Row},
	setup::{say, Docker},
	Ctx,
};
use anyhow::{bail, ensure, Context, Result};
use modicum_client::{
	calls::Market as Calls,
	chain::JobTerms,
	events::MarketEvents,
	keys, reference,
	types::{Architecture, ResultStatus},
	MarketEvent,
};
use std::{process::Command, time::Duration};

/// Storage limit of every case.
const STORAGE_LIMIT: u64 = 32 << 20;
/// Memory limit of every case.
const MEMORY_LIMIT: u64 = 128 << 20;

struct Case {
	name: &'static str,
	what: &'static str,
	/// Dockerfile lines after `FROM modicum/base:1`.
	dockerfile: String,
	expect: ResultStatus,
	/// The job's bandwidth limit (the decompression bomb's is small, so its cap is).
	bandwidth_limit: u64,
	/// The job's CPU milliseconds.
	instruction_limit: u64,
}

/// Most cases' CPU milliseconds: the CPU-bound ones must hit it.
const INSTRUCTIONS: u64 = 5_000;

fn cmd(script: &str) -> String {
	format!("CMD [\"sh\", \"-c\", {}]\n", serde_json::Value::from(script))
}

fn cases(smoke: bool) -> Vec<Case> {
	let bomb_mib = if smoke { 256 } else { 1024 };
	let case = |name, what, dockerfile: String, expect| Case {
		name,
		what,
		dockerfile,
		expect,
		bandwidth_limit: 256 << 20,
		instruction_limit: INSTRUCTIONS,
	};
	vec![
		case("fork-bomb", "fork bomb", cmd("b() { b | b & }; b; while :; do :; done"), ResultStatus::InstructionsExceeded),
		case(
			"memory-hog",
			"memory hog (doubles a string)",
			cmd("s=xxxxxxxxxxxxxxxx; while true; do s=\"$s$s\"; done"),
			ResultStatus::MemoryExceeded,
		),
		case("endless-loop", "endless loop", cmd("while true; do :; done"), ResultStatus::InstructionsExceeded),
		case("sleeper", "sleeps past its budget", cmd("sleep 100000"), ResultStatus::InstructionsExceeded),
		case(
			"deleted-file",
			"writes 3 GB into a file it deleted",
			cmd("exec 3>/out/hidden; busybox rm /out/hidden; dd if=/dev/zero bs=1048576 count=3000 >&3"),
			ResultStatus::ExceptionOccurred,
		),
		case(
			"volume",
			"declares a VOLUME and writes to it",
			format!("VOLUME /data\n{}", cmd("dd if=/dev/zero of=/data/x bs=1048576 count=100")),
			ResultStatus::JobDescriptionError,
		),
		Case {
			// Pushing newlines through the log until they fill the storage cap took more
			// than 5 CPU seconds in a loaded CI run (InstructionsExceeded): as for the
			// empty files, room enough that the storage cap, not the clock, stops it.
			instruction_limit: 60_000,
			..case(
				"newline-flood",
				"prints 20 million empty lines",
				cmd("yes '' | head -n 20000000"),
				ResultStatus::StorageExceeded,
			)
		},
		case(
			"huge-stdout",
			"prints 200 MB",
			cmd("yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 200000000"),
			ResultStatus::StorageExceeded,
		),
		case(
			"deep-paths",
			"20 nested 250-character directories",
			cmd(&format!(
				"d=/out; for i in $(seq 20); do d=$d/{}; done; mkdir -p $d 2>/dev/null; echo x > $d/f; exit 0",
				"n".repeat(250)
			)),
			ResultStatus::StorageExceeded,
		),
		Case {
			// Creating the 65,536 files its inodes allow takes a few CPU seconds on a
			// slow machine: room enough that the storage cap, not the clock, stops it.
			instruction_limit: 60_000,
			..case(
				"empty-files",
				"a million empty files",
				cmd("i=0; while : > /out/f$i; do i=$((i+1)); done 2>/dev/null; exit 0"),
				ResultStatus::StorageExceeded,
			)
		},
		case(
			"sparse-file",
			"a 1 GB sparse file",
			cmd("dd if=/dev/zero of=/out/sparse bs=1 count=1 seek=1000000000"),
			ResultStatus::StorageExceeded,
		),
		case(
			"network",
			"tries the network",
			cmd("busybox wget -q -T 3 -O /out/page http://1.1.1.1/"),
			ResultStatus::ExceptionOccurred,
		),
		Case {
			name: "decompression-bomb",
			what: "a layer of zeros that unpacks 1,000-fold",
			dockerfile: format!(
				"RUN [\"dd\", \"if=/dev/zero\", \"of=/zeros\", \"bs=1048576\", \"count={bomb_mib}\"]\n{}",
				cmd("echo never")
			),
			expect: ResultStatus::JobDescriptionError,
			// Its compressed size fits; 16 times the limit is far below what it unpacks to.
			bandwidth_limit: (bomb_mib << 20) / 64,
			instruction_limit: INSTRUCTIONS,
		},
	]
}

/// One row per case, plus `hostile.next-job` (the plain job after them all).
pub async fn run(ctx: &Ctx) -> Vec<Row> {
	let all = cases(ctx.smoke);
	let blank = |name: &str, what: &str| {
		Row::new(
			&format!("hostile.{name}"),
			&format!("hostile job: {what}"),
			"—",
			"its status posted; RP alive; host disk back within the storage limit",
		)
	};
	if let Docker::Missing(reason) = &ctx.docker {
		return all.iter().map(|c| blank(c.name, c.what).skip(reason)).collect();
	}
	match measure(ctx, &all, &blank).await {
		Ok(rows) => rows,
		Err(e) => all.iter().map(|c| blank(c.name, c.what).fail(&e)).collect(),
	}
}

async fn measure(ctx: &Ctx, all: &[Case], blank: &dyn Fn(&str, &str) -> Row) -> Result<Vec<Row>> {
	for case in all {
		let dockerfile = format!("FROM modicum/base:1\n{}", case.dockerfile);
		modicum_tests::build_image(&format!("modicum-hostile/{}:1", case.name), &dockerfile)?;
	}
	let mut market = Market::start("hostile", &ctx.market(1, 1)).await?;
	let alice = keys::from_uri("//Alice")?;
	let rp = market.daemons.iter().find(|d| d.name() == "rp-0").context("no RP")?.pid();
	let mut events = MarketEvents::subscribe(&market.chain).await?;
	let mut rows = Vec::new();
	for case in all {
		say("hostile", case.what);
		let mut row = blank(case.name, case.what);
		let image = format!("modicum-hostile/{}:1", case.name);
		let measured = run_case(&mut market, &mut events, &alice, rp, case, &image, &mut row).await;
		rows.push(row.finished(measured));
	}
	let mut next = Row::new(
		"hostile.next-job",
		"after them all: a plain job on the same RP",
		"—",
		"Completed",
	);
	let plain = Case {
		name: "trivial",
		what: "plain job",
		dockerfile: String::new(),
		expect: ResultStatus::Completed,
		bandwidth_limit: 256 << 20,
		instruction_limit: INSTRUCTIONS,
	};
	let measured =
		run_case(&mut market, &mut events, &alice, rp, &plain, "modicum/trivial-job:1", &mut next)
			.await;
	rows.push(next.finished(measured));
	Ok(rows)
}

#[allow(clippy::too_many_arguments)]
async fn run_case(
	market: &mut Market,
	events: &mut MarketEvents,
	alice: &modicum_client::Keypair,
	rp: u32,
	case: &Case,
	image: &str,
	row: &mut Row,
) -> Result<()> {
	let repository = format!("jobs/{}", case.name);
	let pushed = modicum_tests::push_as_alice(&market.registry, image, &repository).await?;
	if case.name == "decompression-bomb" {
		let docker = modicum_offchain::docker::connect().await?;
		// As on the RP's own machine, which has never seen the image: only then is it
		// fetched, and so checked.
		for tag in [image.to_string(), format!("{}/{repository}:latest", market.registry)] {
			let untag =
				bollard::query_parameters::RemoveImageOptions { force: true, ..Default::default() };
			docker.remove_image(&tag, Some(untag), None).await?;
		}
	}
	let free_before = free_disk()?;
	reset_peak(rp);
	let chain = market.chain.clone();
	let calls = Calls::new(&chain, alice);
	let now = chain.now_ms().await?;
	let terms = JobTerms {
		provider_record: None,
		instruction_limit: case.instruction_limit,
		bandwidth_limit: case.bandwidth_limit,
		instruction_max_price: 2_000_000,
		bandwidth_max_price: 1,
		completion_deadline: now + 600_000,
		match_incentive: MDC / 1000,
		first_layer_hash: pushed.first_layer,
		ram_limit: MEMORY_LIMIT,
		local_storage_limit: STORAGE_LIMIT,
		directory: keys::parse_account("//Dave")?,
		job_reference: reference(&format!("{repository}@{}", pushed.digest))?,
		job_hash: pushed.job_hash,
		arch: Architecture::Amd64,
	};
	let charlie = keys::parse_account("//Charlie")?;
	let offer = modicum_tests::post_job(&chain, alice, terms, charlie, 300_000).await?;
	let (match_id, status) = result_of(market, events, offer).await?;
	let peak_mib = procfs::peak_rss_kib(rp)? as f64 / 1024.0;
	calls.accept_result(match_id).await?;
	market.check()?;
	// Containers, mounts and pulled layers of the job are gone once it is over.
	tokio::time::sleep(Duration::from_secs(1)).await;
	let grown = free_before.saturating_sub(free_disk()?);
	let within = grown <= STORAGE_LIMIT;
	let text = format!("{status:?}; RP peak {peak_mib:.1} MiB");
	row.measured = Some(Quantity::new(peak_mib, "MiB", text));
	row.baseline = Some(Quantity::new(0.0, "", format!("expected {:?}", case.expect)));
	let grown_mib = grown as f64 / (1 << 20) as f64;
	row.comparison = Some(Quantity::new(
		grown_mib,
		"MiB",
		format!("host disk {grown_mib:+.1} MiB (limit {} MiB)", STORAGE_LIMIT >> 20),
	));
	row.met = Some(status == case.expect && within);
	row.details = serde_json::json!({
		"status": format!("{status:?}"),
		"expected": format!("{:?}", case.expect),
		"rp_peak_rss_mib": procfs::round3(peak_mib),
		"disk_grown_bytes": grown,
		"match_id": match_id,
	});
	ensure!(status == case.expect, "posted {status:?}, expected {:?}", case.expect);
	ensure!(within, "the host's disk shrank by {grown} bytes");
	Ok(())
}

/// The match of `offer` and the status its RP posted.
async fn result_of(
	market: &mut Market,
	events: &mut MarketEvents,
	offer: u64,
) -> Result<(u64, ResultStatus)> {
	let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
	let mut match_id = None;
	loop {
		let block = match tokio::time::timeout_at(deadline, events.next()).await {
			Ok(Some(block)) => block?,
			Ok(None) => bail!("the event subscription ended"),
			Err(_) => bail!("no result within 5 minutes:\n{}", market.logs()),
		};
		for event in block.events {
			match event {
				MarketEvent::Matched { match_id: id, job_offer_id, .. }
					if job_offer_id == offer =>
				{
					match_id = Some(id)
				},
				MarketEvent::ResultPosted { match_id: id, result, .. } if Some(id) == match_id => {
					return Ok((id, result.status))
				},
				_ => {},
			}
		}
		market.check()?;
	}
}

/// Free bytes of the filesystem holding the temporary directory (the RP's work
/// directory) — on this machine also the Docker engine's.
fn free_disk() -> Result<u64> {
	let out =
		Command::new("df").args(["-B1", "--output=avail"]).arg(std::env::temp_dir()).output()?;
	let text = String::from_utf8_lossy(&out.stdout);
	text.lines().nth(1).and_then(|l| l.trim().parse().ok()).context("df gave no figure")
}

/// Resets the process's peak resident set (`VmHWM`) to its current one.
fn reset_peak(pid: u32) {
	let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}
