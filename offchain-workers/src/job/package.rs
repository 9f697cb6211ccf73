//! The Job Creator's side of a job's content: an image, the inputs it reads, the
//! arguments of its command and its environment.
//!
//! Modicum commits to all of it with the one digest the job offer already carries, by
//! making it an image: the *job image* has the base image's layers, then one layer
//! holding every input at its target (read-only, like the rest of the job's root
//! filesystem), and a config whose CMD is the arguments and whose ENV adds the
//! variables. Its manifest digest is the job hash. The RP and the mediator pull it by
//! digest like any image, so they fetch exactly the same bytes, each checked against
//! its digest, counted as bandwidth, and judged alike: an input the directory does not
//! have is `JobNotFound`, one whose bytes do not match their digest (or a directory that
//! does not answer) is `DirectoryUnavailable` (see the module [`super`]).

use bollard::{
	query_parameters::{
		CommitContainerOptions, CreateContainerOptions, RemoveContainerOptions,
		UploadToContainerOptions,
	},
	Docker,
};
use futures::StreamExt;
use std::{
	collections::BTreeMap,
	io::Read,
	path::{Path, PathBuf},
	str::FromStr,
};

/// Where an input goes when `--input` names no target: `/in/<its file name>`.
pub const DEFAULT_INPUT_DIR: &str = "/in";

/// Paths a job cannot have inputs under: the executor mounts its own filesystems there
/// (`/out`, `/tmp`) or the engine owns them.
const RESERVED: [&str; 5] = ["/out", "/tmp", "/proc", "/sys", "/dev"];
/// Files the engine bind-mounts over the image's.
const ENGINE_FILES: [&str; 3] = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];

/// The label of a job image listing its inputs (target, bytes, files), for people.
pub const INPUTS_LABEL: &str = "org.modicum.inputs";

/// A local file or directory the job reads at `target`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Input {
	/// On the JC's machine.
	pub source: PathBuf,
	/// Absolute path inside the job.
	pub target: String,
}

/// An `--input` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
	/// The text is not `SOURCE[:TARGET]`.
	#[error("input {0:?}: expected SOURCE or SOURCE:/TARGET")]
	InputSyntax(String),
	/// The target is not a plain absolute path.
	#[error("input target {target:?}: {reason}")]
	BadTarget {
		/// The target given.
		target: String,
		/// What is wrong with it.
		reason: String,
	},
	/// Two inputs land on the same path, or one inside the other.
	#[error("inputs overlap: {0} and {1}")]
	Overlap(String, String),
	/// An environment variable is not `KEY=VALUE` with a valid key.
	#[error("environment variable {0:?}: expected KEY=VALUE, KEY of letters, digits and _ not starting with a digit")]
	EnvSyntax(String),
	/// A source cannot be read.
	#[error("input {path}: {source}")]
	Read {
		/// The file.
		path: PathBuf,
		/// Why.
		source: std::io::Error,
	},
	/// A source holds something that is neither a regular file nor a directory.
	#[error("input {0}: only regular files and directories can be inputs (this is a symlink, socket, device or fifo)")]
	Unsupported(PathBuf),
	/// A source's name is not UTF-8.
	#[error("input {0}: file names must be UTF-8")]
	NotUtf8(PathBuf),
	/// Neither the image nor the job gives a command to run.
	#[error("{0} has no command (CMD or ENTRYPOINT): give the job's command with --arg")]
	NoCommand(String),
	/// The Docker engine refused a step.
	#[error("{action}: {source}")]
	Docker {
		/// What was being done.
		action: String,
		/// The engine's error.
		source: bollard::errors::Error,
	},
}

impl FromStr for Input {
	type Err = PackageError;

