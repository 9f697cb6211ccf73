//! `modicum jc …`: everything a Job Creator does, from pushing an image to accepting
//! (or disputing) the result.

mod best;
mod explain;
mod jobfile;
mod mapreduce;
mod progress;
mod replicas;
mod rerun_check;
mod show;
mod spot_check;
mod submit;

pub use show::{describe_match, match_json};

use crate::{output, Global};
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use jobfile::SubmitArgs;
use modicum_client::{
	calls::Market,
	chain::MatchInfo,
	keys, reference_text,
	settings::{self, ChainSettings},
	types::{MatchState, OfferRef, PostedResult, RejectReason},
	units::{format_amount, format_moment},
	AccountId, Chain, Keypair, MarketEvent,
};
use modicum_offchain::{
	directory,
	job::{ruling, verify},
};
use serde::Deserialize;
use std::path::PathBuf;

/// A JC's configuration file: `[chain]` and defaults for `submit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JcConfig {
	#[serde(default)]
	chain: ChainSettings,
}

#[derive(Subcommand)]
pub enum JcCommand {
	/// Register as a Job Creator (holds the registration bond).
	Register,
	/// Trust (or with --remove, stop trusting) a mediator.
	Trust {
		/// The mediator (SS58, 0x hex or //Name).
		mediator: String,
		/// Remove it from the trusted list instead.
		#[arg(long)]
		remove: bool,
	},
	/// Post a job: a local image, with inputs, arguments and environment, from flags
	/// or a job file; pushed to a directory and offered on chain.
	Submit(Box<SubmitArgs>),
	/// Print a commented job file with every key (`modicum jc template > job.toml`).
	Template,
	/// Why a posted job offer is not matched: its deposit, and for each open resource
	/// offer the first rule that rules it out.
	Explain {
		/// The job offer id.
		offer_id: u64,
	},
	/// Show a match: state, parties, deadlines, result.
	Status {
		/// The match id.
		match_id: u64,
	},
	/// Download a posted result, check its Merkle root and unpack it.
	Result {
		/// The match id.
		match_id: u64,
		/// Where to unpack it.
		#[arg(long, default_value = "result")]
		out: PathBuf,
	},
	/// Print the job's stdout and stderr from its posted result.
	Logs {
		/// The match id.
		match_id: u64,
	},
	/// Accept posted results: their RPs are paid. Several ids go out in one
	/// transaction; each is accepted or refused on its own, and the command fails if
	/// any was refused (`--json`: `{"matches": [one entry per match], "error"}`).
	Accept {
		/// The match ids.
		#[arg(required = true, num_args = 1..)]
		match_ids: Vec<u64>,
	},
	/// Reject a posted result; the match's mediator re-runs the job (with `--records`,
	/// those records of a record job first).
	Reject {
		/// The match id.
		match_id: u64,
		/// Why: wrong-results, result-not-found, too-much-cost, invalid-result-status,
		/// directory-unavailable.
		#[arg(long)]
		reason: RejectReason,
		/// For wrong-results of a record job: the records whose outputs are wrong (at
		/// most 16, comma-separated, as `jc spot-check` names them). The mediator tries
		/// these first: if they are right, you lose the dispute without a whole re-run.
		#[arg(long, value_delimiter = ',')]
		records: Vec<String>,
	},
	/// Close an overdue match: its RP posted nothing by the completion deadline (its
	/// deposit pays you), or its mediator gave no verdict by the mediation deadline (a
	/// failed mediation: the RP is paid half the estimate, the mediator nothing).
	Timeout {
		/// The match id.
		match_id: u64,
	},
	/// Cancel an unmatched job offer.
	Cancel {
		/// The offer id.
		offer_id: u64,
	},
	/// List your open job offers and unsettled matches, with what each awaits.
	List,
	/// Check a record job's result (one output per record under /out/records) by
	/// re-computing a random sample of its records here and comparing them with the
	/// posted outputs, which come with a Merkle proof against the root on chain.
	SpotCheck {
		/// The match id.
		match_id: u64,
		/// The job file the job was submitted with (its records are the input at
		/// /in/records).
		#[arg(long)]
		job: PathBuf,
		/// The fraction of records to re-compute (at least one).
		#[arg(long, default_value_t = 0.01)]
		fraction: f64,
		/// Accept the result when every sampled record agrees.
		#[arg(long)]
		accept: bool,
	},
	/// Run a map job over records (one per line of a file, or one per file of a
	/// directory) as shards on different RPs: spot-check each shard, post again a
	/// shard that lapses or is wrong, then run the reduce job over all the outputs.
	#[command(name = "mapreduce")]
	MapReduce(mapreduce::MapReduceArgs),
}

