//! `reject_records`: a JC disputes named records of a record job. Every bad list is
//! refused with its own error and changes nothing; a good one is a `WrongResults`
//! mediation like `reject_result`'s, settled the same, with the records kept for the
//! mediator until the match closes.

use super::scenarios::mediate;
use super::*;

fn names(list: &[&str]) -> DisputedRecordNames {
	let list: Vec<RecordName> =
		list.iter().map(|name| RecordName::truncate_from(name.as_bytes().to_vec())).collect();
	DisputedRecordNames::truncate_from(list)
}

fn reject(who: AccountId, list: &[&str]) -> frame_support::dispatch::DispatchResult {
	Market::reject_records(RuntimeOrigin::signed(who), 0, names(list))
}

#[test]
fn the_named_records_go_to_the_mediator_and_leave_with_the_match() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_ok!(reject(JC, &["000041", "000042"]));
		let state = Matches::<Test>::get(0).map(|m| m.state);
		assert!(matches!(
			state,
			Some(MatchState::InMediation { reason: RejectReason::WrongResults, .. })
		));
		assert_eq!(DisputedRecords::<Test>::get(0), Some(names(&["000041", "000042"])));
		let events = events();
		assert!(events.iter().any(|e| matches!(
			e,
			Event::JobAssignedForMediation { match_id: 0, reason: RejectReason::WrongResults, .. }
		)));
		assert!(events.iter().any(|e| matches!(e,
			Event::RecordsDisputed { match_id: 0, records } if *records == names(&["000041", "000042"]))));
		assert_ok!(Market::do_try_state());
		// Disputed once: neither kind of rejection can follow.
		assert_noop!(reject(JC, &["000043"]), Error::<Test>::NotAwaitingReaction);
		assert_noop!(
			Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::TooMuchCost),
			Error::<Test>::NotAwaitingReaction
		);
		assert_ok!(mediate(Verdict::WrongResults, FaultyParty::ResourceProvider));
		assert_eq!(DisputedRecords::<Test>::get(0), None);
		assert_ok!(Market::do_try_state());
	});
}

/// Each party ends exactly as after a plain `WrongResults` rejection with the same
/// verdict: naming records changes what the mediator runs, not what anyone pays.
#[test]
fn a_records_dispute_settles_as_a_wrong_results_rejection() {
	for (verdict, faulty) in [
		(Verdict::WrongResults, FaultyParty::ResourceProvider),
		(Verdict::CorrectResults, FaultyParty::JobCreator),
		(Verdict::NonDeterministic, FaultyParty::JobCreator),
	] {
		let settle = |by_records: bool| {
			new_test_ext().execute_with(|| {
				result_posted();
				if by_records {
					assert_ok!(reject(JC, &["a"]));
				} else {
					assert_ok!(Market::reject_result(
						RuntimeOrigin::signed(JC),
						0,
						RejectReason::WrongResults
					));
				}
				assert_ok!(mediate(verdict, faulty));
				assert_ok!(Market::do_try_state());
				[JC, RP, MEDIATOR, DIRECTORY, SOLVER].map(|who| (free(who), held(who)))
			})
		};
		assert_eq!(settle(true), settle(false), "{verdict:?} against {faulty:?}");
	}
}

#[test]
fn a_failed_mediation_removes_the_records_and_pays_as_before() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_ok!(reject(JC, &["r1"]));
		advance(mediation_window() + 1);
		assert_ok!(Market::mediation_timeout(RuntimeOrigin::signed(STRANGER), 0));
		assert_eq!(DisputedRecords::<Test>::get(0), None);
		assert!(events().iter().any(|e| matches!(
			e,
			Event::MatchClosed { match_id: 0, outcome: CloseOutcome::MediationFailed }
		)));
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn a_bad_list_of_records_is_refused_and_changes_nothing() {
	new_test_ext().execute_with(|| {
		result_posted();
		let refusals: [(&[&str], Error<Test>); 9] = [
			(&[], Error::<Test>::NoRecordsNamed),
			(&[""], Error::<Test>::InvalidRecordName),
			(&["."], Error::<Test>::InvalidRecordName),
			(&[".."], Error::<Test>::InvalidRecordName),
			(&["../etc/passwd"], Error::<Test>::InvalidRecordName),
			(&["a b"], Error::<Test>::InvalidRecordName),
			(&["récord"], Error::<Test>::InvalidRecordName),
			(&["b", "a"], Error::<Test>::RecordsNotAscending),
			(&["a", "a"], Error::<Test>::RecordsNotAscending),
		];
		for (list, error) in refusals {
			assert_noop!(reject(JC, list), error);
		}
		// A name longer than 64 bytes cannot even be encoded as a call argument.
		let long = vec![b'a'; MAX_RECORD_NAME_LEN as usize + 1];
		assert!(RecordName::try_from(long).is_err());
		assert_eq!(DisputedRecords::<Test>::get(0), None);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn only_the_job_creator_disputes_records_and_only_within_the_reaction_window() {
	new_test_ext().execute_with(|| {
		matched();
		// Nothing posted yet.
		assert_noop!(reject(JC, &["a"]), Error::<Test>::NotAwaitingReaction);
	});
	new_test_ext().execute_with(|| {
		result_posted();
		for who in [RP, MEDIATOR, DIRECTORY, SOLVER, STRANGER] {
			assert_noop!(reject(who, &["a"]), Error::<Test>::NotJobCreator);
		}
		assert_noop!(
			Market::reject_records(RuntimeOrigin::signed(JC), 9, names(&["a"])),
			Error::<Test>::MatchNotFound
		);
		advance(reaction_window() + 1);
		assert_noop!(reject(JC, &["a"]), Error::<Test>::ReactionWindowClosed);
		assert_eq!(DisputedRecords::<Test>::get(0), None);
	});
}

#[test]
fn the_most_records_a_rejection_may_name_are_accepted() {
	new_test_ext().execute_with(|| {
		result_posted();
		let list: Vec<String> =
			(0..MAX_DISPUTED_RECORDS).map(|i| format!("{i:02}{}", "x".repeat(62))).collect();
		let refs: Vec<&str> = list.iter().map(String::as_str).collect();
		assert_ok!(reject(JC, &refs));
		assert_eq!(
			DisputedRecords::<Test>::get(0).map(|l| l.len() as u32),
			Some(MAX_DISPUTED_RECORDS)
		);
		assert_ok!(Market::do_try_state());
	});
}
