//! `modicum jc …`: everything a Job Creator does, from pushing an image to accepting
//! (or disputing) the result.

use crate::{output, Global};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use modicum_client::{
	calls::Market,
	chain::{JobTerms, MatchInfo},
	events::MarketEvents,
	keys, reference, reference_text,
	settings::{self, ChainSettings},
	types::{Architecture, MatchState, OfferRef, PostedResult, RejectReason},
	units::{format_amount, format_moment, Amount},
	AccountId, Chain, Keypair, MarketEvent,
};
use modicum_offchain::{
	directory,
	job::{ruling, verify},
};
use serde::{Deserialize, Serialize};
use std::{path::PathBuf, time::Duration};

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
	/// Push a local image to a directory and post a job offer for it.
	Submit(Box<SubmitArgs>),
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
	/// Accept a posted result: the RP is paid.
	Accept {
		/// The match id.
		match_id: u64,
	},
	/// Reject a posted result; the match's mediator re-runs the job.
	Reject {
		/// The match id.
		match_id: u64,
		/// Why: wrong-results, result-not-found, too-much-cost, invalid-result-status,
		/// directory-unavailable.
		#[arg(long)]
		reason: RejectReason,
	},
	/// Close a match whose RP posted nothing by the completion deadline.
	Timeout {
		/// The match id.
		match_id: u64,
	},
	/// Cancel an unmatched job offer.
	Cancel {
		/// The offer id.
		offer_id: u64,
	},
	/// List your open job offers and unsettled matches.
	List,
}

/// What to run and what you will pay for it.
#[derive(Args)]
pub struct SubmitArgs {
	/// The local Docker image to run (its CMD is the job; outputs go to /out).
	#[arg(long)]
	image: String,
	/// The directory to store it in (SS58, 0x hex or //Name).
	#[arg(long)]
	directory: String,
	/// Most CPU milliseconds the job may use.
	#[arg(long, default_value_t = 60_000)]
	instructions: u64,
	/// Most bytes the RP may download for it.
	#[arg(long, default_value_t = 256 << 20)]
	bandwidth: u64,
	/// Highest price per CPU millisecond.
	#[arg(long, default_value = "0.000002")]
	instruction_price: Amount,
	/// Highest price per byte downloaded.
	#[arg(long, default_value = "1planck")]
	bandwidth_price: Amount,
	/// Memory limit in bytes.
	#[arg(long, default_value_t = 128 << 20)]
	ram: u64,
	/// Local storage limit in bytes (outputs and /tmp).
	#[arg(long, default_value_t = 32 << 20)]
	storage: u64,
	/// Seconds from now by which the result must be posted.
	#[arg(long, default_value_t = 600)]
	deadline_secs: u64,
	/// What you pay the solver for matching.
	#[arg(long, default_value = "0.001")]
	match_incentive: Amount,
	/// Seconds the offer stays open unmatched.
	#[arg(long, default_value_t = 600)]
	lifetime_secs: u64,
	/// The job's architecture.
	#[arg(long, default_value = "amd64")]
	arch: Architecture,
	/// Deposit to hold; default: the chain's quote for the dearest trusted mediator.
	#[arg(long)]
	deposit: Option<Amount>,
	/// Follow the job until its result is posted.
	#[arg(long)]
	wait: bool,
	/// With --wait: download and unpack the result here.
	#[arg(long)]
	out: Option<PathBuf>,
	/// With --wait: accept the result once downloaded and verified.
	#[arg(long)]
	accept: bool,
}

/// What `submit` reports.
#[derive(Serialize)]
struct Submitted {
	offer_id: u64,
	image: String,
	job_reference: String,
	deposit: u128,
	match_id: Option<u64>,
	result: Option<ResultSummary>,
	accepted: bool,
}

