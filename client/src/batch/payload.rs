//! The extrinsic a batch goes out as: the pallet's own batched call when every call is of
//! one kind it batches (`post_job_offers`, `post_resource_offers`, `post_matches`,
//! `post_results`, `accept_results`), else `utility.force_batch`. The pallet's calls
//! weigh less: their weights count each party's records once per batch, where
//! `force_batch` adds up the single calls' weights, each assuming its own writes. Both
//! settle each item on its own.

use crate::runtime::{
	self,
	runtime_types::{
		bounded_collections::bounded_vec::BoundedVec,
		modicum_runtime::RuntimeCall,
		pallet_compute_market::{pallet::Call as MarketCall, types::PostedResult},
	},
};
use subxt::{
	ext::scale_encode::{self, EncodeAsFields, FieldIter, TypeResolver},
	transactions::{Payload, StaticPayload, ValidationDetails},
};

/// A batch's extrinsic call, checked against the node's metadata like any static call.
#[derive(Clone, Debug)]
pub struct BatchPayload {
	pallet: String,
	call: String,
	hash: Option<[u8; 32]>,
	args: BatchArgs,
}

/// The arguments of the call a batch goes out as.
#[derive(Clone, Debug)]
pub enum BatchArgs {
	/// `Utility::force_batch`: calls of several kinds, or of a kind the pallet does not
	/// batch.
	Force(runtime::utility::calls::ForceBatch),
	/// `ComputeMarket::post_job_offers`.
	JobOffers(runtime::compute_market::calls::PostJobOffers),
	/// `ComputeMarket::post_resource_offers`.
	ResourceOffers(runtime::compute_market::calls::PostResourceOffers),
	/// `ComputeMarket::post_matches`.
	Matches(runtime::compute_market::calls::PostMatches),
	/// `ComputeMarket::post_results`.
	Results(runtime::compute_market::calls::PostResults),
	/// `ComputeMarket::accept_results`.
	Accepts(runtime::compute_market::calls::AcceptResults),
}

impl EncodeAsFields for BatchArgs {
	fn encode_as_fields_to<R: TypeResolver>(
		&self,
		fields: &mut dyn FieldIter<'_, R::TypeId>,
		types: &R,
		out: &mut Vec<u8>,
	) -> Result<(), scale_encode::Error> {
		match self {
			BatchArgs::Force(args) => args.encode_as_fields_to(fields, types, out),
			BatchArgs::JobOffers(args) => args.encode_as_fields_to(fields, types, out),
			BatchArgs::ResourceOffers(args) => args.encode_as_fields_to(fields, types, out),
			BatchArgs::Matches(args) => args.encode_as_fields_to(fields, types, out),
			BatchArgs::Results(args) => args.encode_as_fields_to(fields, types, out),
			BatchArgs::Accepts(args) => args.encode_as_fields_to(fields, types, out),
		}
	}
}

impl Payload for BatchPayload {
	type CallData = BatchArgs;

	fn pallet_name(&self) -> &str {
		&self.pallet
	}

	fn call_name(&self) -> &str {
		&self.call
	}

	fn call_data(&self) -> &BatchArgs {
		&self.args
	}

	fn validation_details(&self) -> Option<ValidationDetails<'_>> {
		self.hash.map(|hash| ValidationDetails {
			pallet_name: &self.pallet,
			call_name: &self.call,
			hash,
		})
	}
}

impl BatchPayload {
	/// The extrinsic call for `calls`: the pallet's batched call when all of them are
	/// of one kind it batches, else `force_batch`.
	pub fn for_calls(calls: &[RuntimeCall]) -> BatchPayload {
		native(calls).unwrap_or_else(|| {
			wrap(runtime::transactions().utility().force_batch(calls.to_vec()), BatchArgs::Force)
		})
	}

	/// Whether the pallet's batched call carries the calls (its refusals are
	/// `BatchItemFailed` events), rather than `force_batch` (`ItemFailed`).
	pub fn is_native(&self) -> bool {
		!matches!(self.args, BatchArgs::Force(_))
	}
}

