//! Typed helpers for every compute-market call: each builds the call from plain
//! arguments, submits it signed by `signer`, waits until it is in a block of the
//! connection's head (finalized, or best) and returns the events it caused. Errors
//! name the pallet error (e.g. `InstructionCapTooLow`).

use crate::{
	batch::{BatchCall, ItemOutcome},
	chain::{Balance, JobTerms, Parameters, ResourceTerms},
	guard::MatchGuard,
	runtime::{
		self,
		runtime_types::pallet_compute_market::{pallet::Call as MarketCall, types as market},
	},
	AccountId, Chain, ClientError, Keypair, MarketEvent, ModicumConfig, Reference,
};
use subxt::extrinsics::ExtrinsicEvents;

/// The compute-market events a transaction caused.
pub fn market_events(events: &ExtrinsicEvents<ModicumConfig>) -> Vec<MarketEvent> {
	events
		.iter()
		.filter_map(Result::ok)
		.filter(|e| e.pallet_name() == "ComputeMarket")
		.filter_map(|e| match e.decode_as::<runtime::Event>() {
			Ok(runtime::Event::ComputeMarket(inner)) => Some(inner),
			_ => None,
		})
		.collect()
}

fn tx() -> runtime::compute_market::calls::api::TransactionApi {
	runtime::transactions().compute_market()
}

/// One method per pallet call, bound to a chain connection and a signer.
pub struct Market<'a> {
	chain: &'a Chain,
	signer: &'a Keypair,
	guard: Option<MatchGuard>,
}

impl<'a> Market<'a> {
	/// Calls signed by `signer` through `chain`.
	pub fn new(chain: &'a Chain, signer: &'a Keypair) -> Self {
		Market { chain, signer, guard: None }
	}

	/// Single calls go out only while the head block shows `guard`'s match as seen
	/// (otherwise [`ClientError::MatchChanged`]), anchored at that block.
	pub fn guarded(mut self, guard: MatchGuard) -> Self {
		self.guard = Some(guard);
		self
	}

	async fn send(
		&self,
		call: &impl subxt::transactions::Payload,
	) -> Result<Vec<MarketEvent>, ClientError> {
		let events = match &self.guard {
			Some(guard) => self.chain.submit_guarded(call, self.signer, guard).await?,
			None => self.chain.submit(call, self.signer).await?,
		};
		Ok(market_events(&events))
	}