/// A posted result for people and scripts.
#[derive(Serialize)]
struct ResultSummary {
	status: String,
	reference: String,
	hash: String,
	instruction_count: u64,
	bandwidth_used: u64,
	price: u128,
	unpacked_to: Option<PathBuf>,
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
		JcCommand::Submit(args) => submit(&s, *args, json).await?,
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
		JcCommand::Accept { match_id } => {
			let events = market.accept_result(match_id).await?;
			report_settlement(json, match_id, &events);
		},
		JcCommand::Reject { match_id, reason } => {
			let info = open_match(&s.chain, match_id).await?;
			if let Some(result) = posted_result(&info) {
				refuse_pointless_reject(&result, reason)?;
			}
			market.reject_result(match_id, reason).await?;
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
			let events = market.timeout(match_id).await?;
			report_settlement(json, match_id, &events);
		},
		JcCommand::Cancel { offer_id } => {
			market.cancel_offer(OfferRef::Job(offer_id)).await?;
			output::print(json, &serde_json::json!({"cancelled": offer_id}), || {
				format!("job offer {offer_id} cancelled; its deposit is released")
			});
		},
		JcCommand::List => {
			let offers: Vec<_> =
				s.chain.job_offers().await?.into_iter().filter(|(_, o)| o.owner == s.me).collect();
			let matches: Vec<_> = s
				.chain
				.matches()
				.await?
				.into_iter()
				.filter(|(_, m)| m.job_creator == s.me)
				.collect();
			let value = serde_json::json!({
				"offers": offers.iter().map(|(id, o)| serde_json::json!({"offer_id": id, "deposit": o.deposit, "expires_at": o.expires_at})).collect::<Vec<_>>(),
				"matches": matches.iter().map(|(id, m)| match_json(*id, m)).collect::<Vec<_>>(),
			});
			output::print(json, &value, || {
				let mut text = format!(
					"{} open job offer(s), {} unsettled match(es)",
					offers.len(),
					matches.len()
				);
				for (id, offer) in &offers {
					text.push_str(&format!(
						"\n  offer {id}: deposit {}, expires {}",
						format_amount(offer.deposit),
						format_moment(offer.expires_at)
					));
				}
				for (id, info) in &matches {
					text.push_str(&format!(
						"\n  match {id}: {}",
						modicum_client::vocab::state_name(&info.state)
					));
				}
				text
			});
		},
	}
	Ok(())
}

async fn submit(s: &Session, args: SubmitArgs, json: bool) -> Result<()> {
	let directory = keys::parse_account(&args.directory)?;
	let info = s
		.chain
		.directory(&directory)
		.await?
		.ok_or_else(|| anyhow!("{directory} is not a registered directory"))?;
	let endpoint: directory::DirectoryEndpoint = reference_text(&info.endpoint)
		.parse()
		.with_context(|| format!("directory {directory} registered an unusable endpoint"))?;
	if s.chain.job_creator(&s.me).await?.is_none() {
		// The directory lets only registered accounts store images.
		bail!("you are not registered as a job creator: `modicum jc register` first");
	}
	let trusted = s.chain.trusted_mediators(&s.me).await?;
	if trusted.is_empty() {
		bail!("you trust no mediator yet: `modicum jc trust <mediator>` first (a match needs one you both trust)");
	}
	let progress = spinner(json);
	progress.set_message(format!("pushing {} to {}", args.image, endpoint.registry));
	let docker = modicum_offchain::docker::connect().await?;
	let repository = format!("jobs/{}", sanitize(&args.image));
	let credential = directory::WriteCredential::new(&s.signer, &endpoint.registry);
	let pushed =
		directory::push_image(&docker, &args.image, &endpoint.registry, &repository, &credential)
			.await
			.with_context(|| format!("pushing {} to the directory", args.image))?;
	let job_reference = format!("{repository}@{}", pushed.digest);
	let job_hash = modicum_offchain::rp::parse_hash(pushed.digest.trim_start_matches("sha256:"))
		.map_err(|e| anyhow!(e))?;
	let now = s.chain.now_ms().await?;
	let completion_deadline = now.saturating_add(args.deadline_secs.saturating_mul(1000));
	let terms = JobTerms {
		instruction_limit: args.instructions,
		bandwidth_limit: args.bandwidth,
		instruction_max_price: args.instruction_price.0,
		bandwidth_max_price: args.bandwidth_price.0,
		completion_deadline,
		match_incentive: args.match_incentive.0,
		first_layer_hash: pushed.first_layer,
		ram_limit: args.ram,
		local_storage_limit: args.storage,
		directory,
		job_reference: reference(&job_reference)?,
		job_hash,
		arch: args.arch,
	};
	let deposit = match args.deposit {
		Some(amount) => amount.0,
		None => {
			let mut deposit = s.chain.quote_job_deposit(&terms, None).await?;
			for mediator in &trusted {
				if let Ok(quote) = s.chain.quote_job_deposit(&terms, Some(*mediator)).await {
					deposit = deposit.max(quote);
				}
			}
			deposit
		},
	};
	// Subscribe before posting so no event about the offer can slip past.
	let mut events = MarketEvents::subscribe(&s.chain).await?;
	progress.set_message(format!("posting the job offer (deposit {})", format_amount(deposit)));
	let expires_at = now.saturating_add(args.lifetime_secs.saturating_mul(1000));
	let posted =
		Market::new(&s.chain, &s.signer).post_job_offer(terms, deposit, expires_at).await?;
	let offer_id = posted
		.iter()
		.find_map(|e| match e {
			MarketEvent::JobOfferPosted { offer_id, .. } => Some(*offer_id),
			_ => None,
		})
		.ok_or_else(|| {
			anyhow!("the chain accepted the offer but reported no JobOfferPosted event")
		})?;
	let mut report = Submitted {
		offer_id,
		image: args.image.clone(),
		job_reference,
		deposit,
		match_id: None,
		result: None,
		accepted: false,
	};
	if !args.wait {
		progress.finish_and_clear();
		output::print(json, &report, || {
			format!(
				"job offer {offer_id} posted (deposit {}); follow it with `modicum jc list`",
				format_amount(deposit)
			)
		});
		return Ok(());
	}
	progress.set_message(format!("offer {offer_id} waiting for a match"));
	let (match_id, result, price) =
		follow(&s.chain, &mut events, offer_id, completion_deadline, &progress).await?;
	report.match_id = Some(match_id);
	let mut unpacked_to = None;
	if let Some(out) = &args.out {
		progress.set_message(format!("downloading the result of match {match_id}"));
		let info = open_match(&s.chain, match_id).await?;
		fetch_result(&s.chain, &info, &result, out).await?;
		unpacked_to = Some(out.clone());
	}
	if args.accept {
		progress.set_message(format!("accepting match {match_id}"));
		Market::new(&s.chain, &s.signer).accept_result(match_id).await?;
		report.accepted = true;
	}
	progress.finish_and_clear();
	report.result = Some(ResultSummary {
		status: result.status.name().into(),
		reference: reference_text(&result.reference),
		hash: format!("0x{}", hex::encode(result.hash)),
		instruction_count: result.instruction_count,
		bandwidth_used: result.bandwidth_used,
		price,
		unpacked_to,
	});
	output::print(json, &report, || {
		let r = report.result.as_ref();
		let mut text = format!(
			"job offer {offer_id} → match {match_id}: {} after {} CPU ms and {} bytes; price {}",
			r.map_or("", |r| r.status.as_str()),
			r.map_or(0, |r| r.instruction_count),
			r.map_or(0, |r| r.bandwidth_used),
			format_amount(price),
		);
		if let Some(out) = r.and_then(|r| r.unpacked_to.as_ref()) {
			text.push_str(&format!("\nresult verified and unpacked to {}", out.display()));
		}
		text.push_str(if report.accepted {
			"\naccepted: the RP is paid and your deposit's remainder is released"
		} else {
			"\naccept with `modicum jc accept`, or dispute with `modicum jc reject`"
		});
		text
	});
	Ok(())
}

