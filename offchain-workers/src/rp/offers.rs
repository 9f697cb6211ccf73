//! Keeping the RP's resource offers posted, each with a deposit every trusted
//! mediator and directory pair accepts at matching.

use super::{OfferSettings, ResourceProvider, RpError};
use modicum_client::{calls::Market, chain::ResourceTerms, records, MarketEvent};
use std::{
	collections::BTreeSet,
	sync::{atomic::Ordering, Arc},
};
use tokio::sync::OwnedMutexGuard;

impl ResourceProvider {
	/// A job no longer waits (it got a slot, or needs none): its place goes back to an
	/// offer, posted now rather than at the next reconcile.
	pub(super) async fn stop_waiting(&self) {
		self.waiting.fetch_sub(1, Ordering::SeqCst);
		let topped_up = match self.chain.now_ms().await {
			Ok(now) => self.top_up_offers(now).await,
			Err(e) => Err(e.into()),
		};
		if let Err(e) = topped_up {
			tracing::warn!("posting the next offer failed (the next reconcile retries): {e}");
		}
	}

	/// Keeps `open_offers` resource offers posted, less the matched jobs waiting to
	/// run.
	pub(super) async fn top_up_offers(&self, now: u64) -> Result<(), RpError> {
		let guard = Arc::clone(&self.top_up).lock_owned().await;
		self.top_up_offers_locked(now, guard).await
	}

	/// [`Self::top_up_offers`] with the top-up lock held; the missing offers go out
	/// together, in one extrinsic, so a top-up of several waits for one block, not one
	/// each.
	pub(super) async fn top_up_offers_locked(
		&self,
		now: u64,
		_one_at_a_time: OwnedMutexGuard<()>,
	) -> Result<(), RpError> {
		let mut known = self.own_offers.lock().await;
		// Taken, so that a failed read below leaves it unknown and the next top-up
		// looks at the whole book again.
		let mut open = self.still_open(known.take(), now).await?;
		let waiting = self.waiting.load(Ordering::SeqCst);
		let wanted = self.settings.open_offers.saturating_sub(waiting) as usize;
		let missing = wanted.saturating_sub(open.len());
		if missing == 0 {
			*known = Some(open);
			return Ok(());
		}
		let terms = offer_terms(&self.settings.offer);
		let deposit = self.deposit_for(&terms).await?;
		let expires_at = now.saturating_add(self.settings.offer.lifetime_ms);
		let offers = vec![(terms, deposit, expires_at); missing];
		let outcomes = Market::new(&self.chain, &self.signer).post_resource_offers(&offers).await;
		let (mut lost_track, mut failed) = (false, None);
		for outcome in outcomes {
			let events = match outcome {
				Ok(events) => events,
				Err(e) => {
					failed.get_or_insert(e);
					continue;
				},
			};
			let posted = events.iter().find_map(|e| match e {
				MarketEvent::ResourceOfferPosted { offer_id, .. } => Some(*offer_id),
				_ => None,
			});
			tracing::info!(deposit, offer_id = ?posted, "resource offer posted");
			match posted {
				Some(id) => {
					open.insert(id);
				},
				// Posted, but the events did not say as what: read the book next time.
				None => lost_track = true,
			}
		}
		*known = (!lost_track && failed.is_none()).then_some(open);
		failed.map_or(Ok(()), |e| Err(e.into()))
	}

	/// Which of this RP's offers are still open and unexpired: those it knows of, read
	/// one by one, or (the first time, or after losing track) every offer in the book
	/// that is its own, which also finds what an earlier run left open.
	async fn still_open(
		&self,
		known: Option<BTreeSet<u64>>,
		now: u64,
	) -> Result<BTreeSet<u64>, RpError> {
		let mut open = BTreeSet::new();
		let Some(known) = known else {
			let book = self.chain.resource_offers().await?;
			let own = book.into_iter().filter(|(_, o)| o.owner == self.me && o.expires_at > now);
			return Ok(own.map(|(id, _)| id).collect());
		};
		for id in known {
			let offer = self.chain.resource_offer(id).await?;
			if offer.is_some_and(|o| o.owner == self.me && o.expires_at > now) {
				open.insert(id);
			}
		}
		Ok(open)
	}

	/// The deposit that passes matching with any trusted mediator and directory: the
	/// largest of the chain's quotes over those pairs.
	async fn deposit_for(&self, terms: &ResourceTerms) -> Result<u128, RpError> {
		let mediators = self.chain.trusted_mediators(&self.me).await?;
		let directories = self.chain.trusted_directories(&self.me).await?;
		let mut deposit = self.chain.quote_resource_deposit(terms, None, None).await?;
		for mediator in &mediators {
			for directory in &directories {
				let quote = self
					.chain
					.quote_resource_deposit(terms, Some(*mediator), Some(*directory))
					.await;
				if let Ok(quote) = quote {
					deposit = deposit.max(quote);
				}
			}
		}
		Ok(deposit)
	}
}

/// The terms of the offers `offer` describes; its record requirement was checked when
/// the daemon started.
fn offer_terms(offer: &OfferSettings) -> ResourceTerms {
	ResourceTerms {
		creator_record: records::requirement(offer.jc_min_accepted, offer.jc_max_faults)
			.ok()
			.flatten(),
		instruction_price: offer.instruction_price.0,
		instruction_cap: offer.instruction_cap,
		memory_cap: offer.memory_cap,
		local_storage_cap: offer.local_storage_cap,
		bandwidth_cap: offer.bandwidth_cap,
		bandwidth_price: offer.bandwidth_price.0,
		match_incentive: offer.match_incentive.0,
	}
}
