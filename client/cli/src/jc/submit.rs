//! `modicum jc submit`: build the job image (inputs, arguments, environment), push it
//! to the directory, post the offer, and with `--wait` follow it phase by phase.

use super::{
	best::{self, Located},
	explain, fetch_result,
	jobfile::{self, JobRequest, SubmitArgs},
	open_match, posted_result,
	progress::Phases,
	replicas, Session,
};
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use modicum_client::{
	calls::Market,
	chain::{Head, JobTerms},
	events::MarketEvents,
	guard::MatchGuard,
	keys, reference, reference_text,
	types::{OfferRef, PostedResult},
	units::{format_amount, format_bytes},
	AccountId, Chain, MarketEvent,
};
use modicum_offchain::{directory, job::package};
use serde::Serialize;
use std::{path::PathBuf, time::Duration};

/// What `submit` reports.
#[derive(Serialize)]
struct Submitted {
	offer_id: u64,
	image: String,
	job_reference: String,
	input_bytes: u64,
	download_bytes: u64,
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

/// How long reading the pushed image's manifest back may take.
const MANIFEST_READ_TIME: Duration = Duration::from_secs(60);

pub async fn submit(s: &Session, args: SubmitArgs, json: bool) -> Result<()> {
	let request = jobfile::resolve(&args)?;
	if args.dry_run {
		return explain::dry_run(s, &request, json).await;
	}
	if request.replicas <= 1 && !request.exclude_rps.is_empty() {
		bail!("--exclude-rp applies to replicated jobs: add --replicas 2 (or more)");
	}
	let mut phases = Phases::start(json);
	let prepared = prepare(s, &request, &phases).await?;
	// Waiting for one job, the CLI follows best blocks: each step is seen a slot after it
	// is made, not a slot plus the finality lag. Blocks it saw may be retracted: it then
	// finds its job again (`best::locate`), accepts only the match and result it saw
	// (guarded), and reports the accept once it is final. Everything else (a posted
	// offer it leaves at once, replicas) follows finalized blocks.
	let best;
	let s = if request.wait && request.replicas <= 1 {
		best = s.following(Head::Best);
		&best
	} else {
		s
	};
	// Subscribe before posting so no event about the offer can slip past.
	let mut events = MarketEvents::subscribe(&s.chain).await?;
	let Prepared { terms, deposit, expires_at, job_reference, input_bytes, download_bytes, .. } =
		prepared.clone();
	if request.replicas > 1 {
		let excluded = request
			.exclude_rps
			.iter()
			.map(|rp| keys::parse_account(rp))
			.collect::<Result<_, _>>()?;
		let job = replicas::ReplicatedJob {
			terms,
			replicas: request.replicas,
			excluded,
			deposit,
			expires_at,
			wait: request.wait,
		};
		return replicas::submit_replicated(s, job, job_reference, events, phases, json).await;
	}
	phases.note(format!("posting the job offer (deposit {})", format_amount(deposit)));
	let offer_id = post_offer(s, &prepared).await?;
	let mut report = Submitted {
		offer_id,
		image: request.image.clone(),
		job_reference,
		input_bytes,
		download_bytes,
		deposit,
		match_id: None,
		result: None,
		accepted: false,
	};
	if !request.wait {
		phases.finish();
		output::print(json, &report, || {
			format!(
				"job offer {offer_id} posted (deposit {}, {} to download); follow it with \
				 `modicum jc list`, or see why it is not matched with `modicum jc explain {offer_id}`",
				format_amount(deposit),
				format_bytes(download_bytes)
			)
		});
		return Ok(());
	}
	phases.enter("posted", format!("offer {offer_id} waiting for a match"));
	let job = FollowedJob { offer_id, terms: &terms, expires_at, registry: &prepared.registry };
	let (offer_id, match_id, result, price) = follow(s, &mut events, job, &mut phases).await?;
	report.offer_id = offer_id;
	report.match_id = Some(match_id);
	// The match as it stands with the result: the accept goes out only while the chain
	// still shows exactly this, and the result verified is this one.
	let info = open_match(&s.chain, match_id).await?;
	if posted_result(&info).as_ref() != Some(&result) {
		bail!(
			"match {match_id}: the result seen posted was in blocks that were retracted, and the \
			 chain now shows another; nothing was accepted. See it with `modicum jc show {match_id}`"
		)
	}
	let mut unpacked_to = None;
	if let Some(out) = &request.out {
		phases
			.enter("verified", format!("downloading and verifying the result of match {match_id}"));
		fetch_result(&s.chain, &info, &result, out).await?;
		unpacked_to = Some(out.clone());
	}
	if request.accept {
		phases.enter("accepted", format!("accepting match {match_id}"));
		// Opened before the accept is sent, so its close cannot slip past.
		let mut finalized =
			MarketEvents::subscribe(&s.chain.clone().following(Head::Finalized)).await?;
		let market = Market::new(&s.chain, &s.signer).guarded(MatchGuard::whole(match_id, &info));
		market.accept_result(match_id).await?;
		if s.chain.head() == Head::Best {
			// The accept is in this best block or an earlier one.
			let included_by = s.chain.at().await?.block_number();
			best::final_close(&mut finalized, match_id, included_by).await?;
		}
		report.accepted = true;
	}
	let timeline = phases.finish();
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
			"job offer {offer_id} → match {match_id}: {} after {} CPU ms and {}; price {}\n{timeline}",
			r.map_or("", |r| r.status.as_str()),
			r.map_or(0, |r| r.instruction_count),
			format_bytes(r.map_or(0, |r| r.bandwidth_used)),
			format_amount(price),
		);
		if let Some(out) = r.and_then(|r| r.unpacked_to.as_ref()) {
			text.push_str(&format!("\nresult verified and unpacked to {}", out.display()));
		}
		text.push_str(&if report.accepted {
			"\naccepted: the RP is paid and your deposit's remainder is released".to_string()
		} else {
			format!("\naccept with `modicum jc accept {match_id}`, or dispute with `modicum jc reject {match_id} --reason …`")
		});
		text
	});
	Ok(())
}

