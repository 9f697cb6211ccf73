//! Figure 2, runtime overhead: a ~30 s CPU-bound job (examples/spin-job) run through
//! the RP's hardened executor (`modicum_offchain::executor::run_job`: limits, cgroup
//! accounting, polling, result archive) against a plain `docker run --rm` of the same
//! image, alternated. The job reports its own CPU and wall seconds, the same way under
//! both, so CPU overhead is read from it.

use crate::{
	procfs::round3,
	row::{percent, secs, Quantity, Row},
	setup::{docker_run, say, Docker},
	stats::{median, range},
	Ctx,
};
use anyhow::{ensure, Context, Result};
use modicum_offchain::{
	docker,
	executor::{self, ExecStatus, JobSpec},
};
use std::time::{Duration, Instant};

const BASE_IMAGE: &str = "modicum/spin-job:1";

/// The figure's row.
pub async fn run(ctx: &Ctx) -> Vec<Row> {
	let mut row = Row::new(
		"overhead",
		"runtime overhead of a ~30 s CPU-bound job vs plain `docker run`",
		"+4%",
		"≤ +1%",
	);
	if let Docker::Missing(reason) = &ctx.docker {
		return vec![row.skip(reason)];
	}
	let measured = measure(ctx, &mut row).await;
	vec![row.finished(measured)]
}

/// The spin job's own report on stderr: `cpu_s=… wall_s=…`.
fn job_seconds(stderr: &str) -> Result<(f64, f64)> {
	let field = |name: &str| -> Result<f64> {
		let value = stderr
			.split_whitespace()
			.find_map(|w| w.strip_prefix(name))
			.with_context(|| format!("no {name} in the job's stderr: {stderr:?}"))?;
		Ok(value.parse()?)
	};
	Ok((field("cpu_s=")?, field("wall_s=")?))
}

/// An image whose command spins `rounds` rounds: the job takes no arguments from the
/// RP, so the count is baked into the image (one layer-less `CMD` on top of the base).
async fn image_for(rounds: u64) -> Result<String> {
	let image = format!("modicum-bench/spin:{rounds}");
	let dockerfile = format!("FROM {BASE_IMAGE}\nCMD [\"/bin/spin\", \"{rounds}\"]\n");
	let tag = image.clone();
	tokio::task::spawn_blocking(move || -> Result<()> {
		use std::{io::Write, process::Stdio};
		let mut child = std::process::Command::new("docker")
			.args(["build", "-q", "-t", &tag, "-"])
			.env("DOCKER_BUILDKIT", "0")
			.stdin(Stdio::piped())
			.stdout(Stdio::null())
			.stderr(Stdio::piped())
			.spawn()?;
		child.stdin.take().context("docker build stdin")?.write_all(dockerfile.as_bytes())?;
		let output = child.wait_with_output()?;
		ensure!(
			output.status.success(),
			"docker build: {}",
			String::from_utf8_lossy(&output.stderr)
		);
		Ok(())
	})
	.await??;
	Ok(image)
}

/// One run through the executor: (wall s, job CPU s, cgroup CPU s).
async fn executor_run(
	docker: &bollard::Docker,
	image: &str,
	target_s: f64,
	work: &std::path::Path,
	name: &str,
) -> Result<(f64, f64, f64)> {
	let limit = Duration::from_secs_f64(target_s * 10.0 + 120.0);
	// The RP's settings (cpus 1.0, pids 64) and a job offer's typical limits.
	let spec = JobSpec {
		image: image.to_string(),
		memory_limit_bytes: 128 << 20,
		instruction_limit_ms: limit.as_millis() as u64,
		storage_limit_bytes: 32 << 20,
		bandwidth_limit_bytes: 256 << 20,
		wall_clock_limit: limit,
		extra_ns_per_instruction: 0,
		cpus: 1.0,
		pids_limit: 64,
		records_dir: None,
	};
	let start = Instant::now();
	let outcome = executor::run_job(docker, &spec, work, name).await?;
	let wall = start.elapsed().as_secs_f64();
	ensure!(outcome.status == ExecStatus::Completed, "the job ended {:?}", outcome.status);
	let stderr = std::fs::read_to_string(outcome.result_dir.join("stderr"))?;
	let (cpu, _) = job_seconds(&stderr)?;
	Ok((wall, cpu, outcome.instruction_count as f64 / 1000.0))
}