struct Session {
	chain: Chain,
	signer: Keypair,
	me: AccountId,
}

async fn session(global: &Global) -> Result<Session> {
	let file: JcConfig = settings::load(global.config.as_deref())?;
	let chain_settings = global.chain(file.chain);
	let signer = chain_settings.keypair()?;
	let chain = Chain::connect(chain_settings.url()).await?;
	Ok(Session { me: keys::account_of(&signer), chain, signer })
}

pub async fn run(global: &Global, command: JcCommand) -> Result<()> {
	let s = session(global).await?;
	let market = Market::new(&s.chain, &s.signer);
	let json = global.json;
	match command {
		JcCommand::Register => {
			if s.chain.job_creator(&s.me).await?.is_some() {
				output::print(
					json,
					&serde_json::json!({"registered": true, "already": true}),
					|| format!("{} is already a registered job creator", s.me),
				);
				return Ok(());
			}
			market.register_job_creator().await?;
			let bond = s.chain.parameters().await?.registration_bond;
			output::print(json, &serde_json::json!({"registered": true, "bond": bond}), || {
				format!("registered {} as a job creator; bond held: {}", s.me, format_amount(bond))
			});
		},
		JcCommand::Trust { mediator, remove } => {
			let mediator = keys::parse_account(&mediator)?;
			if remove {
				market.distrust_mediator(mediator).await?;
			} else {
				market.trust_mediator(mediator).await?;
			}
			output::print(
				json,
				&serde_json::json!({"mediator": mediator.to_string(), "trusted": !remove}),
				|| {
					format!(
						"{} mediator {mediator}",
						if remove { "no longer trusting" } else { "trusting" }
					)
				},
			);
		},
		JcCommand::Submit(args) => submit::submit(&s, *args, json).await?,
		JcCommand::Status { match_id } => {
			let info = open_match(&s.chain, match_id).await?;
			output::print(json, &match_json(match_id, &info), || describe_match(match_id, &info));
		},
		JcCommand::Result { match_id, out } => {
			let info = open_match(&s.chain, match_id).await?;
			let result = posted_result(&info)
				.ok_or_else(|| anyhow!("match {match_id} has no result yet"))?;
			fetch_result(&s.chain, &info, &result, &out).await?;
			let files = list_files(&out);
			output::print(
				json,
				&serde_json::json!({"match_id": match_id, "unpacked_to": out, "files": files}),
				|| {
					format!(
						"result of match {match_id} verified and unpacked to {}:\n  {}",
						out.display(),
						files.join("\n  ")
					)
				},
			);
		},
		JcCommand::Logs { match_id } => {
			let info = open_match(&s.chain, match_id).await?;
			let result = posted_result(&info)
				.ok_or_else(|| anyhow!("match {match_id} has no result yet"))?;
			let dir = tempfile::tempdir()?;
			fetch_result(&s.chain, &info, &result, dir.path()).await?;
			let read =
				|name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
			let (stdout, stderr) = (read("stdout"), read("stderr"));
			output::print(json, &serde_json::json!({"stdout": stdout, "stderr": stderr}), || {
				format!("--- stdout ---\n{stdout}--- stderr ---\n{stderr}")
			});
		},
		JcCommand::Accept { match_ids } => accept(&market, json, &match_ids).await?,
		JcCommand::Reject { match_id, reason, records } => {
			let info = open_match(&s.chain, match_id).await?;
			if let Some(result) = posted_result(&info) {
				refuse_pointless_reject(&result, reason)?;
			}
			if records.is_empty() {
				market.reject_result(match_id, reason).await?;
			} else if reason == RejectReason::WrongResults {
				market.reject_records(match_id, &records).await?;
			} else {
				bail!("--records names wrong outputs: it goes with --reason wrong-results");
			}
			let info = s.chain.match_info(match_id).await?;
			let deadline = match info.map(|i| i.state) {
				Some(MatchState::InMediation { mediation_deadline, .. }) => {
					Some(mediation_deadline)
				},
				_ => None,
			};
			output::print(
				json,
				&serde_json::json!({"match_id": match_id, "reason": reason.name(), "mediation_deadline": deadline}),
				|| {
					let by = deadline.map_or_else(|| "its deadline".into(), format_moment);
					format!("rejected match {match_id} ({reason}); its mediator rules by {by}")
				},
			);
		},
		JcCommand::Timeout { match_id } => {
			let info = open_match(&s.chain, match_id).await?;
			let events = match info.state {
				MatchState::InMediation { .. } => market.mediation_timeout(match_id).await?,
				_ => market.timeout(match_id).await?,
			};
			report_settlement(json, match_id, &events);
		},
		JcCommand::Cancel { offer_id } => {
			market.cancel_offer(OfferRef::Job(offer_id)).await?;
			output::print(json, &serde_json::json!({"cancelled": offer_id}), || {
				format!("job offer {offer_id} cancelled; its deposit is released")
			});
		},
		JcCommand::List => show::list(&s, json).await?,
		JcCommand::SpotCheck { match_id, job, fraction, accept } => {
			let asked = spot_check::SpotCheckRequest { match_id, job, fraction, accept };
			spot_check::spot_check(&s, asked, json).await?
		},
		JcCommand::MapReduce(args) => mapreduce::mapreduce(&s, args, json).await?,
		JcCommand::Template => print!("{}", jobfile::TEMPLATE),
		JcCommand::Explain { offer_id } => explain::explain(&s, offer_id, json).await?,
	}
	Ok(())
}

