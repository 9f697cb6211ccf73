//! Replicated jobs: k replicas on k distinct RPs, compared by the chain; attacks on
//! the grouping (same RP twice, excluded RPs, another mediator, a JC posing as the
//! chain) and every way a group settles, with each party's balance against the same
//! close of a single match.

use super::*;
use frame_support::dispatch::DispatchResult;

/// A second Resource Provider (account 7), set up like [`RP`].
const RP2: AccountId = 7;

fn register_provider(who: AccountId) {
	assert_ok!(Market::register_resource_provider(
		RuntimeOrigin::signed(who),
		Architecture::Amd64,
		1_000_000
	));
	assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(who), MEDIATOR));
	assert_ok!(Market::trust_directory(RuntimeOrigin::signed(who), DIRECTORY));
	assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(who), LAYER));
}

/// Everyone registered, RP2 too, and a 2-replica job posted: job offers 0 and 1.
fn replicated(replicas: u32, excluded: Vec<AccountId>) {
	register_all();
	register_provider(RP2);
	assert_ok!(Market::post_replicated_job_offer(
		RuntimeOrigin::signed(JC),
		job_terms(),
		replicas,
		excluded.try_into().unwrap(),
		JC_DEPOSIT,
		START + HOUR
	));
}

/// `who` posts a resource offer and the solver matches it with replica `job_offer`;
/// returns the match id.
fn match_replica(job_offer: OfferId, who: AccountId) -> MatchId {
	let resource_offer = NextOfferId::<Test>::get();
	post_resource_offer_of(who);
	let match_id = NextMatchId::<Test>::get();
	assert_ok!(Market::post_match(
		RuntimeOrigin::signed(SOLVER),
		job_offer,
		resource_offer,
		MEDIATOR
	));
	match_id
}

fn commitment(match_id: MatchId, hash: u8) -> ContentHash {
	Market::result_commitment(match_id, ResultStatus::Completed, &[hash; 32])
}

fn commit(who: AccountId, match_id: MatchId, hash: u8) {
	assert_ok!(Market::commit_result(
		RuntimeOrigin::signed(who),
		match_id,
		commitment(match_id, hash)
	));
}

/// Every replica commits, then every replica reveals.
fn commit_and_reveal(replicas: &[(AccountId, MatchId, u8)]) {
	for (who, id, hash) in replicas {
		commit(*who, *id, *hash);
	}
	for (who, id, hash) in replicas {
		assert_ok!(reveal(*who, *id, *hash));
	}
}

/// The reveal: `reveal_result` with the committed status and root.
fn reveal(who: AccountId, match_id: MatchId, hash: u8) -> DispatchResult {
	Market::reveal_result(
		RuntimeOrigin::signed(who),
		match_id,
		ResultStatus::Completed,
		reference("127.0.0.1:5000/results/r@sha256:11"),
		[hash; 32],
		800,
		300,
	)
}

fn outcome(match_id: MatchId) -> Option<CloseOutcome> {
	events().into_iter().find_map(|e| match e {
		Event::MatchClosed { match_id: id, outcome } if id == match_id => Some(outcome),
		_ => None,
	})
}

fn delta(who: AccountId) -> i128 {
	free(who) as i128 - start_free(who) as i128
}

/// Free-balance changes of JC, RP, mediator, directory and solver after `close` runs
/// on a fresh market with one ordinary match (0) whose result is posted.
fn single_match_deltas(close: impl FnOnce()) -> [i128; 5] {
	new_test_ext().execute_with(|| {
		result_posted();
		close();
		[JC, RP, MEDIATOR, DIRECTORY, SOLVER].map(delta)
	})
}

fn assert_no_replica_state() {
	assert_eq!(ReplicaGroups::<Test>::iter().count(), 0);
	assert_eq!(OfferReplicaGroup::<Test>::iter().count(), 0);
	assert_eq!(MatchReplicaGroup::<Test>::iter().count(), 0);
	assert_ok!(Market::do_try_state());
}