/// A job built, pushed and priced, ready to post.
#[derive(Clone)]
pub struct Prepared {
	/// Its terms on chain.
	pub terms: JobTerms,
	/// The deposit to hold.
	pub deposit: u128,
	/// When an unmatched offer lapses.
	pub expires_at: u64,
	/// `repository@digest` in the directory.
	pub job_reference: String,
	/// The bytes of inputs packed into the job image.
	pub input_bytes: u64,
	/// What an RP downloads for it.
	pub download_bytes: u64,
	/// The directory's registry, `host:port`.
	pub registry: String,
}

/// Builds the job image (inputs, arguments, environment), pushes it to the directory,
/// and prices the offer: everything before posting it.
pub async fn prepare(s: &Session, request: &JobRequest, phases: &Phases) -> Result<Prepared> {
	let directory = keys::parse_account(&request.directory)?;
	let endpoint = directory_endpoint(&s.chain, &directory).await?;
	if s.chain.job_creator(&s.me).await?.is_none() {
		// The directory lets only registered accounts store images.
		bail!("you are not registered as a job creator: `modicum jc register` first");
	}
	let mediators = wanted_mediators(s, request, phases).await?;

	let docker = modicum_offchain::docker::connect().await?;
	let (local_image, input_bytes) = if request.additions.is_empty() {
		(request.image.clone(), 0)
	} else {
		phases.note(format!(
			"packing {} input(s), {} argument(s), {} variable(s) into the job image",
			request.additions.inputs.len(),
			request.additions.args.as_ref().map_or(0, Vec::len),
			request.additions.env.len()
		));
		let built = package::build_job_image(&docker, &request.image, &request.additions)
			.await
			.with_context(|| format!("building the job image from {}", request.image))?;
		(built.image, built.input_bytes)
	};
	phases.note(format!("pushing {} to {}", request.image, endpoint.registry));
	let repository = format!("jobs/{}", sanitize(&request.image));
	let credential = directory::WriteCredential::new(&s.signer, &endpoint.registry);
	let pushed =
		directory::push_image(&docker, &local_image, &endpoint.registry, &repository, &credential)
			.await
			.with_context(|| format!("pushing {} to the directory", request.image))?;
	if local_image != request.image {
		// The job image now lives in the directory; the local copy only takes space.
		let tagged = format!("{}/{repository}:latest", endpoint.registry);
		let _ = docker
			.remove_image(&tagged, None::<bollard::query_parameters::RemoveImageOptions>, None)
			.await;
	}
	let download_bytes = download_size(&endpoint.registry, &repository, &pushed.digest).await?;
	if download_bytes > request.bandwidth {
		bail!(
			"the job image and its inputs are {} to download, more than the bandwidth limit {}: \
			 raise --bandwidth (an RP would post BandwidthExceeded)",
			format_bytes(download_bytes),
			format_bytes(request.bandwidth)
		);
	}

	let job_reference = format!("{repository}@{}", pushed.digest);
	let now = s.chain.now_ms().await?;
	let terms =
		job_terms(request, directory, now, pushed.first_layer, &job_reference, pushed.job_hash)?;
	let deposit = match request.deposit {
		Some(amount) => amount,
		None => explain::quoted_deposit(&s.chain, &terms, &mediators).await?,
	};
	let expires_at = now.saturating_add(request.lifetime_secs.saturating_mul(1000));
	Ok(Prepared {
		terms,
		deposit,
		expires_at,
		job_reference,
		input_bytes,
		download_bytes,
		registry: endpoint.registry,
	})
}

