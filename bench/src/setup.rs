//! What the figures need from the machine: the Docker engine (or a reason it is
//! missing), the job images, and the `modicum` binary the daemons run.

use anyhow::{bail, ensure, Context as _, Result};
use std::{path::PathBuf, process::Command, time::Instant};

/// Whether Docker-dependent figures can run.
#[derive(Clone, Debug)]
pub enum Docker {
	/// An engine answers.
	Available,
	/// None answers; the figures that need one are skipped with this reason.
	Missing(String),
}

/// Asks `docker info`. A missing engine is a skip, unless `MODICUM_REQUIRE_DOCKER=1`
/// (CI), which makes it an error.
pub fn docker() -> Result<Docker> {
	let answered = Command::new("docker").arg("info").output();
	let missing = match answered {
		Ok(output) if output.status.success() => return Ok(Docker::Available),
		Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_string(),
		Err(e) => format!("cannot run docker: {e}"),
	};
	if std::env::var("MODICUM_REQUIRE_DOCKER").as_deref() == Ok("1") {
		bail!("MODICUM_REQUIRE_DOCKER=1 but no Docker engine answers `docker info`: {missing}");
	}
	Ok(Docker::Missing(format!(
		"no Docker engine ({}); set MODICUM_REQUIRE_DOCKER=1 to make this an error",
		missing.lines().last().unwrap_or("docker info failed")
	)))
}

/// Builds the job images (`scripts/build-images.sh`: idempotent, seconds when they
/// exist).
pub fn build_images() -> Result<()> {
	let script = modicum_tests::repo_root().join("scripts/build-images.sh");
	let output = Command::new("bash").arg(&script).output().context("running build-images.sh")?;
	ensure!(
		output.status.success(),
		"scripts/build-images.sh failed:\n{}",
		String::from_utf8_lossy(&output.stderr)
	);
	Ok(())
}

/// Points `MODICUM_CLI` (read by `modicum_tests::Daemon`) at the release `modicum` when
/// it exists and nothing else was chosen: daemons are deployed as release builds, and
/// their memory and speed differ from debug ones. Call before any thread starts.
pub fn choose_cli() {
	if std::env::var_os("MODICUM_CLI").is_some() {
		return;
	}
	let target = std::env::var("CARGO_TARGET_DIR")
		.map(PathBuf::from)
		.unwrap_or_else(|_| modicum_tests::repo_root().join("target"));
	let release = target.join("release").join("modicum");
	if release.is_file() {
		std::env::set_var("MODICUM_CLI", release);
	}
}

/// Which `modicum` build the daemons run (`release` or `debug`), for the report.
pub fn cli_profile() -> String {
	match modicum_tests::modicum_binary() {
		Ok(path) if path.components().any(|c| c.as_os_str() == "release") => "release".into(),
		Ok(path) if path.components().any(|c| c.as_os_str() == "debug") => "debug".into(),
		Ok(path) => path.display().to_string(),
		Err(_) => "missing".into(),
	}
}

/// Runs `docker run --rm <image> [args…]` and returns (wall seconds, stdout, stderr).
pub async fn docker_run(image: &str, args: &[&str]) -> Result<(f64, String, String)> {
	let start = Instant::now();
	let output = tokio::process::Command::new("docker")
		.args(["run", "--rm", image])
		.args(args)
		.output()
		.await
		.context("running docker")?;
	let wall = start.elapsed().as_secs_f64();
	ensure!(
		output.status.success(),
		"docker run {image} failed: {}",
		String::from_utf8_lossy(&output.stderr)
	);
	Ok((
		wall,
		String::from_utf8_lossy(&output.stdout).into_owned(),
		String::from_utf8_lossy(&output.stderr).into_owned(),
	))
}

/// A progress line on stderr (stdout is the report).
pub fn say(figure: &str, message: impl std::fmt::Display) {
	eprintln!("[{figure}] {message}");
}