	/// Registers as a Resource Provider.
	pub async fn register_resource_provider(
		&self,
		arch: market::Architecture,
		time_per_instruction_ns: u64,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().register_resource_provider(arch, time_per_instruction_ns)).await
	}

	/// Registers as a Job Creator.
	pub async fn register_job_creator(&self) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().register_job_creator()).await
	}

	/// Registers as a Mediator with its speed (wall-clock ns per instruction, which
	/// sizes each match's mediation window) and its prices.
	pub async fn register_mediator(
		&self,
		arch: market::Architecture,
		time_per_instruction_ns: u64,
		instruction_price: Balance,
		bandwidth_price: Balance,
		availability_price: Balance,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().register_mediator(
			arch,
			time_per_instruction_ns,
			instruction_price,
			bandwidth_price,
			availability_price,
		))
		.await
	}

	/// Registers as a Directory reachable at `endpoint`.
	pub async fn register_directory(
		&self,
		endpoint: Reference,
		availability_price: Balance,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().register_directory(endpoint, availability_price)).await
	}

	/// Leaves a role.
	pub async fn deregister(&self, role: market::Role) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().deregister(role)).await
	}

	/// Trusts a mediator.
	pub async fn trust_mediator(
		&self,
		mediator: AccountId,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().trust_mediator(mediator)).await
	}

	/// Stops trusting a mediator.
	pub async fn distrust_mediator(
		&self,
		mediator: AccountId,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().distrust_mediator(mediator)).await
	}

	/// Trusts a directory.
	pub async fn trust_directory(
		&self,
		directory: AccountId,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().trust_directory(directory)).await
	}

	/// Stops trusting a directory.
	pub async fn distrust_directory(
		&self,
		directory: AccountId,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().distrust_directory(directory)).await
	}

	/// Declares an installed base layer.
	pub async fn add_base_layer(&self, layer: [u8; 32]) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().add_base_layer(layer)).await
	}

	/// Withdraws a base layer.
	pub async fn remove_base_layer(
		&self,
		layer: [u8; 32],
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().remove_base_layer(layer)).await
	}

	/// Posts a resource offer.
	pub async fn post_resource_offer(
		&self,
		terms: ResourceTerms,
		deposit: Balance,
		expires_at: u64,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().post_resource_offer(terms, deposit, expires_at)).await
	}

	/// Posts a job offer.
	pub async fn post_job_offer(
		&self,
		terms: JobTerms,
		deposit: Balance,
		expires_at: u64,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().post_job_offer(terms, deposit, expires_at)).await
	}

	/// Cancels an own unmatched offer.
	pub async fn cancel_offer(
		&self,
		offer: market::OfferRef,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().cancel_offer(offer)).await
	}

	/// Clears anyone's expired unmatched offer.
	pub async fn clear_expired_offer(
		&self,
		offer: market::OfferRef,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().clear_expired_offer(offer)).await
	}

	/// Matches a job offer with a resource offer and a mediator.
	pub async fn post_match(
		&self,
		job_offer_id: u64,
		resource_offer_id: u64,
		mediator: AccountId,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().post_match(job_offer_id, resource_offer_id, mediator)).await
	}

	/// Sends `calls`, each a `name` call, in one batch (see [`Chain::submit_batch`]): one
	/// outcome per call, in order; a refused call does not stop the others.
	async fn send_batch(
		&self,
		name: &'static str,
		calls: impl Iterator<Item = MarketCall>,
	) -> Vec<ItemOutcome> {
		let calls: Vec<BatchCall> = calls.map(|call| BatchCall::new(name, call)).collect();
		self.chain.submit_batch(&calls, self.signer).await
	}

	/// Posts several matches in one batch: one outcome per `(job offer, resource
	/// offer, mediator)`, in order; a refused match does not stop the others.
	pub async fn post_matches(&self, matches: &[(u64, u64, AccountId)]) -> Vec<ItemOutcome> {
		let calls = matches.iter().map(|&(job_offer_id, resource_offer_id, mediator)| {
			MarketCall::post_match { job_offer_id, resource_offer_id, mediator }
		});
		self.send_batch("post_match", calls).await
	}

	/// Posts several resource offers in one batch (an RP topping up its offers): one
	/// outcome per `(terms, deposit, expires_at)`, in order.
	pub async fn post_resource_offers(
		&self,
		offers: &[(ResourceTerms, Balance, u64)],
	) -> Vec<ItemOutcome> {
		let calls =
			offers.iter().map(|(terms, deposit, expires_at)| MarketCall::post_resource_offer {
				terms: terms.clone(),
				deposit: *deposit,
				expires_at: *expires_at,
			});
		self.send_batch("post_resource_offer", calls).await
	}

	/// Posts several job offers in one batch (e.g. a map job's shards): one outcome per
	/// `(terms, deposit, expires_at)`, in order.
	pub async fn post_job_offers(&self, offers: &[(JobTerms, Balance, u64)]) -> Vec<ItemOutcome> {
		let calls = offers.iter().map(|(terms, deposit, expires_at)| MarketCall::post_job_offer {
			terms: terms.clone(),
			deposit: *deposit,
			expires_at: *expires_at,
		});
		self.send_batch("post_job_offer", calls).await
	}

	/// Accepts several posted results in one batch (JC): one outcome per match, in
	/// order; a match that cannot be accepted does not stop the others.
	pub async fn accept_results(&self, match_ids: &[u64]) -> Vec<ItemOutcome> {
		let calls = match_ids.iter().map(|&match_id| MarketCall::accept_result { match_id });
		self.send_batch("accept_result", calls).await
	}

	/// Posts a job's result (RP).
	#[allow(clippy::too_many_arguments)]
	pub async fn post_result(
		&self,
		match_id: u64,
		status: market::ResultStatus,
		reference: Reference,
		hash: [u8; 32],
		instruction_count: u64,
		bandwidth_used: u64,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().post_result(
			match_id,
			status,
			reference,
			hash,
			instruction_count,
			bandwidth_used,
		))
		.await
	}

	/// Reveals a replica's committed result (its RP, once no replica can still commit).
	#[allow(clippy::too_many_arguments)]
	pub async fn reveal_result(
		&self,
		match_id: u64,
		status: market::ResultStatus,
		reference: Reference,
		hash: [u8; 32],
		instruction_count: u64,
		bandwidth_used: u64,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().reveal_result(
			match_id,
			status,
			reference,
			hash,
			instruction_count,
			bandwidth_used,
		))
		.await
	}

	/// Accepts a result (JC any time; RP after the reaction deadline).
	pub async fn accept_result(&self, match_id: u64) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().accept_result(match_id)).await
	}

	/// Rejects a result (JC, within the reaction window).
	pub async fn reject_result(
		&self,
		match_id: u64,
		reason: market::RejectReason,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().reject_result(match_id, reason)).await
	}

	/// Rejects a record job's result as wrong, naming the records whose outputs differ
	/// (JC, within the reaction window): the mediator tries those records first.
	pub async fn reject_records(
		&self,
		match_id: u64,
		records: &[String],
	) -> Result<Vec<MarketEvent>, ClientError> {
		let records = crate::disputed_records(records)?;
		self.send(&tx().reject_records(match_id, records)).await
	}

	/// Closes a match whose RP never posted (JC, after the completion deadline).
	pub async fn timeout(&self, match_id: u64) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().timeout(match_id)).await
	}

	/// Posts a mediation verdict (the match's mediator).
	#[allow(clippy::too_many_arguments)]
	pub async fn post_mediation_result(
		&self,
		match_id: u64,
		verdict: market::Verdict,
		faulty: market::FaultyParty,
		instruction_count: u64,
		bandwidth_used: u64,
		result_hash: [u8; 32],
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().post_mediation_result(
			match_id,
			verdict,
			faulty,
			instruction_count,
			bandwidth_used,
			result_hash,
		))
		.await
	}

	/// Closes a mediation whose deadline passed (anyone).
	pub async fn mediation_timeout(&self, match_id: u64) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().mediation_timeout(match_id)).await
	}

	/// Posts one job as `replicas` job offers for distinct RPs, none of them in
	/// `excluded`, each holding `deposit`.
	pub async fn post_replicated_job_offer(
		&self,
		terms: JobTerms,
		replicas: u32,
		excluded: Vec<AccountId>,
		deposit: Balance,
		expires_at: u64,
	) -> Result<Vec<MarketEvent>, ClientError> {
		let excluded =
			runtime::runtime_types::bounded_collections::bounded_vec::BoundedVec(excluded);
		self.send(&tx().post_replicated_job_offer(terms, replicas, excluded, deposit, expires_at))
			.await
	}

	/// Commits a replica's result before revealing it with [`Market::reveal_result`] (RP).
	pub async fn commit_result(
		&self,
		match_id: u64,
		commitment: [u8; 32],
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().commit_result(match_id, commitment)).await
	}

	/// Compares a replica group's results once no replica can still post (anyone).
	pub async fn settle_replicas(&self, group: u64) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().settle_replicas(group)).await
	}

	/// Rules on replicas that disagreed (the group's mediator).
	pub async fn post_replica_verdict(
		&self,
		group: u64,
		verdict: market::ReplicaVerdict,
		instruction_count: u64,
		bandwidth_used: u64,
	) -> Result<Vec<MarketEvent>, ClientError> {
		self.send(&tx().post_replica_verdict(group, verdict, instruction_count, bandwidth_used))
			.await
	}

	/// Sets the market parameters (root only: wrapped in `Sudo::sudo`, so `signer` must
	/// be the sudo key).
	pub async fn set_parameters(
		&self,
		parameters: Parameters,
	) -> Result<Vec<MarketEvent>, ClientError> {
		let inner = runtime::runtime_types::modicum_runtime::RuntimeCall::ComputeMarket(
			runtime::runtime_types::pallet_compute_market::pallet::Call::set_parameters {
				parameters,
			},
		);
		self.send(&runtime::transactions().sudo().sudo(inner)).await
	}
}
