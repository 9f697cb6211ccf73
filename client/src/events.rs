//! The compute-market's events from the blocks a connection follows (finalized, or
//! best), in order, decoded into the pallet's own event type so daemons can `match` on
//! them.

use crate::{
	blocks::{Blocks, Followed},
	chain::AtBlock,
	runtime, AccountId, ClientError, MarketEvent,
};

/// The market events of one block.
#[derive(Clone, Debug)]
pub struct BlockEvents {
	/// The block's number.
	pub number: u64,
	/// Its compute-market events, in the order they happened.
	pub events: Vec<MarketEvent>,
	/// Set when best blocks delivered earlier, above this number, were retracted before
	/// this one: the events they held may not have happened. This block is on the chain
	/// that replaced them (its own events, and those of the blocks after, are delivered
	/// as usual; some may repeat what the retracted blocks held).
	pub retracted_above: Option<u64>,
}

/// Every followed block's compute-market events, in order, none skipped.
pub struct MarketEvents {
	blocks: Blocks,
	/// A retraction not yet reported with a block (kept across a failed read).
	retracted_above: Option<u64>,
}

impl MarketEvents {
	/// Follows the head `chain` follows ([`crate::chain::Head`]), from the block at that
	/// head now.
	pub async fn subscribe(chain: &crate::Chain) -> Result<MarketEvents, ClientError> {
		Ok(MarketEvents { blocks: Blocks::follow(chain).await?, retracted_above: None })
	}

	/// The next block's market events (possibly none); `None` once the node is gone.
	pub async fn next(&mut self) -> Option<Result<BlockEvents, ClientError>> {
		loop {
			let (number, at) = match self.blocks.next().await? {
				Ok(Followed::Block(number, at)) => (number, at),
				Ok(Followed::Retracted { above }) => {
					self.retracted_above =
						Some(self.retracted_above.map_or(above, |a| a.min(above)));
					continue;
				},
				Err(e) => return Some(Err(e)),
			};
			return Some(block_events(number, at).await.map(|events| BlockEvents {
				retracted_above: self.retracted_above.take(),
				..events
			}));
		}
	}
}

fn read_error(e: impl std::fmt::Display) -> ClientError {
	ClientError::Read { what: "a block's events".into(), reason: e.to_string() }
}

async fn block_events(number: u64, at: AtBlock) -> Result<BlockEvents, ClientError> {
	let events = at.events().fetch().await.map_err(read_error)?;
	let mut market = Vec::new();
	for event in events.iter() {
		let event = event.map_err(read_error)?;
		if event.pallet_name() != "ComputeMarket" {
			continue;
		}
		match event.decode_as::<runtime::Event>().map_err(read_error)? {
			runtime::Event::ComputeMarket(inner) => market.push(inner),
			_ => continue,
		}
	}
	Ok(BlockEvents { number, events: market, retracted_above: None })
}

/// The accounts an event names, so a daemon can ignore what does not concern it.
pub fn parties(event: &MarketEvent) -> Vec<&AccountId> {
	use MarketEvent as E;
	match event {
		E::Matched { job_creator, resource_provider, mediator, solver, directory, .. } => {
			vec![job_creator, resource_provider, mediator, solver, directory]
		},
		E::ResultPosted { resource_provider, job_creator, .. } => {
			vec![resource_provider, job_creator]
		},
		E::JobAssignedForMediation {
			mediator, job_creator, resource_provider, directory, ..
		} => vec![mediator, job_creator, resource_provider, directory],
		E::MediationResultPosted { mediator, .. } => vec![mediator],
		E::ReplicatedJobOfferPosted { creator, .. } => vec![creator],
		E::ReplicaResultPosted { resource_provider, .. }
		| E::ReplicaResultCommitted { resource_provider, .. } => vec![resource_provider],
		E::ReplicasDisagreed { mediator, job_creator, directory, results, .. } => {
			let providers = results.0.iter().map(|(_, provider, _)| provider);
			[mediator, job_creator, directory].into_iter().chain(providers).collect()
		},
		E::ReplicaVerdictPosted { mediator, .. } => vec![mediator],
		E::Paid { from, to, .. } => vec![from, to],
		E::Shortfall { who, .. } => vec![who],
		E::Fined { who, .. } | E::DepositReleased { who, .. } => vec![who],
		E::ResourceOfferPosted { provider, .. } => vec![provider],
		E::JobOfferPosted { creator, .. } => vec![creator],
		E::OfferCancelled { owner, .. } => vec![owner],
		E::OfferExpired { owner, cleared_by, .. } => {
			std::iter::once(owner).chain(cleared_by.as_ref()).collect()
		},
		E::Registered { who, .. } | E::Deregistered { who, .. } => vec![who],
		E::MediatorTrusted { who, mediator } | E::MediatorDistrusted { who, mediator } => {
			vec![who, mediator]
		},
		E::DirectoryTrusted { who, directory } | E::DirectoryDistrusted { who, directory } => {
			vec![who, directory]
		},
		E::BaseLayerAdded { who, .. } | E::BaseLayerRemoved { who, .. } => vec![who],
		_ => Vec::new(),
	}
}

/// The match an event is about, if any.
pub fn match_id(event: &MarketEvent) -> Option<u64> {
	use MarketEvent as E;
	match event {
		E::Matched { match_id, .. }
		| E::ResultPosted { match_id, .. }
		| E::JobAssignedForMediation { match_id, .. }
		| E::RecordsDisputed { match_id, .. }
		| E::MediationResultPosted { match_id, .. }
		| E::Paid { match_id, .. }
		| E::Fined { match_id, .. }
		| E::Shortfall { match_id, .. }
		| E::DepositReleased { match_id, .. }
		| E::MatchClosed { match_id, .. }
		| E::ReplicaResultPosted { match_id, .. }
		| E::ReplicaResultCommitted { match_id, .. } => Some(*match_id),
		_ => None,
	}
}
