//! Batched calls on a real dev node (README, "Batched calls"): each call of a batch
//! succeeds or is refused on its own, a refused one changes nothing, and a batch gives
//! nobody a right a single call would not. Guarded calls (single or batched) go out only
//! for the match as their sender saw it.

use anyhow::{ensure, Context, Result};
use modicum_client::{
	batch::{BatchCall, Batcher},
	calls::Market,
	chain::{Head, JobTerms, ResourceTerms},
	guard::MatchGuard,
	keys, reference,
	runtime::runtime_types::pallet_compute_market::pallet::Call as MarketCall,
	types::{Architecture, MatchState, RecordRequirement, ResultStatus},
	AccountId, Chain, ClientError, Keypair, MarketEvent,
};
use modicum_tests::{modicum_binary, modicum_json, Node};
use std::{process::Command, time::Duration};

const MDC: u128 = 1_000_000_000_000;
const LAYER: [u8; 32] = [7; 32];
const MINUTE_MS: u64 = 60_000;

fn job_terms(directory: AccountId, now: u64, deadline_ms: u64) -> JobTerms {
	JobTerms {
		provider_record: None,
		instruction_limit: 1_000,
		bandwidth_limit: 0,
		instruction_max_price: 1_000_000,
		bandwidth_max_price: 0,
		completion_deadline: now + deadline_ms,
		match_incentive: 0,
		first_layer_hash: LAYER,
		ram_limit: 1 << 20,
		local_storage_limit: 1 << 20,
		directory,
		job_reference: reference("jobs/batch@sha256:00").unwrap(),
		job_hash: [1; 32],
		arch: Architecture::Amd64,
	}
}

fn resource_terms() -> ResourceTerms {
	ResourceTerms {
		creator_record: None,
		instruction_price: 1_000_000,
		instruction_cap: 1_000_000,
		memory_cap: 1 << 30,
		local_storage_cap: 1 << 30,
		bandwidth_cap: 1 << 30,
		bandwidth_price: 0,
		match_incentive: 0,
	}
}

fn offer_ids(outcomes: Vec<Result<Vec<MarketEvent>, ClientError>>) -> Result<Vec<u64>> {
	outcomes
		.into_iter()
		.map(|outcome| {
			outcome?
				.iter()
				.find_map(|e| match e {
					MarketEvent::JobOfferPosted { offer_id, .. }
					| MarketEvent::ResourceOfferPosted { offer_id, .. } => Some(*offer_id),
					_ => None,
				})
				.context("no offer posted")
		})
		.collect()
}

/// `count` resource offers of `rp` with `terms`, posted one by one.
async fn resource_offers(
	chain: &Chain,
	rp: &Keypair,
	terms: &ResourceTerms,
	deposit: u128,
	expires: u64,
	count: usize,
) -> Result<Vec<u64>> {
	let mut ids = Vec::new();
	for _ in 0..count {
		let events =
			Market::new(chain, rp).post_resource_offer(terms.clone(), deposit, expires).await?;
		ids.extend(offer_ids(vec![Ok(events)])?);
	}
	Ok(ids)
}

/// An RP's `Completed` result for `match_id`.
fn completed(match_id: u64) -> MarketCall {
	MarketCall::post_result {
		match_id,
		status: ResultStatus::Completed,
		reference: reference("results/batch@sha256:00").unwrap(),
		hash: [2; 32],
		instruction_count: 500,
		bandwidth_used: 0,
	}
}

fn match_id(events: &[MarketEvent]) -> Option<u64> {
	events.iter().find_map(|e| match e {
		MarketEvent::Matched { match_id, .. } => Some(*match_id),
		_ => None,
	})
}

fn closed(events: &[MarketEvent], id: u64) -> bool {
	events.iter().any(|e| matches!(e, MarketEvent::MatchClosed { match_id, .. } if *match_id == id))
}

/// //Alice as JC, //Bob as RP, //Charlie as mediator, //Dave as directory; //Eve is
/// registered as a JC but party to nothing.
async fn register(chain: &Chain) -> Result<[Keypair; 5]> {
	let [jc, rp, mediator, directory, stranger] =
		["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve"].map(|k| keys::from_uri(k).unwrap());
	let m = |k| Market::new(chain, k);
	m(&directory).register_directory(reference("127.0.0.1:1")?, MDC / 1000).await?;
	let directory_id = keys::account_of(&directory);
	let mediator_id = keys::account_of(&mediator);
	m(&mediator).register_mediator(Architecture::Amd64, 1_000_000, 1_000_000, 0, 0).await?;
	m(&mediator).trust_directory(directory_id).await?;
	m(&mediator).add_base_layer(LAYER).await?;
	m(&jc).register_job_creator().await?;
	m(&jc).trust_mediator(mediator_id).await?;
	m(&rp).register_resource_provider(Architecture::Amd64, 1_000_000).await?;
	m(&rp).trust_mediator(mediator_id).await?;
	m(&rp).trust_directory(directory_id).await?;
	m(&rp).add_base_layer(LAYER).await?;
	m(&stranger).register_job_creator().await?;
	Ok([jc, rp, mediator, directory, stranger])
}