fn wrap<Args: EncodeAsFields + Clone>(
	payload: StaticPayload<Args>,
	args: impl FnOnce(Args) -> BatchArgs,
) -> BatchPayload {
	BatchPayload {
		pallet: payload.pallet_name().into(),
		call: payload.call_name().into(),
		hash: payload.validation_details().map(|details| details.hash),
		args: args(payload.call_data().clone()),
	}
}

/// Each call's item, if every call is of the kind `item` takes.
fn items<Item>(
	calls: &[&MarketCall],
	item: impl Fn(&MarketCall) -> Option<Item>,
) -> Option<BoundedVec<Item>> {
	calls.iter().map(|call| item(call)).collect::<Option<Vec<Item>>>().map(BoundedVec)
}

/// The pallet's batched call for `calls`, if they are all of one kind it batches.
fn native(calls: &[RuntimeCall]) -> Option<BatchPayload> {
	let market = calls
		.iter()
		.map(|call| match call {
			RuntimeCall::ComputeMarket(inner) => Some(inner),
			_ => None,
		})
		.collect::<Option<Vec<&MarketCall>>>()?;
	let tx = runtime::transactions().compute_market();
	Some(match market.first()? {
		MarketCall::post_job_offer { .. } => {
			let offers = items(&market, |call| match call {
				MarketCall::post_job_offer { terms, deposit, expires_at } => {
					Some((terms.clone(), *deposit, *expires_at))
				},
				_ => None,
			})?;
			wrap(tx.post_job_offers(offers), BatchArgs::JobOffers)
		},
		MarketCall::post_resource_offer { .. } => {
			let offers = items(&market, |call| match call {
				MarketCall::post_resource_offer { terms, deposit, expires_at } => {
					Some((terms.clone(), *deposit, *expires_at))
				},
				_ => None,
			})?;
			wrap(tx.post_resource_offers(offers), BatchArgs::ResourceOffers)
		},
		MarketCall::post_match { .. } => {
			let matches = items(&market, |call| match call {
				MarketCall::post_match { job_offer_id, resource_offer_id, mediator } => {
					Some((*job_offer_id, *resource_offer_id, *mediator))
				},
				_ => None,
			})?;
			wrap(tx.post_matches(matches), BatchArgs::Matches)
		},
		MarketCall::post_result { .. } => {
			let results = items(&market, |call| match call {
				MarketCall::post_result {
					match_id,
					status,
					reference,
					hash,
					instruction_count,
					bandwidth_used,
				} => Some((
					*match_id,
					PostedResult {
						status: *status,
						reference: reference.clone(),
						hash: *hash,
						instruction_count: *instruction_count,
						bandwidth_used: *bandwidth_used,
					},
				)),
				_ => None,
			})?;
			wrap(tx.post_results(results), BatchArgs::Results)
		},
		MarketCall::accept_result { .. } => {
			let ids = items(&market, |call| match call {
				MarketCall::accept_result { match_id } => Some(*match_id),
				_ => None,
			})?;
			wrap(tx.accept_results(ids), BatchArgs::Accepts)
		},
		_ => return None,
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	fn accept(match_id: u64) -> RuntimeCall {
		RuntimeCall::ComputeMarket(MarketCall::accept_result { match_id })
	}

	#[test]
	fn calls_of_one_batched_kind_go_out_as_the_pallets_batch() {
		let payload = BatchPayload::for_calls(&[accept(3), accept(9)]);
		assert!(payload.is_native());
		assert_eq!(
			(payload.pallet_name(), payload.call_name()),
			("ComputeMarket", "accept_results")
		);
		let BatchArgs::Accepts(args) = payload.call_data() else { panic!("{payload:?}") };
		assert_eq!(args.match_ids.0, vec![3, 9]);
		assert!(payload.validation_details().is_some(), "checked against the node's metadata");
	}

	#[test]
	fn mixed_or_unbatched_kinds_go_out_as_force_batch() {
		let cancel = RuntimeCall::ComputeMarket(MarketCall::cancel_offer {
			offer: runtime::runtime_types::pallet_compute_market::types::OfferRef::Job(1),
		});
		let mixed = BatchPayload::for_calls(&[accept(3), cancel.clone()]);
		assert!(!mixed.is_native());
		assert_eq!((mixed.pallet_name(), mixed.call_name()), ("Utility", "force_batch"));
		assert!(!BatchPayload::for_calls(&[cancel]).is_native());
	}
}