/// Follows an offer through matched → running → result posted. Gives up once the
/// chain's clock passes the completion deadline of a matched job with no result (the
/// offer's expiry ends an unmatched one: the chain reports it).
async fn follow(
	chain: &Chain,
	events: &mut MarketEvents,
	offer_id: u64,
	completion_deadline: u64,
	progress: &ProgressBar,
) -> Result<(u64, PostedResult, u128)> {
	let mut match_id = None;
	while let Some(block) = events.next().await {
		for event in block?.events {
			match event {
				MarketEvent::Matched { match_id: id, job_offer_id, resource_provider, .. }
					if job_offer_id == offer_id =>
				{
					match_id = Some(id);
					progress.set_message(format!("match {id}: running at {resource_provider}"));
				},
				MarketEvent::OfferExpired { offer: OfferRef::Job(id), .. }
				| MarketEvent::OfferCancelled { offer: OfferRef::Job(id), .. }
					if id == offer_id =>
				{
					bail!("job offer {offer_id} left the book unmatched (expired or cancelled); its deposit is back")
				},
				MarketEvent::ResultPosted { match_id: id, result, job_price, .. }
					if Some(id) == match_id =>
				{
					return Ok((id, result, job_price));
				},
				MarketEvent::MatchClosed { match_id: id, outcome } if Some(id) == match_id => {
					bail!("match {id} closed before a result was posted: {outcome:?}")
				},
				_ => {},
			}
		}
		if let Some(id) = match_id {
			if chain.now_ms().await? > completion_deadline {
				bail!(
					"match {id}: the RP posted no result by the completion deadline; claim its deposit with `modicum jc timeout {id}`"
				)
			}
		}
	}
	bail!("the node closed the event subscription")
}

async fn open_match(chain: &Chain, match_id: u64) -> Result<MatchInfo> {
	chain
		.match_info(match_id)
		.await?
		.ok_or_else(|| anyhow!("match {match_id} is not open (never existed, or already settled)"))
}

