//! What a Resource Provider or a Mediator has open on chain, read at one block, so that a
//! daemon can follow its own offers and matches by id rather than read every match in
//! the market.
//!
//! The chain counts each RP's open offers and matches, and each mediator's open matches
//! (`open_items`, which bounds them and must be zero to deregister). A daemon that reads
//! the items it knows of at the block it reads that count, and finds them all, knows it
//! has missed none: an item it never heard of would make the count larger. Reading all
//! of it at one block matters: a known item that closed and an unknown one that opened
//! between two reads would cancel out.

use crate::{
	chain::{read_at, MatchInfo},
	runtime, AccountId, Chain, ClientError,
};
use std::collections::BTreeSet;

/// An RP's known items as one block holds them.
#[derive(Clone, Debug)]
pub struct OwnItems {
	/// The chain's count of the RP's open offers and matches.
	pub open_items: u32,
	/// The known offers still in the book (expired ones too, until they are cleared).
	pub offers: BTreeSet<u64>,
	/// The known matches still open, with their state.
	pub matches: Vec<(u64, MatchInfo)>,
}

impl OwnItems {
	/// Whether the known offers and matches are every item the chain counts.
	pub fn complete(&self) -> bool {
		all_counted(self.offers.len(), self.matches.len(), self.open_items)
	}
}

/// Whether `offers` and `matches` found make up the chain's `open_items`.
fn all_counted(offers: usize, matches: usize, open_items: u32) -> bool {
	let found = offers.saturating_add(matches);
	u32::try_from(found).is_ok_and(|found| found == open_items)
}

/// A mediator's known matches as one block holds them.
#[derive(Clone, Debug)]
pub struct MediatedMatches {
	/// The chain's count of the open matches naming the mediator.
	pub open_items: u32,
	/// The known matches still open and naming it, with their state.
	pub matches: Vec<(u64, MatchInfo)>,
}

impl MediatedMatches {
	/// Whether the known matches are every match the chain counts.
	pub fn complete(&self) -> bool {
		all_counted(0, self.matches.len(), self.open_items)
	}
}

impl Chain {
	/// `who`'s count of open matches naming it as mediator, and which of `matches` still
	/// do and are open, all at the followed head block; `None` if it is not registered
	/// as a mediator.
	pub async fn mediated_matches(
		&self,
		who: &AccountId,
		matches: &BTreeSet<u64>,
	) -> Result<Option<MediatedMatches>, ClientError> {
		let at = self.at().await?;
		let storage = runtime::storage().compute_market();
		let mediator = read_at(&at, storage.mediators(), (*who,), "ComputeMarket::Mediators");
		let Some(mediator) = mediator.await? else { return Ok(None) };
		let mut items = MediatedMatches { open_items: mediator.open_items, matches: Vec::new() };
		for &id in matches {
			let info = read_at(&at, storage.matches(), (id,), "ComputeMarket::Matches").await?;
			if let Some(info) = info.filter(|info| info.mediator == *who) {
				items.matches.push((id, info));
			}
		}
		Ok(Some(items))
	}

	/// `who`'s open-item count and which of `offers` and `matches` are still its own
	/// and open, all at the followed head block; `None` if it is not registered as
	/// an RP.
	pub async fn own_items(
		&self,
		who: &AccountId,
		offers: &BTreeSet<u64>,
		matches: &BTreeSet<u64>,
	) -> Result<Option<OwnItems>, ClientError> {
		let at = self.at().await?;
		let storage = runtime::storage().compute_market();
		let provider =
			read_at(&at, storage.resource_providers(), (*who,), "ComputeMarket::ResourceProviders");
		let Some(provider) = provider.await? else { return Ok(None) };
		let mut items = OwnItems {
			open_items: provider.open_items,
			offers: BTreeSet::new(),
			matches: Vec::new(),
		};
		for &id in offers {
			let offer =
				read_at(&at, storage.resource_offers(), (id,), "ComputeMarket::ResourceOffers");
			if offer.await?.is_some_and(|offer| offer.owner == *who) {
				items.offers.insert(id);
			}
		}
		for &id in matches {
			let info = read_at(&at, storage.matches(), (id,), "ComputeMarket::Matches").await?;
			if let Some(info) = info.filter(|info| info.resource_provider == *who) {
				items.matches.push((id, info));
			}
		}
		Ok(Some(items))
	}
}

#[cfg(test)]
mod tests {
	use super::all_counted;

	#[test]
	fn complete_only_when_the_known_items_are_all_the_chain_counts() {
		assert!(all_counted(2, 1, 3));
		assert!(all_counted(0, 0, 0));
		assert!(!all_counted(2, 1, 4), "an item it does not know of");
		assert!(!all_counted(2, 1, 2), "fewer counted than found: the count moved");
		assert!(!all_counted(usize::MAX, 1, u32::MAX), "no overflow");
	}
}
