//! A batch's deferred effects (`effects.rs`): offer deposits held once per batch, open
//! items and reputation written once, payments checked against what their recipient may
//! receive. Each item is still refused exactly where its single call would be, and a
//! refused item leaves no trace in the sums.

use super::batches::{batch, completed, deposit_held, failures};
use super::*;
use crate::effects::Effects;
use frame_support::traits::fungible::MutateHold;
use sp_runtime::TokenError;

/// The balances pallet's `Held` events, as (who, amount).
fn holds_made() -> Vec<(AccountId, Balance)> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Balances(pallet_balances::Event::Held { who, amount, .. }) => {
				Some((who, amount))
			},
			_ => None,
		})
		.collect()
}

#[test]
fn a_batch_of_offers_holds_once_and_refuses_the_deposit_its_creator_cannot_cover() {
	new_test_ext().execute_with(|| {
		register_all();
		System::reset_events();
		// Two deposits fit in what the JC may hold (all but the existential deposit); a
		// third does not.
		let deposit = (free(JC) - 1) / 2;
		let offer = || (job_terms(), deposit, START + HOUR);
		assert_ok!(Market::post_job_offers(
			RuntimeOrigin::signed(JC),
			batch(vec![offer(), offer(), offer()])
		));
		assert_eq!(failures(), vec![(2, TokenError::FundsUnavailable.into())]);
		assert_eq!(deposit_held(JC), 2 * deposit);
		assert_eq!(holds_made(), vec![(JC, 2 * deposit)]);
		assert_eq!(JobCreators::<Test>::get(JC).unwrap().open_items, 2);
		assert_eq!(JobOffers::<Test>::iter().count(), 2);
		// The single call refuses the third deposit the same way.
		assert_noop!(
			Market::post_job_offer(RuntimeOrigin::signed(JC), job_terms(), deposit, START + HOUR),
			TokenError::FundsUnavailable
		);
		assert_eq!(issuance(), initial_issuance());
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_batch_of_offers_stops_at_the_open_item_limit() {
	new_test_ext().execute_with(|| {
		MaxOpenItems::set(3);
		register_all();
		post_resource_offer_of(RP);
		System::reset_events();
		let offer = || (resource_terms(), RP_DEPOSIT, START + HOUR);
		assert_ok!(Market::post_resource_offers(
			RuntimeOrigin::signed(RP),
			batch(vec![offer(), offer(), offer()])
		));
		let full = || DispatchError::from(Error::<Test>::ProviderTooManyOpenItems);
		assert_eq!(failures(), vec![(2, full())]);
		assert_eq!(ResourceProviders::<Test>::get(RP).unwrap().open_items, 3);
		assert_eq!(deposit_held(RP), 3 * RP_DEPOSIT);
		// A later batch finds the limit where the first left it.
		assert_ok!(Market::post_resource_offers(RuntimeOrigin::signed(RP), batch(vec![offer()])));
		assert_eq!(failures().last(), Some(&(0, full())));
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_batch_of_closes_counts_every_ending_in_the_records() {
	new_test_ext().execute_with(|| {
		register_all();
		for _ in 0..2 {
			post_offers();
		}
		assert_ok!(Market::post_matches(
			RuntimeOrigin::signed(SOLVER),
			batch(vec![(0, 1, MEDIATOR), (2, 3, MEDIATOR)])
		));
		assert_eq!(Mediators::<Test>::get(MEDIATOR).unwrap().open_items, 2);
		assert_eq!(Directories::<Test>::get(DIRECTORY).unwrap().open_items, 2);
		let result = |id| (id, completed());
		assert_ok!(Market::post_results(
			RuntimeOrigin::signed(RP),
			batch(vec![result(0), result(1)])
		));
		// The third item names a match already closed by the first and is refused.
		assert_ok!(Market::accept_results(RuntimeOrigin::signed(JC), batch(vec![0, 1, 0])));
		assert_eq!(failures(), vec![(2, Error::<Test>::MatchNotFound.into())]);
		assert_eq!(Reputations::<Test>::get(JC, Role::JobCreator).accepted, 2);
		assert_eq!(Reputations::<Test>::get(RP, Role::ResourceProvider).accepted, 2);
		assert_eq!(JobCreators::<Test>::get(JC).unwrap().open_items, 0);
		assert_eq!(ResourceProviders::<Test>::get(RP).unwrap().open_items, 0);
		assert_eq!(Mediators::<Test>::get(MEDIATOR).unwrap().open_items, 0);
		assert_eq!(Directories::<Test>::get(DIRECTORY).unwrap().open_items, 0);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_batched_payment_its_recipient_cannot_receive_is_refused_as_alone() {
	new_test_ext().execute_with(|| {
		ExistentialDeposit::set(10);
		assert_ok!(Balances::hold(&HoldReason::OfferDeposit.into(), &JC, 100));
		let (fresh, other) = (900, 901);
		// Alone, the balances pallet refuses to open an account with less than 10.
		assert_noop!(
			crate::held_moves::transfer_now::<Test>(&JC, HoldReason::OfferDeposit, &other, 5),
			TokenError::CannotCreate
		);
		let mut effects = Effects::<Test>::batched();
		assert_eq!(
			effects.transfer(&JC, HoldReason::OfferDeposit, &fresh, 5),
			Err(TokenError::CannotCreate.into())
		);
		effects.end_item(false);
		// 10 opens it; then any amount may follow, in a later item or the same one.
		assert_ok!(effects.transfer(&JC, HoldReason::OfferDeposit, &fresh, 10));
		assert_ok!(effects.transfer(&JC, HoldReason::OfferDeposit, &fresh, 2));
		effects.end_item(true);
		assert_ok!(effects.transfer(&JC, HoldReason::OfferDeposit, &fresh, 5));
		effects.end_item(true);
		assert_ok!(effects.finish());
		assert_eq!((free(fresh), deposit_held(JC)), (17, 83));
		assert_eq!(issuance(), initial_issuance());
	});
}

#[test]
fn a_refused_items_deposit_does_not_count_against_the_next() {
	new_test_ext().execute_with(|| {
		let room = free(JC) - 1;
		let mut effects = Effects::<Test>::batched();
		assert_ok!(effects.hold(&JC, HoldReason::OfferDeposit, room));
		effects.end_item(false);
		assert_ok!(effects.hold(&JC, HoldReason::OfferDeposit, room));
		effects.end_item(true);
		assert_eq!(
			effects.hold(&JC, HoldReason::OfferDeposit, 1),
			Err(TokenError::FundsUnavailable.into())
		);
		effects.end_item(false);
		// What a batch held, a later item of it may pay out.
		assert_ok!(effects.transfer(&JC, HoldReason::OfferDeposit, &RP, room));
		effects.end_item(true);
		assert_ok!(effects.finish());
		assert_eq!((free(JC), deposit_held(JC)), (1, 0));
		assert_eq!(free(RP), ENDOWMENT + room);
		assert_eq!(issuance(), initial_issuance());
	});
}

#[test]
fn the_payment_that_opened_an_account_is_made_before_the_smaller_ones_it_let_in() {
	new_test_ext().execute_with(|| {
		ExistentialDeposit::set(10);
		// The small payment's payer sorts first, so summed in key order it would be made
		// before the one that opens the account, and be refused.
		let (small_payer, opener) = (JC.min(RP), JC.max(RP));
		for who in [small_payer, opener] {
			assert_ok!(Balances::hold(&HoldReason::OfferDeposit.into(), &who, 100));
		}
		let fresh = 900;
		let mut effects = Effects::<Test>::batched();
		// As in one match: the opener's incentive first, then a smaller one.
		assert_ok!(effects.transfer(&opener, HoldReason::OfferDeposit, &fresh, 10));
		assert_ok!(effects.transfer(&small_payer, HoldReason::OfferDeposit, &fresh, 2));
		effects.end_item(true);
		assert_ok!(effects.transfer(&small_payer, HoldReason::OfferDeposit, &fresh, 3));
		effects.end_item(true);
		assert_ok!(effects.finish());
		assert_eq!(free(fresh), 15);
		assert_eq!((deposit_held(opener), deposit_held(small_payer)), (90, 95));
		assert_eq!(issuance(), initial_issuance());
	});
}
