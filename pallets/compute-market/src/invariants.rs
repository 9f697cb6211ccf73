//! `try_state`: what the pallet records must equal what the currency holds, and every
//! match must be in a state its parties can still act on.

use crate::{pallet::*, types::*};
use alloc::collections::btree_map::BTreeMap;
use frame_support::{ensure, traits::fungible::InspectHold};
use sp_runtime::TryRuntimeError;

impl<T: Config> Pallet<T> {
	/// Checks the pallet's invariants:
	/// - per account, the balance held as `OfferDeposit` equals its open offers' deposits
	///   plus its unsettled matches' remaining deposits, and the balance held as
	///   `RegistrationBond` equals the bonds of its roles (funds conservation);
	/// - every role's open-item count equals its offers and matches (a directory's, its
	///   matches only);
	/// - every trust serial belongs to a listed entry;
	/// - every match names registered parties, deadlines after its start, and ids below
	///   the counters;
	/// - disputed records belong to a match in a `WrongResults` mediation.
	pub fn do_try_state() -> Result<(), TryRuntimeError> {
		let mut deposits: BTreeMap<T::AccountId, u128> = BTreeMap::new();
		let mut bonds: BTreeMap<T::AccountId, u128> = BTreeMap::new();
		let mut open: BTreeMap<(T::AccountId, u8), u32> = BTreeMap::new();
		let add = |map: &mut BTreeMap<T::AccountId, u128>, who: &T::AccountId, amount: u128| {
			let entry = map.entry(who.clone()).or_default();
			*entry = entry.saturating_add(amount);
		};
		let count =
			|map: &mut BTreeMap<(T::AccountId, u8), u32>, who: &T::AccountId, role: Role| {
				*map.entry((who.clone(), role as u8)).or_default() += 1;
			};

		let next_offer = NextOfferId::<T>::get();
		for (id, offer) in JobOffers::<T>::iter() {
			ensure!(id < next_offer, "job offer id at or above NextOfferId");
			ensure!(!ResourceOffers::<T>::contains_key(id), "an offer id names two offers");
			add(&mut deposits, &offer.owner, offer.deposit.into());
			count(&mut open, &offer.owner, Role::JobCreator);
		}
		for (id, offer) in ResourceOffers::<T>::iter() {
			ensure!(id < next_offer, "resource offer id at or above NextOfferId");
			add(&mut deposits, &offer.owner, offer.deposit.into());
			count(&mut open, &offer.owner, Role::ResourceProvider);
		}
		let next_match = NextMatchId::<T>::get();
		for (id, record) in Matches::<T>::iter() {
			ensure!(id < next_match, "match id at or above NextMatchId");
			ensure!(
				!JobOffers::<T>::contains_key(record.job_offer_id)
					&& !ResourceOffers::<T>::contains_key(record.resource_offer_id),
				"a matched offer is still open"
			);
			ensure!(JobCreators::<T>::contains_key(&record.job_creator), "match JC not registered");
			ensure!(
				ResourceProviders::<T>::contains_key(&record.resource_provider),
				"match RP not registered"
			);
			ensure!(
				Mediators::<T>::contains_key(&record.mediator),
				"match mediator not registered"
			);
			ensure!(
				Directories::<T>::contains_key(&record.job.directory),
				"match directory not registered"
			);
			match &record.state {
				MatchState::Matched => {
					ensure!(
						record.job.completion_deadline >= record.matched_at,
						"completion deadline before the match"
					)
				},
				MatchState::AwaitingReplicas { .. } => {
					ensure!(
						MatchReplicaGroup::<T>::contains_key(id),
						"a result awaits replicas outside any replica group"
					)
				},
				// Its group may have been compared without it once its reveal deadline
				// passed; then only a timeout is left for it.
				MatchState::Committed { .. } => {
					ensure!(
						MatchReplicaGroup::<T>::contains_key(id)
							|| Self::now() > Self::reveal_deadline(&record),
						"a commitment outside any replica group before its reveal deadline"
					)
				},
				MatchState::ResultPosted { reaction_deadline: deadline, .. }
				| MatchState::InMediation { mediation_deadline: deadline, .. } => {
					ensure!(*deadline >= record.matched_at, "deadline before the match")
				},
			}
			add(&mut deposits, &record.job_creator, record.job_creator_deposit.into());
			add(&mut deposits, &record.resource_provider, record.resource_provider_deposit.into());
			count(&mut open, &record.job_creator, Role::JobCreator);
			count(&mut open, &record.resource_provider, Role::ResourceProvider);
			count(&mut open, &record.mediator, Role::Mediator);
			count(&mut open, &record.job.directory, Role::Directory);
		}

		let mut check_role = |who: T::AccountId, role: Role, bond: u128, open_items: u32| {
			add(&mut bonds, &who, bond);
			let expected = open.remove(&(who, role as u8)).unwrap_or_default();
			ensure!(open_items == expected, "open-item count differs from offers and matches");
			Ok::<_, TryRuntimeError>(())
		};
		for (who, i) in ResourceProviders::<T>::iter() {
			check_role(who, Role::ResourceProvider, i.bond.into(), i.open_items)?;
		}
		for (who, i) in JobCreators::<T>::iter() {
			check_role(who, Role::JobCreator, i.bond.into(), i.open_items)?;
		}
		for (who, i) in Mediators::<T>::iter() {
			check_role(who, Role::Mediator, i.bond.into(), i.open_items)?;
		}
		for (who, i) in Directories::<T>::iter() {
			check_role(who, Role::Directory, i.bond.into(), i.open_items)?;
		}
		ensure!(open.is_empty(), "offers or matches name an unregistered role");

		// Every close counts the RP's ending once (README, "Reputation").
		let unsettled = Matches::<T>::iter_keys().count() as u64;
		let closed = next_match.saturating_sub(unsettled);
		let provider_endings = Reputations::<T>::iter()
			.filter(|(_, role, _)| *role == Role::ResourceProvider)
			.map(|(_, _, r)| {
				u64::from(r.accepted)
					+ u64::from(r.declined)
					+ u64::from(r.fined)
					+ u64::from(r.timed_out)
			})
			.fold(0u64, u64::saturating_add);
		ensure!(provider_endings <= closed, "more RP endings counted than matches closed");

		let deposit_reason = HoldReason::OfferDeposit.into();
		// Trust names registrations: a serial beside every listed entry, none unlisted.
		for (who, trusted, _) in MediatorTrust::<T>::iter() {
			ensure!(
				TrustedMediators::<T>::get(&who).contains(&trusted),
				"mediator trust serial without a list entry"
			);
		}
		for (who, trusted, _) in DirectoryTrust::<T>::iter() {
			ensure!(
				TrustedDirectories::<T>::get(&who).contains(&trusted),
				"directory trust serial without a list entry"
			);
		}

		Self::check_replica_groups()?;
		Self::check_disputed_records()?;

		for (who, expected) in deposits {
			let held: u128 = T::Currency::balance_on_hold(&deposit_reason, &who).into();
			ensure!(held == expected, "held offer deposits differ from recorded deposits");
		}
		let bond_reason = HoldReason::RegistrationBond.into();
		for (who, expected) in bonds {
			let held: u128 = T::Currency::balance_on_hold(&bond_reason, &who).into();
			ensure!(held == expected, "held bonds differ from recorded bonds");
		}
		Ok(())
	}