/// Posts a prepared job as one job offer; its id.
pub async fn post_offer(s: &Session, job: &Prepared) -> Result<u64> {
	let posted = Market::new(&s.chain, &s.signer)
		.post_job_offer(job.terms.clone(), job.deposit, job.expires_at)
		.await?;
	offer_id(&posted)
}

/// The id of the job offer a post reported.
pub fn offer_id(posted: &[MarketEvent]) -> Result<u64> {
	posted
		.iter()
		.find_map(|e| match e {
			MarketEvent::JobOfferPosted { offer_id, .. } => Some(*offer_id),
			_ => None,
		})
		.ok_or_else(|| anyhow!("the chain accepted the offer but reported no JobOfferPosted event"))
}

/// The registered endpoint of `directory`.
pub async fn directory_endpoint(
	chain: &Chain,
	directory: &AccountId,
) -> Result<directory::DirectoryEndpoint> {
	let info = chain
		.directory(directory)
		.await?
		.ok_or_else(|| anyhow!("{directory} is not a registered directory"))?;
	reference_text(&info.endpoint)
		.parse()
		.with_context(|| format!("directory {directory} registered an unusable endpoint"))
}

/// The mediators the job asks for, trusted now if they were not; or, when it names
/// none, every mediator the JC trusts (at least one).
pub async fn wanted_mediators(
	s: &Session,
	request: &JobRequest,
	phases: &Phases,
) -> Result<Vec<AccountId>> {
	let trusted = s.chain.trusted_mediators(&s.me).await?;
	let mut wanted = Vec::new();
	for text in &request.mediators {
		let mediator = keys::parse_account(text)?;
		if s.chain.mediator(&mediator).await?.is_none() {
			bail!("{text} ({mediator}) is not a registered mediator");
		}
		if !trusted.contains(&mediator) {
			phases.note(format!("trusting mediator {mediator}, as the job asks"));
			Market::new(&s.chain, &s.signer).trust_mediator(mediator).await?;
		}
		wanted.push(mediator);
	}
	if wanted.is_empty() {
		if trusted.is_empty() {
			bail!("you trust no mediator yet: `modicum jc trust <mediator>` first, or name one with --mediator (a match needs one you both trust)");
		}
		wanted = trusted;
	}
	Ok(wanted)
}

/// The job terms of `request` at `now`.
pub fn job_terms(
	request: &JobRequest,
	directory: AccountId,
	now: u64,
	first_layer: [u8; 32],
	job_reference: &str,
	job_hash: [u8; 32],
) -> Result<JobTerms> {
	Ok(JobTerms {
		provider_record: request.rp_record.clone(),
		instruction_limit: request.instructions,
		bandwidth_limit: request.bandwidth,
		instruction_max_price: request.instruction_price,
		bandwidth_max_price: request.bandwidth_price,
		completion_deadline: now.saturating_add(request.deadline_secs.saturating_mul(1000)),
		match_incentive: request.match_incentive,
		first_layer_hash: first_layer,
		ram_limit: request.ram,
		local_storage_limit: request.storage,
		directory,
		job_reference: reference(job_reference)?,
		job_hash,
		arch: request.arch,
	})
}

/// What an RP downloads for the pushed image: config and layers, as the manifest
/// declares them (the RP measures the same).
async fn download_size(registry: &str, repository: &str, digest: &str) -> Result<u64> {
	let (registry, repository, digest) =
		(registry.to_string(), repository.to_string(), digest.to_string());
	let deadline = std::time::Instant::now() + MANIFEST_READ_TIME;
	let size = tokio::task::spawn_blocking(move || {
		directory::manifest_size(&registry, &repository, &digest, deadline)
	})
	.await?
	.context("reading the pushed image's manifest back")?;
	Ok(size.download_bytes)
}

