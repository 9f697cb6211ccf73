//! Many calls in one extrinsic. Calls of one kind the pallet batches itself go out as
//! its batched call (`accept_results` and the like, [`payload`]); any other mix as
//! pallet-utility's `force_batch`. Both dispatch each call on its own (a refused call is
//! rolled back alone and the rest go on) and report each refusal with its own event. One
//! extrinsic carries one signature check, one fee payment and one pool entry for all of
//! its calls, which is what makes settling many jobs cheap for the chain.

pub mod payload;
pub use payload::BatchPayload;

use crate::{
	chain::{read_error, AtBlock},
	guard::MatchGuard,
	runtime::{
		self,
		runtime_types::{
			modicum_runtime::RuntimeCall, pallet_compute_market::pallet::Call as MarketCall,
			pallet_utility::pallet::Event as UtilityEvent, sp_runtime::DispatchError,
		},
	},
	Chain, ClientError, Keypair, MarketEvent, ModicumConfig,
};
use std::{mem::Discriminant, ops::Range, sync::Arc};
use subxt::{extrinsics::ExtrinsicEvents, Metadata};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The most calls one extrinsic carries; longer lists go out as several extrinsics,
/// all handed to the node at once.
pub const MAX_CALLS_PER_BATCH: usize = 128;

/// One batch may declare at most this share (1/n) of the chain's largest normal
/// extrinsic weight: the pool refuses an extrinsic over that limit ("would exhaust the
/// block limits"), and a batch well under it leaves room in its block for others. A
/// call's declared weight is its worst case (a `post_result` may settle a whole
/// replica group), so batches are packed by weight, not only by count.
pub const BATCH_SHARE_OF_MAX_EXTRINSIC: u64 = 2;

/// What one call of a batch did: the compute-market events it caused, or why it
/// failed.
pub type ItemOutcome = Result<Vec<MarketEvent>, ClientError>;

/// A compute-market call for a batch, named for errors and logs.
#[derive(Clone, Debug)]
pub struct BatchCall {
	call: MarketCall,
	name: &'static str,
	guard: Option<MatchGuard>,
}

impl BatchCall {
	/// Wraps a compute-market call; `name` is how errors name it (e.g. `accept_result`).
	pub fn new(name: &'static str, call: MarketCall) -> Self {
		BatchCall { call, name, guard: None }
	}

	/// The call goes out only if its batch's anchor block still shows the match as
	/// `guard` saw it; otherwise its outcome is [`ClientError::MatchChanged`].
	pub fn guarded(mut self, guard: MatchGuard) -> Self {
		self.guard = Some(guard);
		self
	}

	/// The call as the runtime dispatches it.
	fn runtime_call(&self) -> RuntimeCall {
		RuntimeCall::ComputeMarket(self.call.clone())
	}

	/// The error for this call when its whole extrinsic failed.
	fn failed(&self, reason: String) -> ClientError {
		ClientError::Transaction { call: format!("ComputeMarket::{}", self.name), reason }
	}
}

impl Chain {
	/// How to split `calls` into batches: consecutive ranges, each of at most
	/// [`MAX_CALLS_PER_BATCH`] calls whose declared weights (asked of the runtime once
	/// per kind of call) fit [`BATCH_SHARE_OF_MAX_EXTRINSIC`] of the chain's largest
	/// extrinsic.
	pub async fn plan_batches(
		&self,
		calls: &[RuntimeCall],
	) -> Result<Vec<Range<usize>>, ClientError> {
		plan_batches_at(&self.at().await?, calls).await
	}