#[tokio::test(flavor = "multi_thread")]
async fn each_call_of_a_batch_stands_alone() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let mut node = Node::start("batches", dir.path(), &["--dev"])?;
	node.rpc(Duration::from_secs(60)).await?;
	let chain = Chain::connect(&node.url()).await?;
	let [jc, rp, mediator, directory, stranger] = register(&chain).await?;
	let (directory_id, mediator_id) = (keys::account_of(&directory), keys::account_of(&mediator));
	let jc_id = keys::account_of(&jc);

	// The JC posts three job offers and one with a deadline years away in one batch:
	// the bad one is refused alone, and its deposit is not held.
	let now = chain.now_ms().await?;
	let terms = job_terms(directory_id, now, 60 * MINUTE_MS);
	let deposit = chain.quote_job_deposit(&terms, Some(mediator_id)).await?;
	let far = job_terms(directory_id, now, 10 * 365 * 24 * 60 * MINUTE_MS);
	let expires = now + 30 * MINUTE_MS;
	let mut posted = Market::new(&chain, &jc)
		.post_job_offers(&[
			(terms.clone(), deposit, expires),
			(far, deposit, expires),
			(terms.clone(), deposit, expires),
			(terms.clone(), deposit, expires),
		])
		.await;
	let refused = posted.remove(1).expect_err("a ten-year deadline must be refused");
	ensure!(refused.is_refusal("DeadlineTooFar"), "{refused}");
	let jobs = offer_ids(posted)?;
	let mut open: Vec<u64> = chain
		.job_offers()
		.await?
		.into_iter()
		.filter(|(_, offer)| offer.owner == jc_id)
		.map(|(id, _)| id)
		.collect();
	open.sort();
	let mut posted_ids = jobs.clone();
	posted_ids.sort();
	ensure!(open == posted_ids, "only the three good offers are open: {open:?}");

	let resource = resource_terms();
	let resource_deposit =
		chain.quote_resource_deposit(&resource, Some(mediator_id), Some(directory_id)).await?;
	let resources = resource_offers(&chain, &rp, &resource, resource_deposit, expires, 3).await?;

	// Anyone may solve: the stranger's batch of matches, one naming an offer that
	// does not exist, and one matching a job offer twice.
	let mut matched = Market::new(&chain, &stranger)
		.post_matches(&[
			(jobs[0], resources[0], mediator_id),
			(jobs[1], 999_999, mediator_id),
			(jobs[1], resources[1], mediator_id),
			(jobs[0], resources[2], mediator_id),
			(jobs[2], resources[2], mediator_id),
		])
		.await;
	let twice = matched.remove(3).expect_err("an offer matched twice");
	let missing = matched.remove(1).expect_err("a missing offer");
	ensure!(matches!(missing, ClientError::Refused { .. }), "{missing}");
	ensure!(matches!(twice, ClientError::Refused { .. }), "{twice}");
	let matches = matched
		.into_iter()
		.map(|outcome| match_id(&outcome?).context("no Matched event"))
		.collect::<Result<Vec<u64>>>()?;
	ensure!(matches.len() == 3, "{matches:?}");

	// The RP's results, sent from three tasks at once through one batcher.
	let results = Batcher::spawn(chain.clone(), rp.clone());
	let posts: Vec<_> = matches
		.iter()
		.map(|&match_id| {
			let results = results.clone();
			tokio::spawn(async move {
				results.submit(BatchCall::new("post_result", completed(match_id))).await
			})
		})
		.collect();
	for posted in posts {
		posted.await??;
	}

	// A stranger's accept is refused and settles nothing.
	let stranger_accept = Market::new(&chain, &stranger).accept_results(&[matches[0]]).await;
	ensure!(stranger_accept[0].is_err(), "{stranger_accept:?}");
	let state = chain.match_info(matches[0]).await?.context("match")?.state;
	ensure!(matches!(state, MatchState::ResultPosted { .. }), "{state:?}");

	// A match named twice is refused before anything is sent: nothing settles.
	let twice = Command::new(modicum_binary()?)
		.args(["jc", "accept"])
		.args([matches[0], matches[1], matches[0]].map(|id| id.to_string()))
		.env("MODICUM_URL", node.url())
		.env("MODICUM_KEY", "//Alice")
		.output()?;
	ensure!(!twice.status.success(), "a duplicated id fails the command");
	let said = String::from_utf8_lossy(&twice.stderr);
	ensure!(said.contains(&format!("match {} is named twice", matches[0])), "{said}");
	for id in &matches[..2] {
		let state = chain.match_info(*id).await?.context("match")?.state;
		ensure!(matches!(state, MatchState::ResultPosted { .. }), "{id}: {state:?}");
	}

	// The JC accepts two of them and a match that does not exist, through the CLI.
	let output = Command::new(modicum_binary()?)
		.args(["jc", "accept", "--json"])
		.args([matches[0], matches[1], 424_242].map(|id| id.to_string()))
		.env("MODICUM_URL", node.url())
		.env("MODICUM_KEY", "//Alice")
		.output()?;
	ensure!(!output.status.success(), "one of three was refused, so the command fails");
	// One JSON document: an entry per match, and why the command failed.
	let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
	let error = report["error"].as_str().unwrap_or_default();
	ensure!(error.contains("1 of 3 results were not accepted"), "{report}");
	let entries = &report["matches"];
	ensure!(entries[0]["settlement"].as_array().is_some_and(|s| !s.is_empty()), "{report}");
	ensure!(entries[1]["settlement"].as_array().is_some_and(|s| !s.is_empty()), "{report}");
	ensure!(entries[2]["error"].as_str().is_some_and(|e| e.contains("refused")), "{report}");
	for id in &matches[..2] {
		ensure!(chain.match_info(*id).await?.is_none(), "match {id} is settled");
	}

	// The third is still the JC's to accept, alone.
	let last = Market::new(&chain, &jc).accept_results(&[matches[2]]).await;
	let events = last.into_iter().next().context("one outcome")??;
	ensure!(closed(&events, matches[2]), "{events:?}");

	// The chain's record of each (README, "Reputation"): three accepted jobs for both,
	// nothing for the stranger whose calls were all refused or settled nothing.
	let url = node.url();
	let rp_record = modicum_json(&url, &["market", "actor", "//Bob"])?;
	ensure!(rp_record["reputation"]["resource-provider"]["accepted"] == 3, "{rp_record}");
	ensure!(rp_record["reputation"]["resource-provider"]["fined"] == 0, "{rp_record}");
	let jc_record = modicum_json(&url, &["market", "actor", "//Alice"])?;
	ensure!(jc_record["reputation"]["job-creator"]["accepted"] == 3, "{jc_record}");
	let stranger_record = modicum_json(&url, &["market", "actor", "//Eve"])?;
	ensure!(
		stranger_record["reputation"].as_object().is_some_and(|r| r.is_empty()),
		"{stranger_record}"
	);

	// Rule 13 on the node: a job asking four accepted jobs of its RP cannot go to
	// //Bob, who has three; one asking three can.
	let now = chain.now_ms().await?;
	let asking = |min_accepted| JobTerms {
		provider_record: Some(RecordRequirement { min_accepted, max_fault_ppm: 0 }),
		..job_terms(directory_id, now, 60 * MINUTE_MS)
	};
	let expires = now + 30 * MINUTE_MS;
	let demanding = offer_ids(
		Market::new(&chain, &jc)
			.post_job_offers(&[(asking(4), deposit, expires), (asking(3), deposit, expires)])
			.await,
	)?;
	let offers = resource_offers(&chain, &rp, &resource, resource_deposit, expires, 2).await?;
	let mut ruled = Market::new(&chain, &stranger)
		.post_matches(&[
			(demanding[0], offers[0], mediator_id),
			(demanding[1], offers[1], mediator_id),
		])
		.await;
	let matched = ruled.pop().context("two outcomes")??;
	ensure!(match_id(&matched).is_some(), "{matched:?}");
	let refused = ruled.pop().context("two outcomes")?.expect_err("too short a record");
	ensure!(refused.is_refusal("ProviderRecordTooShort"), "{refused}");
	Ok(())
}