/// The job `follow` follows.
struct FollowedJob<'a> {
	/// Its offer's id as posted (another after a retraction).
	offer_id: u64,
	/// Its terms, by which it is found again after a retraction.
	terms: &'a JobTerms,
	/// When the offer lapses unmatched.
	expires_at: u64,
	/// The directory's registry, for the RP's phase board.
	registry: &'a str,
}

/// Follows an offer through matched → running → result posted. Gives up once the
/// chain's clock passes the completion deadline of a matched job with no result (the
/// offer's expiry ends an unmatched one: the chain reports it). After blocks it saw were
/// retracted, it finds the job again by its terms. Returns the offer's id (another than
/// posted if a retraction moved it), the match's, its result and price.
async fn follow(
	s: &Session,
	events: &mut MarketEvents,
	mut job: FollowedJob<'_>,
	phases: &mut Phases,
) -> Result<(u64, u64, PostedResult, u128)> {
	let (chain, completion_deadline) = (&s.chain, job.terms.completion_deadline);
	let mut match_id = None;
	let mut provider = None;
	let mut board_phase = None;
	// Set while a retraction left the job nowhere on chain.
	let mut lost = false;
	while let Some(block) = events.next().await {
		let block = block?;
		if block.retracted_above.is_some() || (lost && best::names_creator(&block.events, &s.me)) {
			match best::locate(chain, &s.me, job.terms).await? {
				Located::Offer(id) => {
					(job.offer_id, match_id, provider, lost) = (id, None, None, false);
					phases.note(format!("blocks were retracted; the job is job offer {id}"));
				},
				Located::Match { match_id: id, offer_id, provider: rp } => {
					(job.offer_id, match_id, provider, lost) =
						(offer_id, Some(id), Some(rp), false);
					phases.note(format!("blocks were retracted; the job is match {id}"));
				},
				Located::Nowhere => {
					lost = true;
					phases.note(
						"blocks that held the job offer were retracted; waiting for it to land again"
							.to_string(),
					);
				},
			}
		}
		for event in block.events {
			match event {
				MarketEvent::Matched { match_id: id, job_offer_id, resource_provider, .. }
					if job_offer_id == job.offer_id && !lost =>
				{
					match_id = Some(id);
					provider = Some(resource_provider);
					phases.enter("matched", format!("match {id}: at RP {resource_provider}"));
				},
				MarketEvent::OfferExpired { offer: OfferRef::Job(id), .. }
				| MarketEvent::OfferCancelled { offer: OfferRef::Job(id), .. }
					if id == job.offer_id && !lost =>
				{
					bail!(
						"job offer {id} left the book unmatched (expired or cancelled); its \
						 deposit is back. See why with `modicum jc submit --dry-run …` on the same job"
					)
				},
				MarketEvent::ResultPosted { match_id: id, result, job_price, .. }
					if Some(id) == match_id =>
				{
					phases.enter("result", format!("match {id}: {} posted", result.status));
					return Ok((job.offer_id, id, result, job_price));
				},
				MarketEvent::MatchClosed { match_id: id, outcome } if Some(id) == match_id => {
					bail!("match {id} closed before a result was posted: {outcome:?}")
				},
				_ => {},
			}
		}
		if lost && chain.now_ms().await? > job.expires_at {
			bail!(
				"the job offer was in blocks that were retracted and did not land again before \
				 it would have expired; nothing of yours is held for it (check with `modicum jc list`)"
			)
		}
		if let (Some(id), Some(rp)) = (match_id, provider) {
			// The RP's own word on what it is doing, from the directory's phase board.
			let said = read_board(job.registry, id, rp).await.map(|entry| entry.phase);
			if let Some(phase) = said.filter(|_| said != board_phase) {
				phases.enter(phase.name(), format!("match {id}: {} at RP {rp}", phase.name()));
				board_phase = said;
			}
			if chain.now_ms().await? > completion_deadline {
				bail!(
					"match {id}: the RP posted no result by the completion deadline; claim its \
					 deposit with `modicum jc timeout {id}`"
				)
			}
		}
	}
	bail!("the node closed the event subscription")
}

/// What the RP last put on the directory's phase board for `match_id` (nothing if the
/// board does not answer: progress is a courtesy).
async fn read_board(
	registry: &str,
	match_id: u64,
	rp: AccountId,
) -> Option<directory::phase::PhaseEntry> {
	let registry = registry.to_string();
	tokio::task::spawn_blocking(move || directory::phase::read_phase(&registry, match_id, &rp))
		.await
		.ok()?
		.ok()
		.flatten()
}

/// A repository name from an image name: lowercase, `[a-z0-9._-]` and `/`.
pub fn sanitize(image: &str) -> String {
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