	/// `SOURCE` (the target is `/in/<file name>`) or `SOURCE:/TARGET`.
	fn from_str(text: &str) -> Result<Self, Self::Err> {
		let (source, target) = match text.rsplit_once(":/") {
			Some((source, rest)) if !source.is_empty() => (source, format!("/{rest}")),
			_ => {
				let name = Path::new(text)
					.file_name()
					.and_then(|n| n.to_str())
					.ok_or_else(|| PackageError::InputSyntax(text.into()))?;
				(text, format!("{DEFAULT_INPUT_DIR}/{name}"))
			},
		};
		check_target(&target)?;
		Ok(Input { source: PathBuf::from(source), target })
	}
}

/// A target must be absolute, plain (no `.`, `..` or `//`), not `/`, and clear of the
/// paths the executor and the engine own.
pub fn check_target(target: &str) -> Result<(), PackageError> {
	let bad = |reason: &str| {
		Err(PackageError::BadTarget { target: target.into(), reason: reason.into() })
	};
	if !target.starts_with('/') {
		return bad("must be an absolute path");
	}
	if target == "/" {
		return bad("cannot be the root directory");
	}
	let plain = target[1..].split('/').all(|part| !matches!(part, "" | "." | ".."));
	if !plain {
		return bad("must be a plain path (no '.', '..', '//' or trailing '/')");
	}
	for reserved in RESERVED {
		if target == reserved || target.starts_with(&format!("{reserved}/")) {
			return bad(&format!("{reserved} belongs to the executor or the engine"));
		}
	}
	if ENGINE_FILES.contains(&target) {
		return bad("the engine mounts its own file there");
	}
	Ok(())
}

/// `KEY=VALUE`, the key a portable shell name.
pub fn parse_env(text: &str) -> Result<(String, String), PackageError> {
	let (key, value) = text.split_once('=').ok_or_else(|| PackageError::EnvSyntax(text.into()))?;
	let mut chars = key.chars();
	let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
	if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
		return Err(PackageError::EnvSyntax(text.into()));
	}
	Ok((key.into(), value.into()))
}

/// What a job runs, beyond its image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Additions {
	/// Files and directories it reads.
	pub inputs: Vec<Input>,
	/// Its command's arguments (replacing the image's CMD); `None` keeps the image's.
	pub args: Option<Vec<String>>,
	/// Variables added to (or replacing in) the image's environment.
	pub env: BTreeMap<String, String>,
}

impl Additions {
	/// Whether the job is the image as it is.
	pub fn is_empty(&self) -> bool {
		self.inputs.is_empty() && self.args.is_none() && self.env.is_empty()
	}
}

/// The derived job image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobImage {
	/// Its local image id, to push.
	pub image: String,
	/// The inputs' bytes (file contents).
	pub input_bytes: u64,
	/// The inputs' files.
	pub input_files: u64,
}

/// What the inputs hold, as the label lists them.
#[derive(Clone, Debug, serde::Serialize)]
struct InputSummary {
	target: String,
	bytes: u64,
	files: u64,
}

/// Builds the job image of `base` with `additions` in the local engine (a container is
/// created from `base`, never started, given the inputs and committed).
pub async fn build_job_image(
	docker: &Docker,
	base: &str,
	additions: &Additions,
) -> Result<JobImage, PackageError> {
	check_overlaps(&additions.inputs)?;
	let scratch = tempfile::tempdir()
		.map_err(|source| PackageError::Read { path: std::env::temp_dir(), source })?;
	let tarball = scratch.path().join("inputs.tar");
	let (inputs, path) = (additions.inputs.clone(), tarball.clone());
	let summaries =
		tokio::task::spawn_blocking(move || pack_inputs(&inputs, &path)).await.map_err(|e| {
			PackageError::Read { path: tarball.clone(), source: std::io::Error::other(e) }
		})??;

	let original = docker
		.inspect_image(base)
		.await
		.map_err(|source| PackageError::Docker { action: format!("inspecting {base}"), source })?;
	let original = original.config.unwrap_or_default();
	let cmd = additions.args.clone().or(original.cmd.clone()).filter(|c| !c.is_empty());
	let has_entrypoint = original.entrypoint.as_ref().is_some_and(|e| !e.is_empty());
	if cmd.is_none() && !has_entrypoint {
		return Err(PackageError::NoCommand(base.into()));
	}
	let body = bollard::models::ContainerCreateBody {
		image: Some(base.into()),
		cmd: cmd.clone(),
		..Default::default()
	};
	let created =
		docker.create_container(None::<CreateContainerOptions>, body).await.map_err(|source| {
			PackageError::Docker { action: format!("creating a container from {base}"), source }
		})?;
	let config = job_config(original, cmd, additions, &summaries);
	let committed = commit(docker, &created.id, config, additions, &tarball).await;
	let remove = RemoveContainerOptions { force: true, ..Default::default() };
	let _ = docker.remove_container(&created.id, Some(remove)).await;
	Ok(JobImage {
		image: committed?,
		input_bytes: summaries.iter().map(|s| s.bytes).sum(),
		input_files: summaries.iter().map(|s| s.files).sum(),
	})
}

