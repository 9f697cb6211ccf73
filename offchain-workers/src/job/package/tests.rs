use super::*;
use crate::executor::{run_job, test_support::*, ExecStatus, JobSpec};
use std::{fs, os::unix::fs::PermissionsExt};

#[test]
fn inputs_parse_with_and_without_targets() {
	let input: Input = "./data".parse().unwrap();
	assert_eq!(input, Input { source: "./data".into(), target: "/in/data".into() });
	let input: Input = "./data:/in/set".parse().unwrap();
	assert_eq!(input, Input { source: "./data".into(), target: "/in/set".into() });
	let input: Input = "/home/me/x.csv:/data/x.csv".parse().unwrap();
	assert_eq!(input.source, PathBuf::from("/home/me/x.csv"));
	assert_eq!(input.target, "/data/x.csv");
}

#[test]
fn targets_the_executor_or_engine_owns_are_refused() {
	for target in [
		"/out",
		"/out/x",
		"/tmp",
		"/tmp/a",
		"/proc/x",
		"/dev",
		"/sys/x",
		"/etc/hosts",
		"/",
		"/in/../etc",
		"/in/./x",
		"/in//x",
		"/in/x/",
	] {
		assert!(
			matches!(check_target(target), Err(PackageError::BadTarget { .. })),
			"{target} accepted"
		);
	}
	assert!(matches!("./d:relative".parse::<Input>(), Ok(i) if i.target == "/in/d:relative"));
	assert!(matches!("./d:/out/x".parse::<Input>(), Err(PackageError::BadTarget { .. })));
	for target in ["/in/data", "/output", "/tmpfiles", "/etc/app.conf"] {
		check_target(target).unwrap();
	}
}

#[test]
fn overlapping_inputs_are_refused() {
	let input = |t: &str| Input { source: ".".into(), target: t.into() };
	assert!(check_overlaps(&[input("/in/a"), input("/in/ab")]).is_ok());
	assert!(matches!(
		check_overlaps(&[input("/in/a"), input("/in/a/b")]),
		Err(PackageError::Overlap(..))
	));
	assert!(matches!(
		check_overlaps(&[input("/in/a"), input("/in/a")]),
		Err(PackageError::Overlap(..))
	));
}

#[test]
fn environment_variables_need_a_portable_key() {
	assert_eq!(parse_env("MODE=fast").unwrap(), ("MODE".into(), "fast".into()));
	assert_eq!(parse_env("_X=a=b").unwrap(), ("_X".into(), "a=b".into()));
	assert_eq!(parse_env("EMPTY=").unwrap(), ("EMPTY".into(), String::new()));
	for bad in ["NOEQUALS", "=x", "1X=a", "A-B=c", "A B=c"] {
		assert!(matches!(parse_env(bad), Err(PackageError::EnvSyntax(_))), "{bad} accepted");
	}
}

#[test]
fn symlinks_in_inputs_are_refused() {
	let dir = tempfile::tempdir().unwrap();
	fs::create_dir(dir.path().join("data")).unwrap();
	std::os::unix::fs::symlink("/etc/passwd", dir.path().join("data/link")).unwrap();
	let input = Input { source: dir.path().join("data"), target: "/in/data".into() };
	let tarball = dir.path().join("t.tar");
	assert!(
		matches!(pack_inputs(&[input], &tarball), Err(PackageError::Unsupported(p)) if p.ends_with("link"))
	);
}