async fn open_match(chain: &Chain, match_id: u64) -> Result<MatchInfo> {
	chain
		.match_info(match_id)
		.await?
		.ok_or_else(|| anyhow!("match {match_id} is not open (never existed, or already settled)"))
}

fn posted_result(info: &MatchInfo) -> Option<PostedResult> {
	match &info.state {
		MatchState::ResultPosted { result, .. }
		| MatchState::InMediation { result, .. }
		| MatchState::AwaitingReplicas { result } => Some(result.clone()),
		MatchState::Matched | MatchState::Committed { .. } => None,
	}
}

/// Downloads the result archive, checks its digest and Merkle root, and only then puts
/// it at `out` (which must be new or empty): the mediator checks results the same way.
async fn fetch_result(
	chain: &Chain,
	info: &MatchInfo,
	result: &PostedResult,
	out: &std::path::Path,
) -> Result<()> {
	let (directory, storage) = (&info.job.directory, info.job.local_storage_limit);
	match download_result(chain, directory, storage, result, out).await? {
		None => Ok(()),
		Some(BadResult { reason, why }) => bail!("{why}: reject it with --reason {reason}"),
	}
}

/// A posted result that is not what it claims: the rejection it calls for, and why.
struct BadResult {
	reason: RejectReason,
	why: String,
}

/// As [`fetch_result`] for a job stored in `directory` with `storage_limit`, telling a
/// result that is bad (the RP's fault, `Some`) from a download that failed here (`Err`).
async fn download_result(
	chain: &Chain,
	directory: &AccountId,
	storage_limit: u64,
	result: &PostedResult,
	out: &std::path::Path,
) -> Result<Option<BadResult>> {
	let directory = chain
		.directory(directory)
		.await?
		.ok_or_else(|| anyhow!("the job's directory is no longer registered"))?;
	let endpoint: directory::DirectoryEndpoint = reference_text(&directory.endpoint).parse()?;
	let posted = verify::PostedArchive {
		registry: endpoint.registry,
		reference: reference_text(&result.reference),
		root: result.hash,
		max_bytes: verify::max_archive_bytes(storage_limit),
	};
	let out = out.to_path_buf();
	let deadline = std::time::Instant::now() + RESULT_DOWNLOAD_TIME;
	let fetched =
		tokio::task::spawn_blocking(move || verify::fetch_into(&posted, &out, deadline)).await?;
	match fetched {
		Ok(_) => Ok(None),
		Err(e @ verify::VerifyError::RootMismatch { .. }) => {
			Ok(Some(BadResult { reason: RejectReason::WrongResults, why: e.to_string() }))
		},
		Err(e) if e.result_is_bad() => {
			Ok(Some(BadResult { reason: RejectReason::ResultNotFound, why: e.to_string() }))
		},
		Err(e) => Err(e.into()),
	}
}