	/// Submits `calls`, all signed by `signer`, in the extrinsics
	/// [`Chain::plan_batches`] packs them into, and waits until they are in a block of
	/// the connection's head: one outcome per call, in order. A call the chain refuses
	/// is [`ClientError::Refused`] and is rolled back alone; the others still take
	/// effect. If a whole extrinsic fails (the node cannot be reached, the pool turns it
	/// away), each of its calls carries that error. All are anchored at the head block
	/// read first, and a guarded call whose match that block does not show as seen is
	/// [`ClientError::MatchChanged`] and not sent.
	pub async fn submit_batch(&self, calls: &[BatchCall], signer: &Keypair) -> Vec<ItemOutcome> {
		if calls.is_empty() {
			return Vec::new();
		}
		let at = match self.at().await {
			Ok(at) => at,
			Err(e) => return calls.iter().map(|call| Err(call.failed(e.to_string()))).collect(),
		};
		// Guarded calls whose match is not what their sender saw stay out of the batch.
		let mut outcomes: Vec<Option<ItemOutcome>> = Vec::with_capacity(calls.len());
		for call in calls {
			let checked = match &call.guard {
				Some(guard) => guard.check_at(&at, &format!("ComputeMarket::{}", call.name)).await,
				None => Ok(()),
			};
			outcomes.push(checked.err().map(Err));
		}
		let going: Vec<BatchCall> = calls
			.iter()
			.zip(&outcomes)
			.filter(|(_, outcome)| outcome.is_none())
			.map(|(call, _)| call.clone())
			.collect();
		let mut sent = self.submit_batch_at(&at, &going, signer).await.into_iter();
		outcomes
			.into_iter()
			.map(|outcome| {
				outcome.or_else(|| sent.next()).unwrap_or_else(|| {
					Err(ClientError::Transaction {
						call: "ComputeMarket batch".into(),
						reason: "no outcome".into(),
					})
				})
			})
			.collect()
	}

	/// [`Chain::submit_batch`] with every extrinsic anchored at `at`.
	async fn submit_batch_at(
		&self,
		at: &AtBlock,
		calls: &[BatchCall],
		signer: &Keypair,
	) -> Vec<ItemOutcome> {
		if calls.is_empty() {
			return Vec::new();
		}
		let runtime_calls: Vec<RuntimeCall> = calls.iter().map(BatchCall::runtime_call).collect();
		let (metadata, plan) = match plan_batches_at(at, &runtime_calls).await {
			Ok(plan) => (at.metadata(), plan),
			Err(e) => return calls.iter().map(|call| Err(call.failed(e.to_string()))).collect(),
		};
		let payloads: Vec<BatchPayload> = plan
			.iter()
			.map(|range| BatchPayload::for_calls(&runtime_calls[range.clone()]))
			.collect();
		let chunks: Vec<&[BatchCall]> = plan.into_iter().map(|range| &calls[range]).collect();
		let sent = self.submit_all_at(at, &payloads, signer).await;
		let mut outcomes = Vec::with_capacity(calls.len());
		for ((chunk, payload), extrinsic) in chunks.into_iter().zip(&payloads).zip(sent) {
			match extrinsic {
				Ok(events) if payload.is_native() => {
					outcomes.extend(split_native_outcomes(&events, chunk, &metadata))
				},
				Ok(events) => outcomes.extend(split_outcomes(&events, chunk, &metadata)),
				Err(e) => outcomes.extend(chunk.iter().map(|call| Err(call.failed(e.to_string())))),
			}
		}
		outcomes
	}
}

/// [`Chain::plan_batches`] at the block `at`.
async fn plan_batches_at(
	at: &AtBlock,
	calls: &[RuntimeCall],
) -> Result<Vec<Range<usize>>, ClientError> {
	let limits = at
		.constants()
		.entry(runtime::constants().system().block_weights())
		.map_err(|e| read_error("the block weight limits", e))?;
	let max_extrinsic = limits.per_class.normal.max_extrinsic.map_or(u64::MAX, |w| w.ref_time);
	let budget = max_extrinsic / BATCH_SHARE_OF_MAX_EXTRINSIC;
	let mut known: Vec<(Discriminant<MarketCall>, u64)> = Vec::new();
	let mut weights = Vec::with_capacity(calls.len());
	for call in calls {
		let kind = match call {
			RuntimeCall::ComputeMarket(inner) => Some(std::mem::discriminant(inner)),
			_ => None,
		};
		if let Some(weight) = kind.and_then(|k| known.iter().find(|(c, _)| *c == k)) {
			weights.push(weight.1);
			continue;
		}
		let asked =
			runtime::runtime_apis().transaction_payment_call_api().query_call_info(call.clone(), 0);
		let info =
			at.runtime_apis().call(asked).await.map_err(|e| read_error("a call's weight", e))?;
		if let Some(kind) = kind {
			known.push((kind, info.weight.ref_time));
		}
		weights.push(info.weight.ref_time);
	}
	Ok(pack(&weights, budget))
}

