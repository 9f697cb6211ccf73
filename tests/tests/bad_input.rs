//! Bad input to the node fails fast with a message that says what is wrong.

use modicum_tests::{free_port, run_node_command};

#[test]
fn unknown_chain_name_is_refused_with_the_built_in_names() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	let base = dir.path().display().to_string();
	let (ok, _, stderr) = run_node_command(&["--chain", "nosuchchain", "--base-path", &base])?;
	assert!(!ok);
	assert!(stderr.contains("nosuchchain") && stderr.contains("dev, local"), "{stderr}");
	Ok(())
}

#[test]
fn corrupt_chain_spec_is_refused() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	let spec = dir.path().join("broken.json");
	std::fs::write(&spec, "{ \"name\": \"half a spec\", ")?;
	let base = dir.path().join("base").display().to_string();
	let (ok, _, stderr) =
		run_node_command(&["--chain", &spec.display().to_string(), "--base-path", &base])?;
	assert!(!ok);
	assert!(stderr.to_lowercase().contains("pars"), "expected a parse error: {stderr}");
	Ok(())
}

/// Starts a dev node with `flags(busy_port, free_port)` while `busy_port` is taken, and
/// expects it to refuse at once, naming the port.
fn refuses_busy_port(flags: impl Fn(&str, &str) -> Vec<String>) -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
	let busy = taken.local_addr()?.port().to_string();
	let free = free_port()?.to_string();
	let base = dir.path().display().to_string();
	let mut args = vec!["--dev", "--base-path", &base, "--no-prometheus", "--no-telemetry"];
	let extra = flags(&busy, &free);
	args.extend(extra.iter().map(String::as_str));
	let (ok, _, stderr) = run_node_command(&args)?;
	assert!(!ok);
	assert!(stderr.contains("already in use") && stderr.contains(&busy), "{stderr}");
	Ok(())
}

#[test]
fn occupied_rpc_port_is_refused() -> anyhow::Result<()> {
	refuses_busy_port(|busy, free| {
		vec!["--rpc-port".into(), busy.into(), "--port".into(), free.into()]
	})
}

#[test]
fn occupied_p2p_port_is_refused() -> anyhow::Result<()> {
	refuses_busy_port(|busy, free| {
		let listen = format!("/ip4/127.0.0.1/tcp/{busy}");
		vec!["--rpc-port".into(), free.into(), "--listen-addr".into(), listen]
	})
}
