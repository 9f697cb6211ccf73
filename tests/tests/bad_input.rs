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

#[test]
fn occupied_rpc_port_is_refused() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
	let port = taken.local_addr()?.port().to_string();
	let base = dir.path().display().to_string();
	let p2p = free_port()?.to_string();
	let (ok, _, stderr) = run_node_command(&[
		"--dev",
		"--base-path",
		&base,
		"--rpc-port",
		&port,
		"--port",
		&p2p,
		"--no-prometheus",
		"--no-telemetry",
	])?;
	assert!(!ok);
	assert!(stderr.contains("already in use") && stderr.contains(&port), "{stderr}");
	Ok(())
}

#[test]
fn occupied_p2p_port_is_refused() -> anyhow::Result<()> {
	let dir = tempfile::tempdir()?;
	let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
	let port = taken.local_addr()?.port().to_string();
	let base = dir.path().display().to_string();
	let rpc = free_port()?.to_string();
	let listen = format!("/ip4/127.0.0.1/tcp/{port}");
	let (ok, _, stderr) = run_node_command(&[
		"--dev",
		"--base-path",
		&base,
		"--rpc-port",
		&rpc,
		"--listen-addr",
		&listen,
		"--no-prometheus",
		"--no-telemetry",
	])?;
	assert!(!ok);
	assert!(stderr.contains("already in use") && stderr.contains(&port), "{stderr}");
	Ok(())
}