/// Consecutive ranges of calls, each at most [`MAX_CALLS_PER_BATCH`] long and at most
/// `budget` in summed weight; a call heavier than the budget alone goes alone (the
/// chain then decides).
pub fn pack(weights: &[u64], budget: u64) -> Vec<Range<usize>> {
	let mut ranges = Vec::new();
	let (mut start, mut sum) = (0, 0u64);
	for (i, weight) in weights.iter().enumerate() {
		let over = sum.checked_add(*weight).is_none_or(|total| total > budget);
		let full = i - start >= MAX_CALLS_PER_BATCH || over;
		if i > start && full {
			ranges.push(start..i);
			(start, sum) = (i, 0);
		}
		sum = sum.saturating_add(*weight);
	}
	if start < weights.len() {
		ranges.push(start..weights.len());
	}
	ranges
}

/// A call waiting in a [`Batcher`], with where its outcome goes.
type Queued = (BatchCall, oneshot::Sender<ItemOutcome>);

/// Gathers the calls a daemon's tasks make into batches ("group commit"): up to
/// [`BATCHES_IN_FLIGHT`] batches wait for inclusion at once; a call that arrives while
/// all of them are in flight waits for one to end, then goes out with every other call
/// that arrived meanwhile. A lone call goes out at once, so nothing waits for company
/// (on a network, inclusion takes a slot, and finality the finality lag more: a result
/// must not wait for an earlier one's). Clones share the queue; the batching task ends with the
/// last clone.
#[derive(Clone)]
pub struct Batcher {
	queue: mpsc::UnboundedSender<Queued>,
}

/// How many batches of one [`Batcher`] may wait for inclusion at once.
pub const BATCHES_IN_FLIGHT: usize = 4;

impl Batcher {
	/// Starts the batching task for calls signed by `signer` through `chain`.
	pub fn spawn(chain: Chain, signer: Keypair) -> Batcher {
		let (queue, mut arrivals) = mpsc::unbounded_channel::<Queued>();
		let in_flight = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
		tokio::spawn(async move {
			loop {
				// The batching task owns the semaphore and never closes it.
				let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return };
				let Some(first) = arrivals.recv().await else { return };
				let mut pending = vec![first];
				while pending.len() < MAX_CALLS_PER_BATCH {
					match arrivals.try_recv() {
						Ok(next) => pending.push(next),
						Err(_) => break,
					}
				}
				let (chain, signer) = (chain.clone(), signer.clone());
				tokio::spawn(async move {
					let calls: Vec<BatchCall> =
						pending.iter().map(|(call, _)| call.clone()).collect();
					let outcomes = chain.submit_batch(&calls, &signer).await;
					drop(permit);
					for ((_, reply), outcome) in pending.into_iter().zip(outcomes) {
						// The caller may have given up waiting; its call still took effect.
						let _ = reply.send(outcome);
					}
				});
			}
		});
		Batcher { queue }
	}

	/// Queues `call` for the next batch and waits for its own outcome.
	pub async fn submit(&self, call: BatchCall) -> ItemOutcome {
		let stopped = |call: &BatchCall| Err(call.failed("the batching task stopped".into()));
		let (reply, outcome) = oneshot::channel();
		if let Err(mpsc::error::SendError((call, _))) = self.queue.send((call, reply)) {
			return stopped(&call);
		}
		outcome.await.unwrap_or_else(|_| {
			Err(ClientError::Transaction {
				call: "ComputeMarket batch".into(),
				reason: "the batching task stopped".into(),
			})
		})
	}
}

/// Splits a `force_batch` extrinsic's events into one outcome per call: each call's
/// events come before its `ItemCompleted`, and a refused call leaves only its
/// `ItemFailed` (its own events were rolled back).
fn split_outcomes(
	events: &ExtrinsicEvents<ModicumConfig>,
	calls: &[BatchCall],
	metadata: &Metadata,
) -> Vec<ItemOutcome> {
	let mut outcomes = Vec::with_capacity(calls.len());
	let mut current = Vec::new();
	for event in events.iter().filter_map(Result::ok) {
		match event.decode_as::<runtime::Event>() {
			Ok(runtime::Event::ComputeMarket(market)) => current.push(market),
			Ok(runtime::Event::Utility(UtilityEvent::ItemCompleted)) => {
				outcomes.push(Ok(std::mem::take(&mut current)));
			},
			Ok(runtime::Event::Utility(UtilityEvent::ItemFailed { error })) => {
				current.clear();
				let call = &calls[outcomes.len().min(calls.len() - 1)];
				outcomes.push(Err(refusal(call, &error, metadata)));
			},
			_ => {},
		}
	}
	outcomes.truncate(calls.len());
	// The runtime reports every call; this only guards against a runtime that does not.
	for call in &calls[outcomes.len()..] {
		outcomes.push(Err(call.failed("the batch reported no outcome for this call".into())));
	}
	outcomes
}