/// Following best blocks (as the RP and solver daemons and `jc submit --wait` do), a
/// block seen may be retracted and a match id given to another job. A guarded call goes
/// out only while the chain shows the match as its sender saw it: an RP's result
/// computed for one job is never posted for another, and a JC's accept only settles
/// the result it verified. A call held back costs nothing.
#[tokio::test(flavor = "multi_thread")]
async fn guarded_calls_go_out_only_for_the_match_as_seen() -> Result<()> {
	let dir = tempfile::tempdir()?;
	let mut node = Node::start("guards", dir.path(), &["--dev"])?;
	node.rpc(Duration::from_secs(60)).await?;
	let chain = Chain::connect(&node.url()).await?.following(Head::Best);
	let [jc, rp, mediator, directory, stranger] = register(&chain).await?;
	let (directory_id, mediator_id) = (keys::account_of(&directory), keys::account_of(&mediator));
	let rp_id = keys::account_of(&rp);

	// Two jobs of the JC, differing only in the image, each matched to the RP.
	let now = chain.now_ms().await?;
	let first = job_terms(directory_id, now, 60 * MINUTE_MS);
	let second = JobTerms { job_hash: [9; 32], ..first.clone() };
	let deposit = chain.quote_job_deposit(&first, Some(mediator_id)).await?;
	let expires = now + 30 * MINUTE_MS;
	let jobs = offer_ids(
		Market::new(&chain, &jc)
			.post_job_offers(&[(first, deposit, expires), (second, deposit, expires)])
			.await,
	)?;
	let resource = resource_terms();
	let resource_deposit =
		chain.quote_resource_deposit(&resource, Some(mediator_id), Some(directory_id)).await?;
	let resources = resource_offers(&chain, &rp, &resource, resource_deposit, expires, 2).await?;
	let matched = Market::new(&chain, &stranger)
		.post_matches(&[(jobs[0], resources[0], mediator_id), (jobs[1], resources[1], mediator_id)])
		.await
		.into_iter()
		.map(|outcome| match_id(&outcome?).context("no Matched event"))
		.collect::<Result<Vec<u64>>>()?;
	let (ran, other) = (matched[0], matched[1]);
	let seen = chain.match_info(ran).await?.context("the match the RP ran")?;

	// The RP ran the first job; the chain now gives the second job's match the id the
	// result is posted under (as a retraction could): the result stays home.
	let balance = chain.free_balance(&rp_id).await?;
	let results = Batcher::spawn(chain.clone(), rp.clone());
	let stale = MatchGuard::awaiting_result(other, &seen);
	let held = results.submit(BatchCall::new("post_result", completed(other)).guarded(stale)).await;
	let held = held.expect_err("a result for another job must not be posted");
	ensure!(
		matches!(held, ClientError::MatchChanged { match_id, .. } if match_id == other),
		"{held}"
	);
	let state = chain.match_info(other).await?.context("the other match")?.state;
	ensure!(matches!(state, MatchState::Matched), "nothing was posted: {state:?}");
	ensure!(chain.free_balance(&rp_id).await? == balance, "a held call costs no fee");

	// Under its own match, as seen, the result goes out.
	let own = MatchGuard::awaiting_result(ran, &seen);
	results.submit(BatchCall::new("post_result", completed(ran)).guarded(own)).await?;
	let with_result = chain.match_info(ran).await?.context("the match")?;
	ensure!(matches!(with_result.state, MatchState::ResultPosted { .. }), "{with_result:?}");
	// Posting it again (as after a read that came just before it landed) sends nothing
	// and costs nothing: the RP's guard also asks that the match still waits for it.
	let balance = chain.free_balance(&rp_id).await?;
	let again = MatchGuard::awaiting_result(ran, &seen);
	let again = results.submit(BatchCall::new("post_result", completed(ran)).guarded(again)).await;
	ensure!(matches!(again, Err(ClientError::MatchChanged { .. })), "{again:?}");
	ensure!(chain.free_balance(&rp_id).await? == balance, "a held call costs no fee");

	// The JC's accept carries the whole match it verified: one seen before the result
	// was posted does not settle the result posted since.
	let before_result = Market::new(&chain, &jc).guarded(MatchGuard::whole(ran, &seen));
	let early = before_result.accept_result(ran).await.expect_err("the match changed since");
	ensure!(matches!(early, ClientError::MatchChanged { .. }), "{early}");
	ensure!(chain.match_info(ran).await?.is_some(), "nothing was settled");
	let verified = Market::new(&chain, &jc).guarded(MatchGuard::whole(ran, &with_result));
	let events = verified.accept_result(ran).await?;
	ensure!(closed(&events, ran), "{events:?}");
	Ok(())
}