#[test]
fn agreeing_replicas_are_paid_without_any_call_from_the_jc() {
	let accepted = single_match_deltas(|| {
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), 0));
	});
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (a, b) = (match_replica(0, RP), match_replica(1, RP2));
		commit(RP, a, 0x11);
		// No reveal while the other replica may still commit: it could copy the root.
		assert_noop!(reveal(RP, a, 0x11), Error::<Test>::ReplicasStillCommitting);
		commit(RP2, b, 0x11);
		assert_ok!(reveal(RP, a, 0x11));
		// One result alone is held: no reaction window, no acceptance yet.
		assert!(matches!(
			Matches::<Test>::get(a).unwrap().state,
			MatchState::AwaitingReplicas { .. }
		));
		assert_noop!(
			Market::accept_result(RuntimeOrigin::signed(JC), a),
			Error::<Test>::NotAwaitingReaction
		);
		assert_noop!(
			Market::settle_replicas(RuntimeOrigin::signed(STRANGER), 0),
			Error::<Test>::ReplicasStillRunning
		);
		assert_ok!(reveal(RP2, b, 0x11));
		for id in [a, b] {
			assert_eq!(outcome(id), Some(CloseOutcome::Accepted(Acceptor::ReplicasAgreed)));
		}
		// Each replica ends exactly as a match the JC accepted: the JC pays k prices.
		assert_eq!(delta(RP), accepted[1]);
		assert_eq!(delta(RP2), accepted[1]);
		assert_eq!(delta(JC), 2 * accepted[0]);
		assert_eq!(delta(MEDIATOR), 2 * accepted[2]);
		assert_eq!(delta(SOLVER), 2 * accepted[4]);
		assert_no_replica_state();
	});
}

#[test]
fn replicas_need_distinct_rps_outside_the_excluded_ones_and_one_mediator() {
	new_test_ext().execute_with(|| {
		replicated(3, vec![STRANGER]);
		register_provider(STRANGER);
		match_replica(0, RP);
		// The same RP, through another offer of its own.
		post_resource_offer_of(RP);
		let second = NextOfferId::<Test>::get() - 1;
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 1, second, MEDIATOR),
			Error::<Test>::ReplicaProviderRepeated
		);
		post_resource_offer_of(STRANGER);
		let excluded = NextOfferId::<Test>::get() - 1;
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(SOLVER), 1, excluded, MEDIATOR),
			Error::<Test>::ReplicaProviderExcluded
		);
		// A second mediator both sides trust is still refused: one verdict rules all.
		assert_ok!(Market::register_mediator(
			RuntimeOrigin::signed(SOLVER),
			Architecture::Amd64,
			MEDIATOR_TIME_PER_INSTRUCTION,
			1,
			1,
			MEDIATOR_AVAILABILITY
		));
		for who in [JC, RP2] {
			assert_ok!(Market::trust_mediator(RuntimeOrigin::signed(who), SOLVER));
		}
		assert_ok!(Market::trust_directory(RuntimeOrigin::signed(SOLVER), DIRECTORY));
		assert_ok!(Market::add_base_layer(RuntimeOrigin::signed(SOLVER), LAYER));
		post_resource_offer_of(RP2);
		let other = NextOfferId::<Test>::get() - 1;
		assert_noop!(
			Market::post_match(RuntimeOrigin::signed(STRANGER), 1, other, SOLVER),
			Error::<Test>::ReplicaMediatorMismatch
		);
		assert_ok!(Market::post_match(RuntimeOrigin::signed(STRANGER), 1, other, MEDIATOR));
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn replica_counts_out_of_range_are_refused_and_hold_nothing() {
	new_test_ext().execute_with(|| {
		register_all();
		for (replicas, error) in [
			(0, Error::<Test>::TooFewReplicas),
			(1, Error::<Test>::TooFewReplicas),
			(MAX_REPLICAS + 1, Error::<Test>::TooManyReplicas),
			(u32::MAX, Error::<Test>::TooManyReplicas),
		] {
			assert_noop!(
				Market::post_replicated_job_offer(
					RuntimeOrigin::signed(JC),
					job_terms(),
					replicas,
					Default::default(),
					JC_DEPOSIT,
					START + HOUR
				),
				error
			);
		}
		// A deposit below the minimum fails as for one offer, and holds nothing.
		let single = Market::post_job_offer(
			RuntimeOrigin::signed(JC),
			job_terms(),
			JC_DEPOSIT / 100,
			START + HOUR,
		)
		.unwrap_err();
		assert_noop!(
			Market::post_replicated_job_offer(
				RuntimeOrigin::signed(JC),
				job_terms(),
				2,
				Default::default(),
				JC_DEPOSIT / 100,
				START + HOUR
			),
			single
		);
		assert_eq!(held(JC), BOND);
	});
}