async fn measure(ctx: &Ctx, row: &mut Row) -> Result<()> {
	let (target_s, reps) = if ctx.smoke { (1.0, 1) } else { (30.0, 3) };
	// Calibrate: rounds per CPU second on this machine, from a short plain run.
	let probe: u64 = if ctx.smoke { 100_000_000 } else { 1_000_000_000 };
	let (_, _, stderr) = docker_run(BASE_IMAGE, &["/bin/spin", &probe.to_string()]).await?;
	let (probe_cpu, _) = job_seconds(&stderr)?;
	let rounds = (probe as f64 * target_s / probe_cpu.max(1e-3)) as u64;
	let image = image_for(rounds).await?;
	say("overhead", format!("{rounds} rounds ≈ {}; {reps} pair(s) of runs", secs(target_s)));
	let docker = docker::connect().await?;
	let work = tempfile::tempdir()?;
	let (mut plain, mut hardened) = (Vec::new(), Vec::new());
	for rep in 0..reps {
		let name = format!("bench-overhead-{rep}");
		let job_dir = work.path().join(&name);
		// Alternate the order so a drifting machine hits both alike.
		for first_plain in [rep % 2 == 0, rep % 2 != 0] {
			if first_plain {
				let (wall, _, stderr) = docker_run(&image, &[]).await?;
				plain.push((wall, job_seconds(&stderr)?.0));
			} else {
				hardened.push(executor_run(&docker, &image, target_s, &job_dir, &name).await?);
			}
		}
		let (p, h) = (plain[rep], hardened[rep]);
		say("overhead", format!("pair {}: plain {} / executor {}", rep + 1, secs(p.0), secs(h.0)));
	}
	let plain_wall = median(&plain.iter().map(|p| p.0).collect::<Vec<_>>());
	let plain_cpu = median(&plain.iter().map(|p| p.1).collect::<Vec<_>>());
	let exec_wall = median(&hardened.iter().map(|h| h.0).collect::<Vec<_>>());
	let exec_cpu = median(&hardened.iter().map(|h| h.1).collect::<Vec<_>>());
	let cgroup_cpu = median(&hardened.iter().map(|h| h.2).collect::<Vec<_>>());
	let overhead = exec_wall / plain_wall - 1.0;
	let cpu_overhead = exec_cpu / plain_cpu - 1.0;
	row.measured = Some(Quantity::new(
		exec_wall,
		"s",
		format!("RP executor: {} (job CPU {})", secs(exec_wall), secs(exec_cpu)),
	));
	row.baseline = Some(Quantity::new(
		plain_wall,
		"s",
		format!("plain `docker run`: {} (job CPU {})", secs(plain_wall), secs(plain_cpu)),
	));
	row.comparison = Some(Quantity::new(
		overhead * 100.0,
		"%",
		format!("{} wall, {} CPU", percent(overhead), percent(cpu_overhead)),
	));
	row.met = Some(overhead <= 0.01);
	let spread = |v: &[f64]| {
		let (lo, hi) = range(v);
		format!("{}–{}", secs(lo), secs(hi))
	};
	row.notes.push(format!(
		"wall ranges: plain {}, executor {}; the executor's cgroup measured {} of CPU",
		spread(&plain.iter().map(|p| p.0).collect::<Vec<_>>()),
		spread(&hardened.iter().map(|h| h.0).collect::<Vec<_>>()),
		secs(cgroup_cpu),
	));
	row.details = serde_json::json!({
		"image": image,
		"rounds": rounds,
		"target_cpu_s": target_s,
		"pairs": reps,
		"plain": plain.iter().map(|(w, c)| serde_json::json!({"wall_s": round3(*w), "job_cpu_s": round3(*c)})).collect::<Vec<_>>(),
		"executor": hardened.iter().map(|(w, c, g)| serde_json::json!({"wall_s": round3(*w), "job_cpu_s": round3(*c), "cgroup_cpu_s": round3(*g)})).collect::<Vec<_>>(),
		"wall_overhead": round3(overhead * 100.0) / 100.0,
		"cpu_overhead": round3(cpu_overhead * 100.0) / 100.0,
	});
	Ok(())
}
