//! Finding the RP's own open matches without reading every match in the market: the
//! daemon keeps the ids of its offers and matches, reads those at one block beside the
//! chain's count of its open items, and reads the whole market only when the count
//! says it missed something ([`modicum_client::own_items`]).

use super::{ResourceProvider, RpError};
use modicum_client::chain::MatchInfo;

impl ResourceProvider {
	/// This RP's open matches. Read by id when the offers and matches it knows of are
	/// every item the chain counts for it; otherwise found among all matches, which
	/// happens the first time, after an event was missed (a reconnect), and while an
	/// expired offer of its own waits to be cleared.
	pub(super) async fn own_open_matches(&self) -> Result<Vec<(u64, MatchInfo)>, RpError> {
		let offers = self.own_offers.lock().await.clone();
		let matches = self.own_matches.lock().await.clone();
		if let (Some(offers), Some(matches)) = (offers, matches) {
			let items = self.chain.own_items(&self.me, &offers, &matches).await?;
			if let Some(items) = items.filter(|items| items.complete()) {
				*self.own_matches.lock().await =
					Some(items.matches.iter().map(|(id, _)| *id).collect());
				return Ok(items.matches);
			}
		}
		let mine: Vec<(u64, MatchInfo)> = self
			.chain
			.matches()
			.await?
			.into_iter()
			.filter(|(_, m)| m.resource_provider == self.me)
			.collect();
		// A match an event adds meanwhile may be overwritten here; the next count
		// then differs, and the next reconcile reads the whole market again.
		*self.own_matches.lock().await = Some(mine.iter().map(|(id, _)| *id).collect());
		Ok(mine)
	}

	/// Notes a match of this RP that a block's events named, so the next reconcile
	/// reads it by id.
	pub(super) async fn note_own_match(&self, match_id: u64) {
		if let Some(known) = self.own_matches.lock().await.as_mut() {
			known.insert(match_id);
		}
	}
}
