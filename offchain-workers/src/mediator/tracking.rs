//! Which matches name this mediator, followed by id so that a tick reads only those and
//! not every match in the market ([`modicum_client::own_items`] says why reading them
//! at one block against the chain's count of them proves none is missed).

use super::{Mediator, MediatorError};
use modicum_client::chain::MatchInfo;
use std::collections::BTreeSet;

impl Mediator {
	/// Every open match naming this mediator. The known ones are read by id; if they
	/// are not all the chain counts (some were named while the daemon was away, or an
	/// event was missed), the whole market is read once to learn them again.
	pub(super) async fn own_matches(&self) -> Result<Vec<(u64, MatchInfo)>, MediatorError> {
		let known = self.known_matches.lock().await.clone();
		// Not registered: nothing can name it (deregistering needs no open matches).
		let Some(found) = self.chain.mediated_matches(&self.me, &known).await? else {
			return Ok(Vec::new());
		};
		let matches = if found.complete() {
			found.matches
		} else {
			tracing::info!(
				counted = found.open_items,
				known = found.matches.len(),
				"not every match naming this mediator is known: reading the whole market"
			);
			let all = self.chain.matches().await?;
			all.into_iter().filter(|(_, m)| m.mediator == self.me).collect()
		};
		self.remember(&known, &matches).await;
		Ok(matches)
	}

	/// Keeps `matches` as the known ones, with any an event noted since `read` was taken.
	async fn remember(&self, read: &BTreeSet<u64>, matches: &[(u64, MatchInfo)]) {
		let mut known = self.known_matches.lock().await;
		let noted_meanwhile: Vec<u64> = known.difference(read).copied().collect();
		*known = matches.iter().map(|(id, _)| *id).chain(noted_meanwhile).collect();
	}

	/// Notes a match naming this mediator that a block's events announced, so the next
	/// tick reads it by id.
	pub(super) async fn note_match(&self, match_id: u64) {
		self.known_matches.lock().await.insert(match_id);
	}
}