/// How long a result download may take.
const RESULT_DOWNLOAD_TIME: std::time::Duration = std::time::Duration::from_secs(600);

/// A result that says the RP ran nothing and charges nothing cost the JC nothing: the
/// mediator rules such a rejection unfounded (README, "Mediation rulings"), so the CLI
/// does not let a JC pay a fine for it.
fn refuse_pointless_reject(result: &PostedResult, reason: RejectReason) -> Result<()> {
	let free = result.instruction_count == 0 && result.bandwidth_used == 0;
	let challenges_directory =
		matches!(reason, RejectReason::ResultNotFound | RejectReason::DirectoryUnavailable);
	if ruling::ran_nothing(result.status) && free && !challenges_directory {
		bail!(
			"the RP reported {} and charges nothing, so you pay nothing for it; a rejection \
			 would be ruled against you. Accept it (`modicum jc accept`) and post the job again",
			result.status
		);
	}
	Ok(())
}

fn list_files(dir: &std::path::Path) -> Vec<String> {
	let mut files = Vec::new();
	let mut stack = vec![dir.to_path_buf()];
	while let Some(d) = stack.pop() {
		for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
			let path = entry.path();
			if path.is_dir() {
				stack.push(path);
			} else if let Ok(rel) = path.strip_prefix(dir) {
				files.push(rel.display().to_string());
			}
		}
	}
	files.sort();
	files
}

fn report_settlement(json: bool, match_id: u64, events: &[MarketEvent]) {
	let lines = settlement_lines(events);
	output::print(json, &serde_json::json!({"match_id": match_id, "settlement": lines}), || {
		format!("match {match_id} settled:\n  {}", lines.join("\n  "))
	});
}

/// What a settlement moved, a line per payment, fine and release.
fn settlement_lines(events: &[MarketEvent]) -> Vec<String> {
	events
		.iter()
		.filter_map(|e| match e {
			MarketEvent::Paid { from, to, amount, reason, .. } => {
				Some(format!("paid {} from {from} to {to} ({reason:?})", format_amount(*amount)))
			},
			MarketEvent::Fined { who, amount, .. } => {
				Some(format!("fined {who} {}", format_amount(*amount)))
			},
			MarketEvent::DepositReleased { who, amount, .. } => {
				Some(format!("released {} to {who}", format_amount(*amount)))
			},
			MarketEvent::MatchClosed { outcome, .. } => Some(format!("closed: {outcome:?}")),
			_ => None,
		})
		.collect()
}

/// `jc accept`: one result as its own call, several in one batch, each accepted or
/// refused on its own.
async fn accept(market: &Market<'_>, json: bool, match_ids: &[u64]) -> Result<()> {
	if let [match_id] = match_ids {
		let events = market.accept_result(*match_id).await?;
		report_settlement(json, *match_id, &events);
		return Ok(());
	}
	let mut seen = std::collections::BTreeSet::new();
	if let Some(twice) = match_ids.iter().find(|id| !seen.insert(**id)) {
		bail!("match {twice} is named twice; name each match once");
	}
	let outcomes = market.accept_results(match_ids).await;
	let (mut reports, mut text, mut refused) = (Vec::new(), Vec::new(), 0);
	for (match_id, outcome) in match_ids.iter().zip(outcomes) {
		match outcome {
			Ok(events) => {
				let lines = settlement_lines(&events);
				text.push(format!("match {match_id} settled:\n  {}", lines.join("\n  ")));
				reports.push(serde_json::json!({"match_id": match_id, "settlement": lines}));
			},
			Err(e) => {
				refused += 1;
				text.push(format!("match {match_id} not accepted: {e}"));
				reports.push(serde_json::json!({"match_id": match_id, "error": e.to_string()}));
			},
		}
	}
	let failure = (refused > 0).then(|| {
		format!(
			"{refused} of {} results were not accepted (see above); the others are settled",
			match_ids.len()
		)
	});
	let document = serde_json::json!({"matches": reports, "error": failure});
	output::print(json, &document, || text.join("\n"));
	match failure {
		Some(failure) => Err(output::AlreadyReported(failure).into()),
		None => Ok(()),
	}
}
