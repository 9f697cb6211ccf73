//! Printing for people (text) and for scripts (`--json`, one JSON document on stdout).

use serde::Serialize;

/// Prints `value` as JSON, or `text()` for people.
pub fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
	if json {
		match serde_json::to_string_pretty(value) {
			Ok(s) => println!("{s}"),
			Err(e) => eprintln!("error: cannot encode the output as JSON: {e}"),
		}
	} else {
		println!("{}", text());
	}
}

/// A failure whose `--json` document, with its own `"error"`, is already on stdout: the
/// command exits non-zero without printing a second document.
#[derive(Debug)]
pub struct AlreadyReported(pub String);

impl std::fmt::Display for AlreadyReported {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.write_str(&self.0)
	}
}

impl std::error::Error for AlreadyReported {}

/// Reports a failure: `{"error": …}` on stdout with `--json`, else `error: …` on stderr.
pub fn error(json: bool, error: &anyhow::Error) {
	let chain: Vec<String> = error.chain().map(|e| e.to_string()).collect();
	if json && error.downcast_ref::<AlreadyReported>().is_some() {
		return;
	}
	if json {
		println!("{}", serde_json::json!({ "error": chain.join(": ") }));
	} else {
		eprintln!("error: {}", chain.join("\n  caused by: "));
	}
}
