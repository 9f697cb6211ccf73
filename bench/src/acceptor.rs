//! The harness job creator's accepting side, as `modicum jc submit --wait --out
//! --accept` does it: it follows best blocks, downloads and verifies each result of
//! its own posted there, and accepts it only while the chain's head still shows the
//! match exactly as verified (a guarded call: after a retraction it is not sent). The
//! accepts that are ready together go out in one batch (`Batcher`).

use anyhow::{ensure, Result};
use modicum_client::{
	batch::{BatchCall, Batcher},
	chain::Head,
	events::MarketEvents,
	guard::MatchGuard,
	reference_text,
	runtime::runtime_types::pallet_compute_market::pallet::Call as MarketCall,
	types::{MatchState, PostedResult, ResultStatus},
	AccountId, Chain, ClientError, Keypair, MarketEvent,
};
use modicum_offchain::job::verify;
use std::{
	collections::BTreeSet,
	sync::{Arc, Mutex},
	time::Duration,
};
use tokio::{sync::mpsc, task::JoinHandle};

/// Held while the job creator's own offers go to the pool with nonces it chose: an
/// accept takes the node's next nonce only after they are all in.
pub type Gate = Arc<tokio::sync::Mutex<()>>;

/// Results verified or being verified: (match, result root).
type Handled = Arc<Mutex<BTreeSet<(u64, [u8; 32])>>>;

/// What became of one result the acceptor saw.
pub enum Accepting {
	/// The result did not verify, or its accept failed: the run is wrong.
	Failed { match_id: u64, error: anyhow::Error },
	/// The match changed between the result's block and the accept (a retraction):
	/// nothing was sent; the result, posted again, is verified and accepted again.
	Held { match_id: u64 },
	/// The block subscription failed: nothing more is accepted.
	Stopped { error: anyhow::Error },
}

/// The acceptor, running until dropped.
pub struct Acceptor {
	task: JoinHandle<()>,
}

impl Drop for Acceptor {
	fn drop(&mut self) {
		self.task.abort();
	}
}

impl Acceptor {
	/// Starts following `chain`'s best blocks for results of `signer`'s jobs, fetched
	/// from `registry`; reports what goes wrong on the returned channel.
	pub async fn start(
		chain: &Chain,
		signer: Keypair,
		registry: String,
		gate: Gate,
	) -> Result<(Acceptor, mpsc::UnboundedReceiver<Accepting>)> {
		let best = chain.clone().following(Head::Best);
		let mut events = MarketEvents::subscribe(&best).await?;
		let me = modicum_client::keys::account_of(&signer);
		let batcher = Batcher::spawn(best.clone(), signer);
		let (report, reports) = mpsc::unbounded_channel();
		let task = tokio::spawn(async move {
			// A result is verified and accepted once while the blocks that showed it
			// stand. After a retraction every result is new again: an accept sent in a
			// retracted block is tied to that block and never lands on the chain that
			// replaced it, and a guarded accept never settles a match twice.
			let handled: Handled = Arc::default();
			while let Some(block) = events.next().await {
				let block = match block {
					Ok(block) => block,
					Err(e) => {
						drop(report.send(Accepting::Stopped { error: e.into() }));
						return;
					},
				};
				if block.retracted_above.is_some() {
					forget_all(&handled);
				}
				for event in block.events {
					let MarketEvent::ResultPosted { match_id, job_creator, result, .. } = event
					else {
						continue;
					};
					let key = (match_id, result.hash);
					if job_creator != me || !remember(&handled, key) {
						continue;
					}
					let (best, batcher, registry, report, handled, gate) = (
						best.clone(),
						batcher.clone(),
						registry.clone(),
						report.clone(),
						handled.clone(),
						gate.clone(),
					);
					tokio::spawn(async move {
						let accepted = verify_and_accept(
							&best, &batcher, &gate, &registry, &me, match_id, result,
						);
						let sent = match accepted.await {
							Ok(()) => return,
							Err(VerifyError::Held) => {
								// Seen again if the match shows it again.
								forget(&handled, key);
								report.send(Accepting::Held { match_id })
							},
							Err(VerifyError::Failed(error)) => {
								report.send(Accepting::Failed { match_id, error })
							},
						};
						drop(sent);
					});
				}
			}
		});
		Ok((Acceptor { task }, reports))
	}
}

enum VerifyError {
	Held,
	Failed(anyhow::Error),
}

impl From<anyhow::Error> for VerifyError {
	fn from(error: anyhow::Error) -> Self {
		VerifyError::Failed(error)
	}
}

impl From<ClientError> for VerifyError {
	fn from(error: ClientError) -> Self {
		match error {
			ClientError::MatchChanged { .. } => VerifyError::Held,
			other => VerifyError::Failed(other.into()),
		}
	}
}

/// Notes `key` as handled; false if it already was.
fn remember(handled: &Handled, key: (u64, [u8; 32])) -> bool {
	handled.lock().map_or(true, |mut set| set.insert(key))
}

fn forget(handled: &Handled, key: (u64, [u8; 32])) {
	if let Ok(mut set) = handled.lock() {
		set.remove(&key);
	}
}

fn forget_all(handled: &Handled) {
	if let Ok(mut set) = handled.lock() {
		set.clear();
	}
}

async fn verify_and_accept(
	best: &Chain,
	batcher: &Batcher,
	gate: &Gate,
	registry: &str,
	me: &AccountId,
	match_id: u64,
	result: PostedResult,
) -> Result<(), VerifyError> {
	let (registry, checked) = (registry.to_string(), result.clone());
	tokio::task::spawn_blocking(move || download_and_verify(&registry, &checked))
		.await
		.map_err(anyhow::Error::from)??;
	// The match as the head shows it now: accepted only if it is still ours and still
	// holds the result just verified.
	let Some(info) = best.match_info(match_id).await? else { return Err(VerifyError::Held) };
	let shows_it =
		matches!(&info.state, MatchState::ResultPosted { result: now, .. } if *now == result);
	if info.job_creator != *me || !shows_it {
		return Err(VerifyError::Held);
	}
	let call = BatchCall::new("accept_result", MarketCall::accept_result { match_id })
		.guarded(MatchGuard::whole(match_id, &info));
	// Not while the job creator's offers are going out with nonces of their own.
	drop(gate.lock().await);
	batcher.submit(call).await?;
	Ok(())
}

/// Downloads a posted result and checks its digest and Merkle root (as `jc submit --out`
/// does), and that the job completed.
fn download_and_verify(registry: &str, result: &PostedResult) -> Result<()> {
	ensure!(result.status == ResultStatus::Completed, "status {:?}", result.status);
	let posted = verify::PostedArchive {
		registry: registry.to_string(),
		reference: reference_text(&result.reference),
		root: result.hash,
		max_bytes: verify::max_archive_bytes(64 << 20),
	};
	let scratch = tempfile::tempdir()?;
	let deadline = std::time::Instant::now() + Duration::from_secs(120);
	verify::fetch_verified(&posted, scratch.path(), deadline)?;
	Ok(())
}
