use super::*;
use clap::CommandFactory;

/// `modicum jc submit`'s flags, as clap knows them.
fn submit_flags() -> Vec<String> {
	let command = crate::Cli::command();
	let jc = command.find_subcommand("jc").expect("a jc command");
	let submit = jc.find_subcommand("submit").expect("a submit command");
	submit.get_arguments().filter_map(|a| a.get_long().map(str::to_string)).collect()
}

/// The job file key of a flag.
fn key_of(flag: &str) -> String {
	match flag {
		"input" => "inputs".into(),
		"arg" => "args".into(),
		"mediator" => "mediators".into(),
		"exclude-rp" => "exclude_rps".into(),
		other => other.replace('-', "_"),
	}
}

fn write(dir: &Path, text: &str) -> PathBuf {
	let path = dir.join("job.toml");
	std::fs::write(&path, text).unwrap();
	path
}

fn with_file(path: PathBuf) -> SubmitArgs {
	SubmitArgs { job_file: Some(path), ..Default::default() }
}

/// The template with its commented-out keys (`# deposit = …`) switched on.
fn template_with_every_key() -> String {
	TEMPLATE
		.lines()
		.map(|line| match line.strip_prefix("# ") {
			Some(rest) if rest.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')) => rest,
			_ => line,
		})
		.collect::<Vec<_>>()
		.join("\n")
}

#[test]
fn every_flag_has_a_key_in_the_template() {
	let template: toml::Table = toml::from_str(&template_with_every_key()).unwrap();
	let flags = submit_flags();
	assert!(flags.len() >= 20, "{flags:?}");
	for flag in flags {
		// Global flags and --dry-run (what to do, not what the job is) have no key.
		if ["dry-run", "help", "json", "config", "url", "key", "key-file"].contains(&flag.as_str())
		{
			continue;
		}
		assert!(template.contains_key(&key_of(&flag)), "--{flag} has no key in the template");
	}
}

#[test]
fn the_template_is_a_valid_job_file() {
	let dir = tempfile::tempdir().unwrap();
	let request = resolve(&with_file(write(dir.path(), TEMPLATE))).unwrap();
	assert_eq!(request.image, "modicum/wordcount:1");
	assert_eq!(request.ram, 128 << 20);
	assert_eq!(request.instruction_price, 2_000_000);
	assert_eq!(request.additions.inputs[0].source, dir.path().join("data"));
	assert_eq!(request.additions.inputs[0].target, "/in/data");
	assert_eq!(request.additions.env.get("MODE").map(String::as_str), Some("fast"));
	assert_eq!(request.out, Some(dir.path().join("result")));
	assert!(request.wait && !request.accept);
	assert_eq!(request.deposit, None);
	// Its commented-out keys are valid too.
	let request = resolve(&with_file(write(dir.path(), &template_with_every_key()))).unwrap();
	assert_eq!(request.deposit, Some(1_500_000_000_000));
}

#[test]
fn flags_override_the_file() {
	let dir = tempfile::tempdir().unwrap();
	let mut args = with_file(write(dir.path(), TEMPLATE));
	args.image = Some("other:2".into());
	args.ram = Some(ByteSize(1 << 30));
	args.inputs = vec!["here.csv".into()];
	args.env = vec!["A=1".into()];
	args.accept = true;
	let request = resolve(&args).unwrap();
	assert_eq!(request.image, "other:2");
	assert_eq!(request.ram, 1 << 30);
	// A list flag replaces the list; its paths are the shell's (relative to here).
	assert_eq!(
		request.additions.inputs,
		vec![Input { source: "here.csv".into(), target: "/in/here.csv".into() }]
	);
	assert_eq!(request.additions.env, BTreeMap::from([("A".to_string(), "1".to_string())]));
	assert!(request.accept);
	// Untouched keys keep the file's values.
	assert_eq!(request.directory, "//Dave");
}

#[test]
fn unknown_keys_are_refused_with_file_and_line() {
	let dir = tempfile::tempdir().unwrap();
	let path = write(dir.path(), "image = \"a:1\"\ndirectory = \"//Dave\"\nmemory = \"1GiB\"\n");
	let error = resolve(&with_file(path.clone())).unwrap_err().to_string();
	assert!(error.starts_with(&path.display().to_string()), "{error}");
	assert!(error.contains("line 3"), "{error}");
	assert!(error.contains("unknown field `memory`"), "{error}");
}

#[test]
fn a_missing_required_key_is_named() {
	let dir = tempfile::tempdir().unwrap();
	let path = write(dir.path(), "directory = \"//Dave\"\n");
	let error = resolve(&with_file(path)).unwrap_err().to_string();
	assert!(error.contains("the job needs `image`"), "{error}");
	let error = resolve(&SubmitArgs { image: Some("a:1".into()), ..Default::default() })
		.unwrap_err()
		.to_string();
	assert!(error.contains("--directory"), "{error}");
}

#[test]
fn bad_values_are_refused_with_their_line() {
	let dir = tempfile::tempdir().unwrap();
	for (text, expected) in [
		("image = \"a\"\ndirectory = \"d\"\nram = \"lots\"\n", "line 3"),
		("image = \"a\"\ndirectory = \"d\"\narch = \"x86\"\n", "line 3"),
		("image = \"a\"\ndirectory = \"d\"\ninputs = \"data\"\n", "line 3"),
	] {
		let error = resolve(&with_file(write(dir.path(), text))).unwrap_err().to_string();
		assert!(error.contains(expected), "{text:?}: {error}");
	}
	let text = "image = \"a\"\ndirectory = \"d\"\ninputs = [\"x:/out/x\"]\n";
	let error = resolve(&with_file(write(dir.path(), text))).unwrap_err().to_string();
	assert!(error.contains("/out"), "{error}");
	let text = "image = \"a\"\ndirectory = \"d\"\n[env]\n\"1X\" = \"y\"\n";
	let error = resolve(&with_file(write(dir.path(), text))).unwrap_err().to_string();
	assert!(error.contains("1X"), "{error}");
}

#[test]
fn a_record_requirement_comes_from_flags_or_keys() {
	let dir = tempfile::tempdir().unwrap();
	let request = resolve(&with_file(write(dir.path(), TEMPLATE))).unwrap();
	assert_eq!(request.rp_record, None, "no requirement unless asked");
	let request = resolve(&with_file(write(dir.path(), &template_with_every_key()))).unwrap();
	let record = request.rp_record.unwrap();
	assert_eq!((record.min_accepted, record.max_fault_ppm), (10, 50_000));
	let mut args = with_file(write(dir.path(), TEMPLATE));
	args.rp_max_faults = Some(2.5);
	let record = resolve(&args).unwrap().rp_record.unwrap();
	assert_eq!((record.min_accepted, record.max_fault_ppm), (0, 25_000));
	args.rp_max_faults = Some(150.0);
	let error = format!("{:#}", resolve(&args).unwrap_err());
	assert!(error.contains("from 0 to 100"), "{error}");
}