#[test]
fn disagreeing_replicas_go_to_the_mediator_which_fines_the_forger_and_pays_the_honest_rp() {
	let accepted = single_match_deltas(|| {
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), 0));
	});
	let forged = single_match_deltas(|| {
		assert_ok!(Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::WrongResults));
		assert_ok!(Market::post_mediation_result(
			RuntimeOrigin::signed(MEDIATOR),
			0,
			Verdict::WrongResults,
			FaultyParty::ResourceProvider,
			800,
			300,
			[0x11; 32]
		));
	});
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (honest, forger) = (match_replica(0, RP), match_replica(1, RP2));
		commit_and_reveal(&[(RP, honest, 0x11), (RP2, forger, 0x99)]);
		for id in [honest, forger] {
			assert!(matches!(
				Matches::<Test>::get(id).unwrap().state,
				MatchState::InMediation { reason: RejectReason::ReplicasDisagree, .. }
			));
		}
		assert!(events().iter().any(|e| matches!(
			e,
			Event::ReplicasDisagreed { group: 0, mediator: MEDIATOR, job_creator: JC, .. }
		)));
		// Only the group's mediator rules, and only for the whole group.
		assert_noop!(
			Market::post_mediation_result(
				RuntimeOrigin::signed(MEDIATOR),
				forger,
				Verdict::WrongResults,
				FaultyParty::ResourceProvider,
				800,
				300,
				[0x11; 32]
			),
			Error::<Test>::ReplicaDisputeNeedsGroupVerdict
		);
		let verdict = ReplicaVerdict::Deterministic {
			status: ResultStatus::Completed,
			result_hash: [0x11; 32],
		};
		assert_noop!(
			Market::post_replica_verdict(RuntimeOrigin::signed(RP), 0, verdict.clone(), 800, 300),
			Error::<Test>::NotMediator
		);
		assert_noop!(
			Market::post_replica_verdict(
				RuntimeOrigin::signed(MEDIATOR),
				0,
				verdict.clone(),
				1_001,
				300
			),
			Error::<Test>::InstructionCountOverLimit
		);
		assert_ok!(Market::post_replica_verdict(
			RuntimeOrigin::signed(MEDIATOR),
			0,
			verdict,
			800,
			300
		));
		assert_eq!(outcome(honest), Some(CloseOutcome::Accepted(Acceptor::MediatorConfirmed)));
		assert_eq!(
			outcome(forger),
			Some(CloseOutcome::Mediated {
				verdict: Verdict::WrongResults,
				faulty: FaultyParty::ResourceProvider
			})
		);
		// The honest RP ends as if the JC had accepted; the forger as if the JC had
		// rejected it and the mediator ruled; the mediator is paid once for its runs.
		assert_eq!(delta(RP), accepted[1]);
		assert_eq!(delta(RP2), forged[1]);
		assert!(forged[1] < -(RP_DEPOSIT as i128) / 2, "the forger loses its deposit");
		assert_eq!(delta(JC), accepted[0] + forged[0]);
		assert_eq!(delta(MEDIATOR), accepted[2] + forged[2]);
		assert_no_replica_state();
	});
}

#[test]
fn three_replicas_two_agreeing_the_mediator_confirms_both_and_fines_the_third() {
	new_test_ext().execute_with(|| {
		replicated(3, vec![]);
		register_provider(STRANGER);
		let ids = [match_replica(0, RP), match_replica(1, RP2), match_replica(2, STRANGER)];
		commit_and_reveal(&[(RP, ids[0], 0x11), (RP2, ids[1], 0x11), (STRANGER, ids[2], 0x66)]);
		assert_ok!(Market::post_replica_verdict(
			RuntimeOrigin::signed(MEDIATOR),
			0,
			ReplicaVerdict::Deterministic {
				status: ResultStatus::Completed,
				result_hash: [0x11; 32]
			},
			800,
			300
		));
		for id in &ids[..2] {
			assert_eq!(outcome(*id), Some(CloseOutcome::Accepted(Acceptor::MediatorConfirmed)));
		}
		assert!(matches!(
			outcome(ids[2]),
			Some(CloseOutcome::Mediated { faulty: FaultyParty::ResourceProvider, .. })
		));
		assert!(events().iter().any(|e| matches!(e, Event::Fined { who: STRANGER, .. })));
		assert_no_replica_state();
	});
}