	/// Disputed records belong to a match in a `WrongResults` mediation, and each list
	/// is non-empty, ascending and of valid names (as `reject_records` took it).
	fn check_disputed_records() -> Result<(), TryRuntimeError> {
		for (id, records) in DisputedRecords::<T>::iter() {
			let disputed = Matches::<T>::get(id).map(|record| record.state);
			ensure!(
				matches!(
					disputed,
					Some(MatchState::InMediation { reason: RejectReason::WrongResults, .. })
				),
				"disputed records outside a WrongResults mediation"
			);
			ensure!(
				!records.is_empty()
					&& records.iter().all(|name| is_valid_record_name(name))
					&& records.windows(2).all(|pair| pair[0] < pair[1]),
				"disputed records not as reject_records takes them"
			);
		}
		Ok(())
	}

	/// Every replica index entry names a group that lists it, and every group member
	/// is an open offer or an unsettled match indexed back to it.
	fn check_replica_groups() -> Result<(), TryRuntimeError> {
		for (offer, group) in OfferReplicaGroup::<T>::iter() {
			let listed = ReplicaGroups::<T>::get(group)
				.is_some_and(|g| g.members.contains(&ReplicaMember::Offer(offer)));
			ensure!(listed, "a replica offer's group does not list it");
		}
		for (matched, group) in MatchReplicaGroup::<T>::iter() {
			let listed = ReplicaGroups::<T>::get(group)
				.is_some_and(|g| g.members.contains(&ReplicaMember::Match(matched)));
			ensure!(listed, "a replica match's group does not list it");
		}
		for (id, group) in ReplicaGroups::<T>::iter() {
			ensure!(!group.members.is_empty(), "an empty replica group is kept");
			for member in group.members.iter() {
				let indexed = match *member {
					ReplicaMember::Offer(offer) => {
						JobOffers::<T>::contains_key(offer)
							&& OfferReplicaGroup::<T>::get(offer) == Some(id)
					},
					ReplicaMember::Match(matched) => {
						Matches::<T>::contains_key(matched)
							&& MatchReplicaGroup::<T>::get(matched) == Some(id)
					},
				};
				ensure!(indexed, "a replica group lists a replica that is gone or not indexed");
			}
		}
		Ok(())
	}
}