/// Splits one of the pallet's batched extrinsics' events into one outcome per call. A
/// refused call has its `BatchItemFailed` (its own events were rolled back); an applied
/// call's events are consecutive and all about its own match or offer, so a change of
/// subject starts the next applied call's.
fn split_native_outcomes(
	events: &ExtrinsicEvents<ModicumConfig>,
	calls: &[BatchCall],
	metadata: &Metadata,
) -> Vec<ItemOutcome> {
	let mut outcomes: Vec<Option<ItemOutcome>> = calls.iter().map(|_| None).collect();
	let mut current: (Option<u64>, Vec<MarketEvent>) = (None, Vec::new());
	// The next call without an outcome gets the events gathered so far.
	let settle = |outcomes: &mut Vec<Option<ItemOutcome>>, events: Vec<MarketEvent>| {
		if let Some(slot) = outcomes.iter_mut().find(|slot| slot.is_none()) {
			*slot = Some(Ok(events));
		}
	};
	for event in events.iter().filter_map(Result::ok) {
		let Ok(runtime::Event::ComputeMarket(market)) = event.decode_as::<runtime::Event>() else {
			continue;
		};
		if let MarketEvent::BatchItemFailed { index, error } = &market {
			if !current.1.is_empty() {
				settle(&mut outcomes, std::mem::take(&mut current.1));
			}
			current.0 = None;
			let index = *index as usize;
			if let (Some(slot), Some(call)) = (outcomes.get_mut(index), calls.get(index)) {
				*slot = Some(Err(refusal(call, error, metadata)));
			}
			continue;
		}
		let subject = item_subject(&market);
		if subject.is_some() && current.0.is_some() && subject != current.0 {
			settle(&mut outcomes, std::mem::take(&mut current.1));
		}
		current.0 = subject.or(current.0);
		current.1.push(market);
	}
	if !current.1.is_empty() {
		settle(&mut outcomes, current.1);
	}
	// The runtime reports every call; this only guards against a runtime that does not.
	outcomes
		.into_iter()
		.zip(calls)
		.map(|(outcome, call)| {
			outcome.unwrap_or_else(|| {
				Err(call.failed("the batch reported no outcome for this call".into()))
			})
		})
		.collect()
}

/// The match or offer an event of a batched call's item is about.
fn item_subject(event: &MarketEvent) -> Option<u64> {
	crate::events::match_id(event).or(match event {
		MarketEvent::JobOfferPosted { offer_id, .. }
		| MarketEvent::ResourceOfferPosted { offer_id, .. } => Some(*offer_id),
		_ => None,
	})
}

/// A refused call's error, named from the runtime's metadata like a refused extrinsic.
fn refusal(call: &BatchCall, error: &DispatchError, metadata: &Metadata) -> ClientError {
	if let DispatchError::Module(module) = error {
		let pallet = metadata.pallet_by_error_index(module.index);
		if let Some((pallet, variant)) =
			pallet.and_then(|p| p.error_variant_by_index(module.error[0]).map(|v| (p, v)))
		{
			return ClientError::Refused {
				call: format!("ComputeMarket::{}", call.name),
				pallet: pallet.name().to_string(),
				error: variant.name.clone(),
				docs: variant.docs.join(" "),
			};
		}
	}
	call.failed(format!("{error:?}"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn batches_are_packed_by_count_and_by_weight() {
		assert!(pack(&[], 10).is_empty());
		assert_eq!(pack(&[3, 3, 3, 3], 10), vec![0..3, 3..4]);
		// A call over the budget goes alone, between the others.
		assert_eq!(pack(&[2, 50, 2, 2], 10), vec![0..1, 1..2, 2..4]);
		let light = vec![1; 300];
		let counts: Vec<usize> = pack(&light, u64::MAX).iter().map(|r| r.len()).collect();
		assert_eq!(counts, vec![128, 128, 44]);
		// Saturating sums: absurd weights never wrap into a small one.
		assert_eq!(pack(&[u64::MAX, u64::MAX], u64::MAX), vec![0..1, 1..2]);
	}

	#[test]
	fn a_failed_extrinsic_names_the_call() {
		let call = BatchCall::new("accept_result", MarketCall::accept_result { match_id: 7 });
		let error = call.failed("pool full".into());
		assert_eq!(error.to_string(), "ComputeMarket::accept_result failed: pool full");
		assert!(!error.is_final());
	}
}
