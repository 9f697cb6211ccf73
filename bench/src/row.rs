//! One line of the results table: a figure, its baseline measured in the same run, how
//! they compare, and the goal.

use serde::Serialize;

/// A number with its unit and how the table shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Quantity {
	/// The value, in `unit`.
	pub value: f64,
	/// Its unit (`s`, `jobs/min`, `MiB`, `%`, …).
	pub unit: String,
	/// What the table shows, e.g. `plain docker run: 0.74 s`.
	pub text: String,
}

impl Quantity {
	/// A quantity shown as `text`.
	pub fn new(value: f64, unit: &str, text: impl Into<String>) -> Self {
		Quantity { value, unit: unit.into(), text: text.into() }
	}
}

/// A table row.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
	/// Stable id (`latency`, `memory.rp`, …); `--only` selects by its prefix.
	pub id: String,
	/// What is measured, as the table names it.
	pub figure: String,
	/// What the paper reported.
	pub paper: String,
	/// The goal, in words.
	pub goal: String,
	/// The figure.
	pub measured: Option<Quantity>,
	/// Its baseline, from the same run.
	pub baseline: Option<Quantity>,
	/// How the two compare (a ratio, an overhead or a difference).
	pub comparison: Option<Quantity>,
	/// Whether the goal is met (`None` when skipped or failed).
	pub met: Option<bool>,
	/// Why the row was not measured: no Docker engine, or the error that stopped it.
	pub skipped: Option<String>,
	/// Whether `skipped` is an error (the run fails) rather than a missing prerequisite.
	pub failed: bool,
	/// Findings worth reading beside the numbers (profiling, caveats).
	pub notes: Vec<String>,
	/// Every measurement behind the row.
	pub details: serde_json::Value,
}

impl Row {
	/// A row with its labels and nothing measured yet.
	pub fn new(id: &str, figure: &str, paper: &str, goal: &str) -> Self {
		Row {
			id: id.into(),
			figure: figure.into(),
			paper: paper.into(),
			goal: goal.into(),
			measured: None,
			baseline: None,
			comparison: None,
			met: None,
			skipped: None,
			failed: false,
			notes: Vec::new(),
			details: serde_json::Value::Null,
		}
	}

	/// The row, not measured because a prerequisite is missing.
	pub fn skip(mut self, reason: impl Into<String>) -> Self {
		self.skipped = Some(reason.into());
		self
	}

	/// The row, not measured because the measurement failed.
	pub fn fail(mut self, error: &anyhow::Error) -> Self {
		self.skipped = Some(format!("failed: {error:#}"));
		self.failed = true;
		self
	}

	/// The row as its measurement left it: measured, or failed with the error.
	pub fn finished(self, measured: anyhow::Result<()>) -> Self {
		match measured {
			Ok(()) => self,
			Err(e) => self.fail(&e),
		}
	}
}

/// Seconds with a sensible number of digits.
pub fn secs(s: f64) -> String {
	if s.abs() >= 100.0 {
		format!("{s:.0} s")
	} else if s.abs() >= 10.0 {
		format!("{s:.1} s")
	} else if s.abs() >= 0.1 {
		format!("{s:.2} s")
	} else {
		format!("{:.1} ms", s * 1000.0)
	}
}

/// A signed percentage (`+0.8%`).
pub fn percent(fraction: f64) -> String {
	format!("{:+.2}%", fraction * 100.0)
}
