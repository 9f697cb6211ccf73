//! Reputation: each close path counts in the right party's record, and nothing else
//! does (README, "Reputation").

use super::{scenarios::mediate, *};
use frame_support::StoragePrefixedMap;

fn record(who: AccountId, role: Role) -> Reputation {
	Reputations::<Test>::get(who, role)
}

fn post_status(status: ResultStatus) {
	matched();
	assert_ok!(Market::post_result(
		RuntimeOrigin::signed(RP),
		0,
		status,
		reference("r"),
		[0x11; 32],
		800,
		300
	));
}

/// No record for anyone but the accounts named.
fn only_these_have_records(accounts: &[(AccountId, Role)]) {
	let mut all: Vec<(AccountId, Role)> =
		Reputations::<Test>::iter().map(|(who, role, _)| (who, role)).collect();
	all.sort_by_key(|(who, role)| (*who, *role as u8));
	let mut expected = accounts.to_vec();
	expected.sort_by_key(|(who, role)| (*who, *role as u8));
	assert_eq!(all, expected);
}

#[test]
fn an_accepted_result_counts_for_the_provider_and_the_job_creator() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_eq!(Market::reputation_of(&RP), vec![]);
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), 0));
		assert_eq!(
			record(RP, Role::ResourceProvider),
			Reputation { accepted: 1, ..Default::default() }
		);
		assert_eq!(record(JC, Role::JobCreator), Reputation { accepted: 1, ..Default::default() });
		only_these_have_records(&[(RP, Role::ResourceProvider), (JC, Role::JobCreator)]);
		assert_eq!(
			Market::reputation_of(&RP),
			vec![(Role::ResourceProvider, Reputation { accepted: 1, ..Default::default() })]
		);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_declined_job_counts_as_declined_and_not_as_work() {
	new_test_ext().execute_with(|| {
		post_status(ResultStatus::Declined);
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), 0));
		assert_eq!(
			record(RP, Role::ResourceProvider),
			Reputation { declined: 1, ..Default::default() }
		);
		only_these_have_records(&[(RP, Role::ResourceProvider)]);
	});
}

#[test]
fn a_timeout_counts_against_the_provider_only() {
	new_test_ext().execute_with(|| {
		matched();
		set_now(START + HOUR + 1);
		assert_ok!(Market::timeout(RuntimeOrigin::signed(JC), 0));
		assert_eq!(
			record(RP, Role::ResourceProvider),
			Reputation { timed_out: 1, ..Default::default() }
		);
		only_these_have_records(&[(RP, Role::ResourceProvider)]);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn an_upheld_rejection_fines_the_provider_and_credits_the_job_creator() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::WrongResults);
		assert_ok!(mediate(Verdict::WrongResults, FaultyParty::ResourceProvider));
		assert_eq!(
			record(RP, Role::ResourceProvider),
			Reputation { fined: 1, ..Default::default() }
		);
		assert_eq!(
			record(JC, Role::JobCreator),
			Reputation { rejections_upheld: 1, ..Default::default() }
		);
		assert_eq!(
			record(MEDIATOR, Role::Mediator),
			Reputation { mediations_ruled: 1, ..Default::default() }
		);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn an_unfounded_rejection_fines_the_job_creator_and_counts_the_result_as_accepted() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::WrongResults);
		assert_ok!(mediate(Verdict::CorrectResults, FaultyParty::JobCreator));
		assert_eq!(record(JC, Role::JobCreator), Reputation { fined: 1, ..Default::default() });
		assert_eq!(
			record(RP, Role::ResourceProvider),
			Reputation { accepted: 1, ..Default::default() }
		);
		assert_eq!(record(MEDIATOR, Role::Mediator).mediations_ruled, 1);
	});
}

#[test]
fn a_directory_at_fault_is_the_only_one_marked() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::DirectoryUnavailable);
		assert_ok!(mediate(Verdict::DirectoryUnavailable, FaultyParty::Directory));
		assert_eq!(
			record(DIRECTORY, Role::Directory),
			Reputation { fined: 1, ..Default::default() }
		);
		only_these_have_records(&[(DIRECTORY, Role::Directory), (MEDIATOR, Role::Mediator)]);
	});
}