#[test]
fn a_non_deterministic_job_puts_the_jc_at_fault_in_every_replica() {
	let non_deterministic = single_match_deltas(|| {
		assert_ok!(Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::WrongResults));
		assert_ok!(Market::post_mediation_result(
			RuntimeOrigin::signed(MEDIATOR),
			0,
			Verdict::NonDeterministic,
			FaultyParty::JobCreator,
			800,
			300,
			[0x33; 32]
		));
	});
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (a, b) = (match_replica(0, RP), match_replica(1, RP2));
		commit_and_reveal(&[(RP, a, 0x11), (RP2, b, 0x22)]);
		assert_ok!(Market::post_replica_verdict(
			RuntimeOrigin::signed(MEDIATOR),
			0,
			ReplicaVerdict::NonDeterministic,
			800,
			300
		));
		assert_eq!(delta(RP), non_deterministic[1]);
		assert_eq!(delta(RP2), non_deterministic[1]);
		assert_eq!(delta(JC), 2 * non_deterministic[0]);
		assert_no_replica_state();
	});
}

#[test]
fn a_silent_replica_is_timed_out_and_the_other_settles_as_a_single_match() {
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (posted, silent) = (match_replica(0, RP), match_replica(1, RP2));
		commit(RP, posted, 0x11);
		set_now(START + HOUR + 1);
		assert_ok!(Market::timeout(RuntimeOrigin::signed(JC), silent));
		assert_eq!(outcome(silent), Some(CloseOutcome::TimedOut));
		// Past the deadline nobody else can commit: the reveal settles it alone.
		assert_ok!(reveal(RP, posted, 0x11));
		// The posted replica now waits for the JC like any result.
		assert!(matches!(
			Matches::<Test>::get(posted).unwrap().state,
			MatchState::ResultPosted { .. }
		));
		assert!(events()
			.iter()
			.any(|e| matches!(e, Event::ResultPosted { match_id, .. } if *match_id == posted)));
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), posted));
		assert_no_replica_state();
	});
}

#[test]
fn a_replica_nobody_matched_stops_blocking_once_its_offer_expires() {
	new_test_ext().execute_with(|| {
		register_all();
		register_provider(RP2);
		assert_ok!(Market::post_replicated_job_offer(
			RuntimeOrigin::signed(JC),
			job_terms(),
			2,
			Default::default(),
			JC_DEPOSIT,
			START + HOUR / 2
		));
		let posted = match_replica(0, RP);
		commit(RP, posted, 0x11);
		assert_noop!(reveal(RP, posted, 0x11), Error::<Test>::ReplicasStillCommitting);
		assert_noop!(
			Market::settle_replicas(RuntimeOrigin::signed(RP), 0),
			Error::<Test>::ReplicasStillRunning
		);
		set_now(START + HOUR / 2 + 1);
		// The unmatched offer can no longer be matched: the reveal settles it alone, and
		// the offer is an ordinary expired offer after it.
		assert_ok!(reveal(RP, posted, 0x11));
		assert!(matches!(
			Matches::<Test>::get(posted).unwrap().state,
			MatchState::ResultPosted { .. }
		));
		assert_ok!(Market::clear_expired_offer(RuntimeOrigin::signed(STRANGER), OfferRef::Job(1)));
		assert_noop!(
			Market::settle_replicas(RuntimeOrigin::signed(STRANGER), 0),
			Error::<Test>::ReplicaGroupNotFound
		);
		assert_no_replica_state();
	});
}

#[test]
fn cancelled_replica_offers_leave_no_group_behind() {
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		assert_eq!(held(JC), BOND + 2 * JC_DEPOSIT);
		for id in [0, 1] {
			assert_ok!(Market::cancel_offer(RuntimeOrigin::signed(JC), OfferRef::Job(id)));
		}
		assert_eq!(held(JC), BOND);
		assert_no_replica_state();
	});
}

#[test]
fn a_silent_mediator_leaves_each_replica_to_the_mediation_timeout() {
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (a, b) = (match_replica(0, RP), match_replica(1, RP2));
		commit_and_reveal(&[(RP, a, 0x11), (RP2, b, 0x22)]);
		advance(mediation_window() + 1);
		assert_noop!(
			Market::post_replica_verdict(
				RuntimeOrigin::signed(MEDIATOR),
				0,
				ReplicaVerdict::NonDeterministic,
				800,
				300
			),
			Error::<Test>::MediationDeadlinePassed
		);
		for id in [a, b] {
			assert_ok!(Market::mediation_timeout(RuntimeOrigin::signed(STRANGER), id));
			assert_eq!(outcome(id), Some(CloseOutcome::MediationFailed));
		}
		assert_no_replica_state();
	});
}