#[test]
fn inputs_are_packed_read_only_and_owned_by_root() {
	let dir = tempfile::tempdir().unwrap();
	let data = dir.path().join("data");
	fs::create_dir_all(data.join("sub")).unwrap();
	fs::write(data.join("sub/a.txt"), "alpha").unwrap();
	fs::write(data.join("run.sh"), "#!/bin/sh").unwrap();
	fs::set_permissions(data.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
	fs::write(data.join("secret"), "s").unwrap();
	fs::set_permissions(data.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
	let tarball = dir.path().join("t.tar");
	let inputs = [Input { source: data, target: "/in/data".into() }];
	let summaries = pack_inputs(&inputs, &tarball).unwrap();
	assert_eq!((summaries[0].bytes, summaries[0].files), (15, 3));
	// A dry run counts the same without reading a byte.
	assert_eq!(input_size(&inputs).unwrap(), (15, 3));
	let mut archive = tar::Archive::new(fs::File::open(&tarball).unwrap());
	let mut seen = Vec::new();
	for entry in archive.entries().unwrap() {
		let entry = entry.unwrap();
		let header = entry.header();
		assert_eq!(
			(header.uid().unwrap(), header.gid().unwrap(), header.mtime().unwrap()),
			(0, 0, 0)
		);
		seen.push((entry.path().unwrap().display().to_string(), header.mode().unwrap()));
	}
	assert_eq!(
		seen,
		[
			("in/data".to_string(), 0o555),
			("in/data/run.sh".into(), 0o555),
			("in/data/secret".into(), 0o444),
			("in/data/sub".into(), 0o555),
			("in/data/sub/a.txt".into(), 0o444),
		]
	);
}

/// The job image runs under the executor with its inputs, arguments and environment,
/// and keeps the base image's first layer.
#[tokio::test]
async fn a_job_image_carries_inputs_arguments_and_environment() {
	let Some(docker) = docker_or_skip("a_job_image_carries_inputs_arguments_and_environment").await
	else {
		return;
	};
	let base = job_image(&docker, "package-base", "echo own > /out/own").await.unwrap();
	let dir = tempfile::tempdir().unwrap();
	let data = dir.path().join("data");
	fs::create_dir_all(data.join("sub")).unwrap();
	fs::write(data.join("sub/a.txt"), "alpha\n").unwrap();
	fs::write(dir.path().join("one.txt"), "one\n").unwrap();
	let script = "cat /in/data/sub/a.txt /in/one.txt > /out/inputs; echo \"$GREETING $1\" > /out/params; touch /in/data/new 2> /out/write-error; exit 0";
	let additions = Additions {
		inputs: vec![
			format!("{}:/in/data", data.display()).parse().unwrap(),
			dir.path().join("one.txt").display().to_string().parse().unwrap(),
		],
		args: Some(vec!["/bin/sh".into(), "-c".into(), script.into(), "sh".into(), "world".into()]),
		env: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
	};
	let built = build_job_image(&docker, &base, &additions).await.unwrap();
	assert_eq!((built.input_bytes, built.input_files), (10, 2));
	let first_layer = |image: &str| {
		let docker = docker.clone();
		let image = image.to_string();
		async move { crate::docker::image_first_layer(&docker, &image).await.unwrap() }
	};
	assert_eq!(first_layer(&built.image).await, first_layer(&base).await);

	let spec = small_spec(built.image.clone());
	let work = tempfile::tempdir().unwrap();
	let name = format!("test-package-{}", std::process::id());
	let outcome = run_job(&docker, &spec, work.path(), &name).await.unwrap();
	assert_eq!(outcome.status, ExecStatus::Completed, "{outcome:?}");
	let out = outcome.result_dir.join("out");
	assert_eq!(fs::read_to_string(out.join("inputs")).unwrap(), "alpha\none\n");
	assert_eq!(fs::read_to_string(out.join("params")).unwrap(), "hello world\n");
	assert!(
		!fs::read_to_string(out.join("write-error")).unwrap().is_empty(),
		"inputs were writable"
	);
	assert!(!out.join("own").exists(), "the image's own command ran");

	// Without arguments the image's command stays.
	let env_only = Additions {
		env: BTreeMap::from([("X".to_string(), "1".to_string())]),
		..Default::default()
	};
	let built = build_job_image(&docker, &base, &env_only).await.unwrap();
	let work = tempfile::tempdir().unwrap();
	let spec = JobSpec { image: built.image, ..spec };
	let outcome = run_job(&docker, &spec, work.path(), &format!("{name}-own")).await.unwrap();
	assert_eq!(outcome.status, ExecStatus::Completed, "{outcome:?}");
	assert!(outcome.result_dir.join("out/own").exists());
}

#[tokio::test]
async fn an_image_without_a_command_needs_arguments() {
	let Some(docker) = docker_or_skip("an_image_without_a_command_needs_arguments").await else {
		return;
	};
	let base = ensure_busybox_image(&docker).await.unwrap();
	let env_only = Additions {
		env: BTreeMap::from([("X".to_string(), "1".to_string())]),
		..Default::default()
	};
	assert!(matches!(
		build_job_image(&docker, &base, &env_only).await,
		Err(PackageError::NoCommand(_))
	));
}