#[test]
fn a_lapsed_mediation_counts_against_the_mediator_only() {
	new_test_ext().execute_with(|| {
		in_mediation(RejectReason::WrongResults);
		set_now(START + mediation_window() + 1);
		assert_ok!(Market::mediation_timeout(RuntimeOrigin::signed(STRANGER), 0));
		assert_eq!(
			record(MEDIATOR, Role::Mediator),
			Reputation { mediations_missed: 1, ..Default::default() }
		);
		only_these_have_records(&[(MEDIATOR, Role::Mediator)]);
	});
}

#[test]
fn a_refused_close_and_a_deregistration_leave_the_record_as_it_was() {
	new_test_ext().execute_with(|| {
		result_posted();
		// A stranger cannot accept early: no record changes with the refused call.
		assert_noop!(
			Market::accept_result(RuntimeOrigin::signed(STRANGER), 0),
			Error::<Test>::ReactionWindowOpen
		);
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), 0));
		// Leaving the role does not wipe what the chain saw.
		assert_ok!(Market::deregister(RuntimeOrigin::signed(RP), Role::ResourceProvider));
		assert_eq!(record(RP, Role::ResourceProvider).accepted, 1);
	});
}

/// Posts the standard offers, the job asking `provider` of its RP and the resource
/// offer asking `creator` of its JC (ids 0 and 1).
fn post_offers_requiring(provider: Option<RecordRequirement>, creator: Option<RecordRequirement>) {
	register_all();
	let job = JobOfferTerms { provider_record: provider, ..job_terms() };
	assert_ok!(Market::post_job_offer(RuntimeOrigin::signed(JC), job, JC_DEPOSIT, START + HOUR));
	let resource = ResourceOfferTerms { creator_record: creator, ..resource_terms() };
	assert_ok!(Market::post_resource_offer(
		RuntimeOrigin::signed(RP),
		resource,
		RP_DEPOSIT,
		START + HOUR
	));
}

fn try_match() -> frame_support::dispatch::DispatchResult {
	Market::post_match(RuntimeOrigin::signed(SOLVER), 0, 1, MEDIATOR)
}

const FIVE_AT_MOST_TEN_PERCENT: RecordRequirement =
	RecordRequirement { min_accepted: 5, max_fault_ppm: 100_000 };

#[test]
fn rule_13_refuses_a_newcomer_where_a_record_is_required() {
	new_test_ext().execute_with(|| {
		post_offers_requiring(Some(FIVE_AT_MOST_TEN_PERCENT), None);
		assert_noop!(try_match(), Error::<Test>::ProviderRecordTooShort);
	});
	new_test_ext().execute_with(|| {
		post_offers_requiring(None, Some(FIVE_AT_MOST_TEN_PERCENT));
		assert_noop!(try_match(), Error::<Test>::JobCreatorRecordTooShort);
	});
}

#[test]
fn rule_13_counts_fines_and_timeouts_against_the_provider() {
	new_test_ext().execute_with(|| {
		post_offers_requiring(Some(FIVE_AT_MOST_TEN_PERCENT), None);
		// 9 accepted, 1 timed out: exactly 10 % faults, allowed.
		let good = Reputation { accepted: 9, timed_out: 1, ..Default::default() };
		Reputations::<Test>::insert(RP, Role::ResourceProvider, good);
		// One more fine: 2 faults of 11 endings, 18 %.
		let worse = Reputation { fined: 1, ..good };
		Reputations::<Test>::insert(RP, Role::ResourceProvider, worse);
		assert_noop!(try_match(), Error::<Test>::ProviderFaultRateTooHigh);
		// A record as a JC does not count for the RP role.
		Reputations::<Test>::insert(
			RP,
			Role::JobCreator,
			Reputation { accepted: 100, ..Default::default() },
		);
		assert_noop!(try_match(), Error::<Test>::ProviderFaultRateTooHigh);
		Reputations::<Test>::insert(RP, Role::ResourceProvider, good);
		assert_ok!(try_match());
		// The requirement is part of the match's snapshot of the job's terms.
		let record = Matches::<Test>::get(0).unwrap();
		assert_eq!(record.job.provider_record, Some(FIVE_AT_MOST_TEN_PERCENT));
	});
}