/// The job image's config: the base image's, with the arguments as CMD, the
/// environment merged over the image's, and the inputs listed in a label.
fn job_config(
	original: bollard::models::ImageConfig,
	cmd: Option<Vec<String>>,
	additions: &Additions,
	summaries: &[InputSummary],
) -> bollard::models::ContainerConfig {
	let mut env: BTreeMap<String, String> = original
		.env
		.unwrap_or_default()
		.iter()
		.filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
		.collect();
	env.extend(additions.env.clone());
	let mut labels = original.labels.unwrap_or_default();
	if !summaries.is_empty() {
		labels.insert(INPUTS_LABEL.into(), serde_json::to_string(summaries).unwrap_or_default());
	}
	bollard::models::ContainerConfig {
		cmd,
		entrypoint: original.entrypoint,
		env: Some(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()),
		labels: Some(labels),
		working_dir: original.working_dir,
		user: original.user,
		hostname: Some("job".into()),
		..Default::default()
	}
}

/// Copies the inputs' tarball into the container and commits it with `config`.
async fn commit(
	docker: &Docker,
	container: &str,
	config: bollard::models::ContainerConfig,
	additions: &Additions,
	tarball: &Path,
) -> Result<String, PackageError> {
	if !additions.inputs.is_empty() {
		let file = tokio::fs::File::open(tarball)
			.await
			.map_err(|source| PackageError::Read { path: tarball.into(), source })?;
		let stream = futures::stream::unfold(file, |mut file| async move {
			use tokio::io::AsyncReadExt;
			let mut buf = vec![0u8; 1 << 20];
			match file.read(&mut buf).await {
				Ok(0) => None,
				Ok(n) => {
					buf.truncate(n);
					Some((Ok(bytes::Bytes::from(buf)), file))
				},
				Err(e) => Some((Err(e), file)),
			}
		});
		let options = UploadToContainerOptions { path: "/".into(), ..Default::default() };
		docker
			.upload_to_container(container, Some(options), bollard::body_try_stream(stream.boxed()))
			.await
			.map_err(|source| PackageError::Docker {
				action: "copying the inputs in".into(),
				source,
			})?;
	}
	let options = CommitContainerOptions {
		container: Some(container.into()),
		comment: Some("modicum job: inputs, arguments and environment".into()),
		pause: false,
		..Default::default()
	};
	let committed = docker.commit_container(options, config).await.map_err(|source| {
		PackageError::Docker { action: "committing the job image".into(), source }
	})?;
	Ok(committed.id)
}

/// The inputs' bytes and files, read as [`build_job_image`] would pack them (the same
/// refusals), without packing anything.
pub fn input_size(inputs: &[Input]) -> Result<(u64, u64), PackageError> {
	check_overlaps(inputs)?;
	let mut summary = InputSummary { target: String::new(), bytes: 0, files: 0 };
	for input in inputs {
		append(
			None::<&mut tar::Builder<std::io::Sink>>,
			&input.source,
			Path::new(""),
			&mut summary,
		)?;
	}
	Ok((summary.bytes, summary.files))
}