fn posted_result(info: &MatchInfo) -> Option<PostedResult> {
	match &info.state {
		MatchState::ResultPosted { result, .. } | MatchState::InMediation { result, .. } => {
			Some(result.clone())
		},
		MatchState::Matched => None,
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
	let directory = chain
		.directory(&info.job.directory)
		.await?
		.ok_or_else(|| anyhow!("the job's directory is no longer registered"))?;
	let endpoint: directory::DirectoryEndpoint = reference_text(&directory.endpoint).parse()?;
	let posted = verify::PostedArchive {
		registry: endpoint.registry,
		reference: reference_text(&result.reference),
		root: result.hash,
		max_bytes: verify::max_archive_bytes(info.job.local_storage_limit),
	};
	let out = out.to_path_buf();
	let deadline = std::time::Instant::now() + RESULT_DOWNLOAD_TIME;
	let fetched =
		tokio::task::spawn_blocking(move || verify::fetch_into(&posted, &out, deadline)).await?;
	match fetched {
		Err(e @ verify::VerifyError::RootMismatch { .. }) => {
			bail!("{e}: reject it with --reason wrong-results")
		},
		Err(e) if e.result_is_bad() => bail!("{e}: reject it with --reason result-not-found"),
		other => Ok(other?),
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
	let lines: Vec<String> = events
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
		.collect();
	output::print(json, &serde_json::json!({"match_id": match_id, "settlement": lines}), || {
		format!("match {match_id} settled:\n  {}", lines.join("\n  "))
	});
}

pub fn match_json(match_id: u64, info: &MatchInfo) -> serde_json::Value {
	let (reaction_deadline, mediation_deadline) = match &info.state {
		MatchState::ResultPosted { reaction_deadline, .. } => (Some(*reaction_deadline), None),
		MatchState::InMediation { mediation_deadline, .. } => (None, Some(*mediation_deadline)),
		MatchState::Matched => (None, None),
	};
	let result = posted_result(info).map(|r| {
		serde_json::json!({
			"status": r.status.name(),
			"reference": reference_text(&r.reference),
			"hash": format!("0x{}", hex::encode(r.hash)),
			"instruction_count": r.instruction_count,
			"bandwidth_used": r.bandwidth_used,
		})
	});
	serde_json::json!({
		"match_id": match_id,
		"state": modicum_client::vocab::state_name(&info.state),
		"job_offer_id": info.job_offer_id,
		"resource_offer_id": info.resource_offer_id,
		"job_creator": info.job_creator.to_string(),
		"resource_provider": info.resource_provider.to_string(),
		"mediator": info.mediator.to_string(),
		"directory": info.job.directory.to_string(),
		"completion_deadline": info.job.completion_deadline,
		"reaction_deadline": reaction_deadline,
		"mediation_deadline": mediation_deadline,
		"job_creator_deposit": info.job_creator_deposit,
		"resource_provider_deposit": info.resource_provider_deposit,
		"result": result,
	})
}

pub fn describe_match(match_id: u64, info: &MatchInfo) -> String {
	let mut text = format!(
		"match {match_id}: {}\n  job offer {} ↔ resource offer {}\n  RP {}\n  mediator {}\n  completion deadline {}",
		modicum_client::vocab::state_name(&info.state),
		info.job_offer_id,
		info.resource_offer_id,
		info.resource_provider,
		info.mediator,
		format_moment(info.job.completion_deadline),
	);
	if let Some(r) = posted_result(info) {
		text.push_str(&format!(
			"\n  result: {} (root 0x{}), {} CPU ms, {} bytes",
			r.status,
			hex::encode(r.hash),
			r.instruction_count,
			r.bandwidth_used
		));
	}
	match &info.state {
		MatchState::ResultPosted { reaction_deadline, .. } => {
			let by = format_moment(*reaction_deadline);
			text.push_str(&format!("\n  react (accept/reject) before {by}"))
		},
		MatchState::InMediation { mediation_deadline, reason, .. } => text.push_str(&format!(
			"\n  disputed ({reason}); mediator rules before {}",
			format_moment(*mediation_deadline)
		)),
		MatchState::Matched => {},
	}
	text
}

fn spinner(json: bool) -> ProgressBar {
	if json {
		return ProgressBar::hidden();
	}
	let bar = ProgressBar::new_spinner();
	if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
		bar.set_style(style);
	}
	bar.enable_steady_tick(Duration::from_millis(120));
	bar
}

/// A repository name from an image name: lowercase, `[a-z0-9._-]` and `/`.
fn sanitize(image: &str) -> String {
	let name = image.split(['@', ':']).next().unwrap_or(image);
	let cleaned: String =
		name.to_ascii_lowercase()
			.chars()
			.map(|c| {
				if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/') {
					c
				} else {
					'-'
				}
			})
			.collect();
	let cleaned = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string();
	if cleaned.is_empty() {
		"job".into()
	} else {
		cleaned
	}
}