#[test]
fn the_jc_cannot_raise_a_replica_dispute_itself() {
	new_test_ext().execute_with(|| {
		result_posted();
		assert_noop!(
			Market::reject_result(RuntimeOrigin::signed(JC), 0, RejectReason::ReplicasDisagree),
			Error::<Test>::ReasonReservedForReplicas
		);
		assert_noop!(
			Market::settle_replicas(RuntimeOrigin::signed(JC), 0),
			Error::<Test>::ReplicaGroupNotFound
		);
	});
}

#[test]
fn a_replica_cannot_copy_another_replicas_root_or_commitment() {
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (honest, copier) = (match_replica(0, RP), match_replica(1, RP2));
		commit(RP, honest, 0x11);
		// Revealing without a commitment is refused.
		assert_noop!(reveal(RP2, copier, 0x11), Error::<Test>::ResultNotCommitted);
		// The copier commits the honest replica's commitment, read from the chain.
		let MatchState::Committed { commitment: seen } =
			Matches::<Test>::get(honest).unwrap().state
		else {
			panic!("the honest replica committed")
		};
		assert_ok!(Market::commit_result(RuntimeOrigin::signed(RP2), copier, seen));
		assert_ok!(reveal(RP, honest, 0x11));
		// Once the honest root is public, the copier cannot reveal it: its commitment
		// names the other match.
		assert_noop!(reveal(RP2, copier, 0x11), Error::<Test>::CommitmentMismatch);
		assert_noop!(
			Market::timeout(RuntimeOrigin::signed(JC), copier),
			Error::<Test>::CompletionDeadlineNotReached
		);
		// Silent past its reveal deadline, it is timed out and pays the JC; the honest
		// replica then waits for the JC like any result.
		let reveal_by = START + HOUR + reaction_window();
		set_now(reveal_by + 1);
		assert_noop!(reveal(RP2, copier, 0x11), Error::<Test>::RevealDeadlinePassed);
		assert_ok!(Market::timeout(RuntimeOrigin::signed(JC), copier));
		assert_eq!(outcome(copier), Some(CloseOutcome::TimedOut));
		// The timeout closes only the copier; anyone then compares what is left.
		assert!(matches!(
			Matches::<Test>::get(honest).unwrap().state,
			MatchState::AwaitingReplicas { .. }
		));
		assert_ok!(Market::settle_replicas(RuntimeOrigin::signed(STRANGER), 0));
		assert!(matches!(
			Matches::<Test>::get(honest).unwrap().state,
			MatchState::ResultPosted { .. }
		));
		assert_ok!(Market::accept_result(RuntimeOrigin::signed(JC), honest));
		assert_no_replica_state();
	});
}

#[test]
fn only_a_replica_commits_and_a_reveal_must_match_its_commitment() {
	new_test_ext().execute_with(|| {
		matched();
		assert_noop!(
			Market::commit_result(RuntimeOrigin::signed(RP), 0, [1; 32]),
			Error::<Test>::NotReplica
		);
	});
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (a, b) = (match_replica(0, RP), match_replica(1, RP2));
		assert_noop!(
			Market::commit_result(RuntimeOrigin::signed(RP2), a, [1; 32]),
			Error::<Test>::NotResourceProvider
		);
		commit(RP, a, 0x11);
		assert_noop!(
			Market::commit_result(RuntimeOrigin::signed(RP), a, [1; 32]),
			Error::<Test>::NotAwaitingResult
		);
		commit(RP2, b, 0x22);
		// A different root than committed.
		assert_noop!(reveal(RP, a, 0x12), Error::<Test>::CommitmentMismatch);
		set_now(START + HOUR + 1);
		assert_noop!(
			Market::commit_result(RuntimeOrigin::signed(RP), a, [1; 32]),
			Error::<Test>::NotAwaitingResult
		);
		assert_ok!(Market::do_try_state());
	});
}

#[test]
fn the_commitment_is_blake2_of_the_scale_bytes_the_daemons_hash() {
	// Match id 7 (8 bytes, little endian), ExceptionOccurred (variant 8), root 0x01….
	let mut bytes = vec![7, 0, 0, 0, 0, 0, 0, 0, 8];
	bytes.extend_from_slice(&[1; 32]);
	assert_eq!(
		Market::result_commitment(7, ResultStatus::ExceptionOccurred, &[1; 32]),
		sp_io::hashing::blake2_256(&bytes)
	);
}