/// No two targets may be equal or nested.
fn check_overlaps(inputs: &[Input]) -> Result<(), PackageError> {
	for (i, a) in inputs.iter().enumerate() {
		for b in &inputs[i + 1..] {
			let inside = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
			if inside(&a.target, &b.target) || inside(&b.target, &a.target) {
				return Err(PackageError::Overlap(a.target.clone(), b.target.clone()));
			}
		}
	}
	Ok(())
}

/// Writes every input into one tar at `tarball`, paths relative to `/`: contents as
/// they are, owner root, files read-only (0444, or 0555 if executable), directories
/// 0555, times zero. Symlinks and special files are refused.
fn pack_inputs(inputs: &[Input], tarball: &Path) -> Result<Vec<InputSummary>, PackageError> {
	let file = std::fs::File::create(tarball)
		.map_err(|source| PackageError::Read { path: tarball.into(), source })?;
	let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
	let mut summaries = Vec::new();
	for input in inputs {
		let mut summary = InputSummary { target: input.target.clone(), bytes: 0, files: 0 };
		let root = input.target.trim_start_matches('/');
		append(Some(&mut builder), &input.source, Path::new(root), &mut summary)?;
		summaries.push(summary);
	}
	let write_error = |source| PackageError::Read { path: tarball.into(), source };
	builder
		.into_inner()
		.map_err(write_error)?
		.into_inner()
		.map_err(|e| write_error(e.into_error()))?
		.sync_all()
		.map_err(write_error)?;
	Ok(summaries)
}

/// Walks `source` as input entry `name`, counting it into `summary` and, with a
/// `builder`, writing it there (without one nothing is opened or read: a dry run's size).
fn append<W: std::io::Write>(
	mut builder: Option<&mut tar::Builder<W>>,
	source: &Path,
	name: &Path,
	summary: &mut InputSummary,
) -> Result<(), PackageError> {
	let read_error =
		|source_error| PackageError::Read { path: source.into(), source: source_error };
	let metadata = std::fs::symlink_metadata(source).map_err(read_error)?;
	let mut header = tar::Header::new_gnu();
	header.set_uid(0);
	header.set_gid(0);
	header.set_mtime(0);
	if metadata.is_dir() {
		header.set_entry_type(tar::EntryType::Directory);
		header.set_mode(0o555);
		header.set_size(0);
		if let Some(builder) = builder.as_deref_mut() {
			builder.append_data(&mut header, name, std::io::empty()).map_err(read_error)?;
		}
		let mut entries: Vec<_> = std::fs::read_dir(source)
			.map_err(read_error)?
			.collect::<Result<_, _>>()
			.map_err(read_error)?;
		entries.sort_by_key(|e| e.file_name());
		for entry in entries {
			let file_name = entry.file_name();
			if file_name.to_str().is_none() {
				return Err(PackageError::NotUtf8(entry.path()));
			}
			append(builder.as_deref_mut(), &entry.path(), &name.join(&file_name), summary)?;
		}
	} else if metadata.is_file() {
		use std::os::unix::fs::PermissionsExt;
		let executable = metadata.permissions().mode() & 0o111 != 0;
		header.set_entry_type(tar::EntryType::Regular);
		header.set_mode(if executable { 0o555 } else { 0o444 });
		header.set_size(metadata.len());
		if let Some(builder) = builder {
			let file = std::fs::File::open(source).map_err(read_error)?;
			// Exactly the size declared, even if the file grows while it is read.
			builder
				.append_data(&mut header, name, file.take(metadata.len()))
				.map_err(read_error)?;
		}
		summary.bytes = summary.bytes.saturating_add(metadata.len());
		summary.files += 1;
	} else {
		return Err(PackageError::Unsupported(source.into()));
	}
	Ok(())
}

#[cfg(test)]
mod tests;
