//! `--wait`'s progress: the phase a job is in, with the time each phase took, on a
//! spinner for people (nothing with `--json`).

use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};

/// A job's phases so far.
pub struct Phases {
	bar: ProgressBar,
	current: Option<(&'static str, Instant)>,
	done: Vec<(&'static str, Duration)>,
}

impl Phases {
	/// A spinner, hidden with `--json`.
	pub fn start(json: bool) -> Self {
		let bar = if json {
			ProgressBar::hidden()
		} else {
			let bar = ProgressBar::new_spinner();
			if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
				bar.set_style(style);
			}
			bar.enable_steady_tick(Duration::from_millis(120));
			bar
		};
		Phases { bar, current: None, done: Vec::new() }
	}

	/// Says what is happening without changing phase.
	pub fn note(&self, message: String) {
		self.bar.set_message(message);
	}

	/// Ends the current phase (printing how long it took) and starts `phase`.
	pub fn enter(&mut self, phase: &'static str, message: String) {
		self.close_current();
		self.current = Some((phase, Instant::now()));
		self.bar.set_message(format!("[{phase}] {message}"));
	}

	fn close_current(&mut self) {
		if let Some((phase, since)) = self.current.take() {
			let took = since.elapsed();
			self.bar.println(format!("  ✓ {phase:<9} {}", human(took)));
			self.done.push((phase, took));
		}
	}

	/// Stops the spinner; the phases and their times on one line.
	pub fn finish(mut self) -> String {
		self.close_current();
		self.bar.finish_and_clear();
		timeline(&self.done)
	}
}

/// `posted 2.1 s → matched 14 s → result 0.4 s`.
pub fn timeline(phases: &[(&'static str, Duration)]) -> String {
	phases
		.iter()
		.map(|(phase, took)| format!("{phase} {}", human(*took)))
		.collect::<Vec<_>>()
		.join(" → ")
}

/// A duration as people read it: `0.4 s`, `14 s`, `3 min 5 s`.
fn human(took: Duration) -> String {
	let secs = took.as_secs_f64();
	if secs < 10.0 {
		format!("{secs:.1} s")
	} else if secs < 60.0 {
		format!("{secs:.0} s")
	} else {
		let whole = took.as_secs();
		format!("{} min {} s", whole / 60, whole % 60)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn phases_read_in_order_with_their_times() {
		let phases = [
			("posted", Duration::from_millis(2_140)),
			("matched", Duration::from_secs(14)),
			("result", Duration::from_secs(185)),
		];
		assert_eq!(timeline(&phases), "posted 2.1 s → matched 14 s → result 3 min 5 s");
	}
}