#[test]
fn rule_13_counts_fines_against_the_job_creator() {
	new_test_ext().execute_with(|| {
		post_offers_requiring(None, Some(RecordRequirement { min_accepted: 0, max_fault_ppm: 0 }));
		// Any fine is too many for this RP; upheld rejections are not faults.
		let fined =
			Reputation { accepted: 50, rejections_upheld: 3, fined: 1, ..Default::default() };
		Reputations::<Test>::insert(JC, Role::JobCreator, fined);
		assert_noop!(try_match(), Error::<Test>::JobCreatorFaultRateTooHigh);
		Reputations::<Test>::insert(JC, Role::JobCreator, Reputation { fined: 0, ..fined });
		assert_ok!(try_match());
	});
}

#[test]
fn an_empty_record_has_no_faults_and_extreme_counts_do_not_overflow() {
	let empty = Reputation::default();
	let any = RecordRequirement { min_accepted: 0, max_fault_ppm: 0 };
	assert!(empty.has_accepted(&any));
	assert!(empty.faults_within(Role::ResourceProvider, &any));
	let full = Reputation {
		accepted: u32::MAX,
		declined: u32::MAX,
		rejections_upheld: u32::MAX,
		fined: u32::MAX,
		timed_out: u32::MAX,
		mediations_ruled: u32::MAX,
		mediations_missed: u32::MAX,
	};
	let all_faults = RecordRequirement { min_accepted: u32::MAX, max_fault_ppm: PPM };
	assert!(full.has_accepted(&all_faults));
	assert!(full.faults_within(Role::ResourceProvider, &all_faults));
	assert!(!full.faults_within(
		Role::ResourceProvider,
		&RecordRequirement { max_fault_ppm: 499_999, ..all_faults }
	));
	assert!(full.faults_within(
		Role::ResourceProvider,
		&RecordRequirement { max_fault_ppm: 500_000, ..all_faults }
	));
}

/// Every key under the pallet's prefix with its value's length.
fn pallet_state() -> std::collections::BTreeMap<Vec<u8>, usize> {
	let pallet = <Reputations<Test> as StoragePrefixedMap<Reputation>>::pallet_prefix();
	let prefix = sp_io::hashing::twox_128(pallet).to_vec();
	let mut state = std::collections::BTreeMap::new();
	let mut key = prefix.clone();
	while let Some(next) = sp_io::storage::next_key(&key) {
		if !next.starts_with(&prefix) {
			break;
		}
		let len = sp_io::storage::get(&next).map_or(0, |v| v.len());
		state.insert(next.clone(), len);
		key = next;
	}
	state
}

#[test]
fn a_settled_job_leaves_only_reputation_entries_behind() {
	new_test_ext().execute_with(|| {
		register_all();
		let before = pallet_state();
		let reputations = Reputations::<Test>::final_prefix().to_vec();
		for settle in 0..3u64 {
			post_offers();
			let id = NextMatchId::<Test>::get();
			assert_ok!(Market::post_match(
				RuntimeOrigin::signed(SOLVER),
				2 * settle,
				2 * settle + 1,
				MEDIATOR
			));
			assert_ok!(Market::post_result(
				RuntimeOrigin::signed(RP),
				id,
				ResultStatus::Completed,
				reference("r"),
				[0x11; 32],
				800,
				300
			));
			assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), id));
			let after = pallet_state();
			// New keys: the id counters, written at the first offer and match, and the two
			// records made at the first close; nothing else.
			let counters = [NextOfferId::<Test>::hashed_key(), NextMatchId::<Test>::hashed_key()];
			let added: Vec<&Vec<u8>> = after
				.keys()
				.filter(|k| !before.contains_key(*k) && !counters.iter().any(|c| c[..] == k[..]))
				.collect();
			assert_eq!(added.len(), 2, "after job {settle}");
			assert!(added.iter().all(|k| k.starts_with(&reputations)));
			// Keys that were there keep their size (counters, registrations).
			for (key, len) in &before {
				assert_eq!(after.get(key), Some(len), "a key changed size after job {settle}");
			}
		}
	});
}
