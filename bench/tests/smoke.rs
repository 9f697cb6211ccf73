//! Runs every figure of `modicum-bench` in smoke mode (tiny sizes) so the harness does
//! not rot: the report must parse, every row must be there, and every measured row must
//! hold positive, finite numbers. No timing is asserted: that is the full run's job.
//!
//! Needs the release `modicum-node` and a `modicum` build (scripts/test.sh builds both).
//! Docker figures are skipped, with the reason in the report, when no engine answers,
//! unless `MODICUM_REQUIRE_DOCKER=1`, which makes the run fail instead.

use std::process::Command;

const ROWS: [&str; 22] = [
	"latency",
	"overhead",
	"throughput",
	"chain-rate",
	"chain-rate.batched",
	"chain-rate.state",
	"weight",
	"weight.flatness",
	"solver",
	"solver.large",
	"solver.incremental",
	"memory.rp",
	"memory.mediator",
	"memory.solver",
	"memory.directory",
	"memory.book.rp",
	"memory.book.solver",
	"latency.local",
	"throughput.local",
	"chain-rate.local",
	"chain-rate.local.batched",
	"chain-rate.local.state",
];

/// Rows the issue sets no goal for: measured and reported, with no verdict.
const NO_GOAL: [&str; 1] = ["chain-rate.local"];

fn number(row: &serde_json::Value, field: &str) -> f64 {
	let value = row[field]["value"].as_f64().unwrap_or(f64::NAN);
	assert!(value.is_finite(), "{} {field}: {value} in {row:#}", row["id"]);
	assert!(row[field]["text"].as_str().is_some_and(|t| !t.is_empty()));
	value
}

fn positive(row: &serde_json::Value, field: &str) {
	let value = number(row, field);
	assert!(value > 0.0, "{} {field}: {value} in {row:#}", row["id"]);
}

#[test]
fn every_figure_runs_in_smoke_mode() {
	let out = tempfile::tempdir().unwrap();
	let output = Command::new(env!("CARGO_BIN_EXE_modicum-bench"))
		.arg("--smoke")
		.arg("--json")
		.arg("--out")
		.arg(out.path())
		.output()
		.expect("running modicum-bench");
	let stderr = String::from_utf8_lossy(&output.stderr);
	assert!(output.status.success(), "modicum-bench --smoke failed:\n{stderr}");

	let printed: serde_json::Value = serde_json::from_slice(&output.stdout)
		.unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stderr}"));
	let written: serde_json::Value =
		serde_json::from_str(&std::fs::read_to_string(out.path().join("latest.json")).unwrap())
			.unwrap();
	assert_eq!(printed, written, "the printed and written JSON differ");
	assert_eq!(written["mode"], "smoke");
	for field in ["cpu", "kernel", "rustc", "git_commit"] {
		assert!(
			written["machine"][field].as_str().is_some_and(|s| !s.is_empty()),
			"machine.{field} missing"
		);
	}
	assert!(written["machine"]["cores"].as_u64().unwrap_or(0) > 0);

	let rows = written["rows"].as_array().expect("rows");
	let markdown = std::fs::read_to_string(out.path().join("latest.md")).unwrap();
	for id in ROWS {
		let row = rows
			.iter()
			.find(|r| r["id"] == id)
			.unwrap_or_else(|| panic!("no row {id} in {written:#}"));
		let figure = row["figure"].as_str().unwrap();
		assert!(markdown.contains(figure), "the markdown has no row for {id}");
		assert_eq!(row["failed"], false, "{id} failed: {}", row["skipped"]);
		if let Some(reason) = row["skipped"].as_str() {
			assert!(!reason.is_empty());
			eprintln!("{id} skipped: {reason}");
			continue;
		}
		// Latency is the market's time beyond the plain run: at smoke size (one run) noise
		// can make it negative, so it must only be a number; its ratio must be positive.
		if id.starts_with("latency") {
			number(row, "measured");
			positive(row, "comparison");
		} else {
			positive(row, "measured");
			// An overhead may come out negative on a noisy machine; it must be a number.
			number(row, "comparison");
		}
		positive(row, "baseline");
		if NO_GOAL.contains(&id) {
			assert!(row["met"].is_null(), "{id} has a verdict without a goal");
		} else {
			assert!(row["met"].is_boolean(), "{id} has no verdict");
		}
		assert!(!row["details"].is_null(), "{id} has no details");
	}
	// Every hostile job ended in its status, the RP alive and the disk back within the
	// limit; a case that did not is a failed row.
	let hostile: Vec<_> = rows
		.iter()
		.filter(|r| r["id"].as_str().is_some_and(|id| id.starts_with("hostile.")))
		.collect();
	assert_eq!(hostile.len(), HOSTILE_CASES, "hostile rows: {hostile:#?}");
	for row in hostile {
		assert_eq!(row["failed"], false, "{} failed: {}", row["id"], row["skipped"]);
		if row["skipped"].is_null() {
			assert_eq!(row["met"], true, "{row:#}");
			positive(row, "measured");
		}
	}
}

/// The hostile cases and the plain job after them.
const HOSTILE_CASES: usize = 14;
