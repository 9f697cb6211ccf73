//! The results as a markdown table (for people and the committed `latest.md`) and as
//! JSON (for scripts and the committed `latest.json`).

use crate::{machine::Machine, row::Row};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// Everything one run measured.
#[derive(Serialize)]
pub struct Report {
	/// `full` or `smoke` (tiny sizes: checks the harness, not the figures).
	pub mode: String,
	/// Seconds since the Unix epoch when the run finished.
	pub finished_at: u64,
	/// Wall seconds the run took.
	pub duration_s: f64,
	/// The machine and build.
	pub machine: Machine,
	/// Settings that shape the figures.
	pub settings: serde_json::Value,
	/// One row per figure (memory: one per daemon).
	pub rows: Vec<Row>,
}

fn cell(text: &str) -> String {
	text.replace('|', "\\|").replace('\n', " ")
}

impl Report {
	/// The markdown: title, machine, table, then notes per row.
	pub fn markdown(&self) -> String {
		let mut out = String::from("# Modicum benchmark results\n\n");
		if self.mode == "smoke" {
			out.push_str(
				"**Smoke run**: tiny sizes that only check the harness works; the numbers are not the figures.\n\n",
			);
		}
		out.push_str(&format!("Machine: {}.\n\n", self.machine.markdown()));
		out.push_str(&format!(
			"Run: `modicum-bench{}`, {:.0} s; daemons: {} build of `modicum`.\n\n",
			if self.mode == "smoke" { " --smoke" } else { "" },
			self.duration_s,
			self.settings["cli_build"].as_str().unwrap_or("?"),
		));
		out.push_str("| figure | paper | measured | baseline (same run) | ratio / overhead | goal | met? |\n");
		out.push_str("|---|---|---|---|---|---|---|\n");
		for row in &self.rows {
			let dash = || "—".to_string();
			let met = match (row.met, &row.skipped) {
				(_, Some(reason)) if row.failed => format!("**failed**: {}", first_line(reason)),
				(_, Some(reason)) => format!("skipped: {}", first_line(reason)),
				(Some(true), None) => "yes".into(),
				(Some(false), None) => "**no**".into(),
				(None, None) => dash(),
			};
			out.push_str(&format!(
				"| {} | {} | {} | {} | {} | {} | {} |\n",
				cell(&row.figure),
				cell(&row.paper),
				cell(&row.measured.as_ref().map_or_else(dash, |q| q.text.clone())),
				cell(&row.baseline.as_ref().map_or_else(dash, |q| q.text.clone())),
				cell(&row.comparison.as_ref().map_or_else(dash, |q| q.text.clone())),
				cell(&row.goal),
				cell(&met),
			));
		}
		let noted: Vec<&Row> = self.rows.iter().filter(|r| !r.notes.is_empty()).collect();
		if !noted.is_empty() {
			out.push_str("\n## Notes\n\n");
			for row in noted {
				for note in &row.notes {
					out.push_str(&format!("- `{}`: {}\n", row.id, note));
				}
			}
		}
		out
	}

	/// The JSON document.
	pub fn json(&self) -> Result<String> {
		Ok(serde_json::to_string_pretty(self)?)
	}

	/// Writes `latest.md` and `latest.json` into `dir`.
	pub fn write(&self, dir: &Path) -> Result<()> {
		std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
		std::fs::write(dir.join("latest.md"), self.markdown())?;
		std::fs::write(dir.join("latest.json"), self.json()? + "\n")?;
		Ok(())
	}
}

fn first_line(text: &str) -> &str {
	let line = text.lines().next().unwrap_or_default();
	// A failure's first line can be long; the JSON has all of it.
	match line.char_indices().nth(200) {
		Some((i, _)) => &line[..i],
		None => line,
	}
}