#[test]
fn a_replica_that_commits_and_never_reveals_is_left_out_and_timed_out() {
	new_test_ext().execute_with(|| {
		replicated(3, vec![]);
		register_provider(STRANGER);
		let ids = [match_replica(0, RP), match_replica(1, RP2), match_replica(2, STRANGER)];
		for (who, id) in [(RP, ids[0]), (RP2, ids[1]), (STRANGER, ids[2])] {
			commit(who, id, 0x11);
		}
		assert_ok!(reveal(RP, ids[0], 0x11));
		assert_ok!(reveal(RP2, ids[1], 0x11));
		// The third keeps its result to itself: the others wait for its reveal deadline.
		assert_noop!(
			Market::settle_replicas(RuntimeOrigin::signed(RP), 0),
			Error::<Test>::ReplicasStillRunning
		);
		set_now(START + HOUR + reaction_window() + 1);
		assert_ok!(Market::settle_replicas(RuntimeOrigin::signed(RP), 0));
		for id in &ids[..2] {
			assert_eq!(outcome(*id), Some(CloseOutcome::Accepted(Acceptor::ReplicasAgreed)));
		}
		assert_ok!(Market::do_try_state());
		// Its commitment bought it nothing: it pays the JC as a silent RP does.
		assert_ok!(Market::timeout(RuntimeOrigin::signed(JC), ids[2]));
		assert_eq!(outcome(ids[2]), Some(CloseOutcome::TimedOut));
		assert_no_replica_state();
	});
}

#[test]
fn a_replica_reveals_and_a_plain_match_posts_each_by_its_own_call() {
	new_test_ext().execute_with(|| {
		matched();
		// The commitment a replica would have made does not matter: no group, no reveal.
		assert_noop!(reveal(RP, 0, 0x11), Error::<Test>::NotReplica);
	});
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let (a, b) = (match_replica(0, RP), match_replica(1, RP2));
		commit(RP, a, 0x11);
		commit(RP2, b, 0x11);
		// Posting in the clear would skip the commitment: refused, nothing changes.
		let posted = Market::post_result(
			RuntimeOrigin::signed(RP),
			a,
			ResultStatus::Completed,
			reference("127.0.0.1:5000/results/r@sha256:11"),
			[0x11; 32],
			800,
			300,
		);
		assert_noop!(posted, Error::<Test>::ReplicaResultMustBeRevealed);
		assert!(matches!(Matches::<Test>::get(a).unwrap().state, MatchState::Committed { .. }));
		assert_ok!(reveal(RP, a, 0x11));
		assert_ok!(reveal(RP2, b, 0x11));
		assert_no_replica_state();
	});
}

#[test]
fn a_plain_result_and_timeout_do_not_declare_a_replica_groups_weight() {
	use crate::weights::WeightInfo;
	use frame_support::dispatch::GetDispatchInfo;
	let result = |call: Call<Test>| call.get_dispatch_info().call_weight;
	let post = result(Call::post_result {
		match_id: 0,
		status: ResultStatus::Completed,
		reference: reference("r"),
		hash: [0; 32],
		instruction_count: 0,
		bandwidth_used: 0,
	});
	let reveal = result(Call::reveal_result {
		match_id: 0,
		status: ResultStatus::Completed,
		reference: reference("r"),
		hash: [0; 32],
		instruction_count: 0,
		bandwidth_used: 0,
	});
	let timeout = result(Call::timeout { match_id: 0 });
	let settle = result(Call::settle_replicas { group: 0 });
	type W = <Test as Config>::WeightInfo;
	assert_eq!(post, W::post_result());
	assert_eq!(timeout, W::timeout());
	// What a group's settling costs is declared by the calls that may settle it.
	assert!(reveal.ref_time() > post.ref_time() * 2);
	assert!(settle.ref_time() > timeout.ref_time() * 2);
}

#[test]
fn a_replica_is_not_disputed_by_records() {
	new_test_ext().execute_with(|| {
		replicated(2, vec![]);
		let first = match_replica(0, RP);
		let records =
			DisputedRecordNames::truncate_from(vec![RecordName::truncate_from(b"a".to_vec())]);
		assert_noop!(
			Market::reject_records(RuntimeOrigin::signed(JC), first, records),
			Error::<Test>::RecordsDisputeOnReplica
		);
	});
}
