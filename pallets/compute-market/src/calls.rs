//! The pallet's calls, imported into the pallet module as a section so that `lib.rs`
//! keeps to the declarations of state, events and errors. Each call checks its origin
//! and hands over to its implementation in the module named for its part of the market.

use frame_support::pallet_macros::pallet_section;

#[pallet_section]
mod calls {
	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers the caller as a Resource Provider with its machines' architecture
		/// and wall-clock nanoseconds per instruction, holding the registration bond.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_resource_provider())]
		pub fn register_resource_provider(
			origin: OriginFor<T>,
			arch: Architecture,
			time_per_instruction_ns: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register_resource_provider(who, arch, time_per_instruction_ns)
		}

		/// Registers the caller as a Job Creator, holding the registration bond.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::register_job_creator())]
		pub fn register_job_creator(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register_job_creator(who)
		}

		/// Registers the caller as a Mediator with its architecture, its wall-clock
		/// nanoseconds per instruction (its mediation windows follow from it), its prices
		/// for re-running a job and its availability price, holding the registration bond.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::register_mediator())]
		pub fn register_mediator(
			origin: OriginFor<T>,
			arch: Architecture,
			time_per_instruction_ns: u64,
			instruction_price: BalanceOf<T>,
			bandwidth_price: BalanceOf<T>,
			availability_price: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let terms = MediatorTerms { instruction_price, bandwidth_price, availability_price };
			Self::do_register_mediator(who, arch, time_per_instruction_ns, terms)
		}

		/// Registers the caller as a Directory reachable at `endpoint`, with its
		/// availability price, holding the registration bond.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::register_directory())]
		pub fn register_directory(
			origin: OriginFor<T>,
			endpoint: Reference,
			availability_price: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register_directory(who, endpoint, availability_price)
		}

		/// Leaves a role and releases its bond. Refused while the role has open offers
		/// or unsettled matches.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::deregister())]
		pub fn deregister(origin: OriginFor<T>, role: Role) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_deregister(who, role)
		}

		/// Adds a mediator's current registration to the caller's trusted list (caller
		/// must be an RP, a JC, or a directory: a directory's bond answers only to
		/// mediators it trusts). Trusting a listed mediator again renews the trust for
		/// its current registration.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::trust_mediator())]
		pub fn trust_mediator(origin: OriginFor<T>, mediator: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_trust_mediator(who, mediator)
		}

		/// Removes a mediator from the caller's trusted list. Matches already made stay.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::distrust_mediator())]
		pub fn distrust_mediator(origin: OriginFor<T>, mediator: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_distrust_mediator(who, mediator)
		}

		/// Adds a directory to the caller's trusted list (caller must be an RP or a
		/// mediator).
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::trust_directory())]
		pub fn trust_directory(origin: OriginFor<T>, directory: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_trust_directory(who, directory)
		}

		/// Removes a directory from the caller's trusted list.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::distrust_directory())]
		pub fn distrust_directory(origin: OriginFor<T>, directory: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_distrust_directory(who, directory)
		}

		/// Declares a base layer the caller has installed (caller must be an RP or a
		/// mediator).
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::add_base_layer())]
		pub fn add_base_layer(origin: OriginFor<T>, layer: ContentHash) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_add_base_layer(who, layer)
		}

		/// Withdraws a declared base layer.
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::remove_base_layer())]
		pub fn remove_base_layer(origin: OriginFor<T>, layer: ContentHash) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_remove_base_layer(who, layer)
		}

		/// Posts a resource offer, holding `deposit`, which must reach eq. 2's minimum
		/// for the RP's own estimate (caps × prices). Open until `expires_at` (ms).
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::post_resource_offer())]
		pub fn post_resource_offer(
			origin: OriginFor<T>,
			terms: ResourceOfferTerms<BalanceOf<T>>,
			deposit: BalanceOf<T>,
			expires_at: Moment,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_post_resource_offer(who, terms, deposit, expires_at, &mut Effects::Now)
		}

		/// Posts a job offer, holding `deposit`, which must reach eq. 2's minimum for
		/// the JC's estimate (limits × maximum prices) including its half of the
		/// directory's availability price. Open until `expires_at` (ms).
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::post_job_offer())]
		pub fn post_job_offer(
			origin: OriginFor<T>,
			terms: JobTermsOf<T>,
			deposit: BalanceOf<T>,
			expires_at: Moment,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_post_job_offer(who, terms, deposit, expires_at, &mut Effects::Now).map(|_| ())
		}

		/// Withdraws the caller's unmatched offer and releases its deposit.
		#[pallet::call_index(13)]
		#[pallet::weight(T::WeightInfo::cancel_offer())]
		pub fn cancel_offer(origin: OriginFor<T>, offer: OfferRef) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel_offer(who, offer)
		}

		/// Clears anyone's expired unmatched offer, returning its deposit to its owner.
		#[pallet::call_index(14)]
		#[pallet::weight(T::WeightInfo::clear_expired_offer())]
		pub fn clear_expired_offer(origin: OriginFor<T>, offer: OfferRef) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_clear_expired_offer(who, offer)
		}

		/// Matches a job offer with a resource offer and a mediator after checking the
		/// 12 feasibility rules (each failing with its own error). The caller, the solver,
		/// receives both offers' match incentives.
		#[pallet::call_index(15)]
		#[pallet::weight(T::WeightInfo::post_match().saturating_add(Pallet::<T>::record_reads(1)))]
		pub fn post_match(
			origin: OriginFor<T>,
			job_offer_id: OfferId,
			resource_offer_id: OfferId,
			mediator: T::AccountId,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_post_match(who, job_offer_id, resource_offer_id, mediator, &mut Effects::Now)
				.map(|_| ())
		}

		/// The match's RP posts the job's result: status, where the result archive is,
		/// its Merkle root and the usage (each within the job's limits). Must come
		/// before the completion deadline; opens the reaction window. A replica's RP
		/// reveals its committed result with `reveal_result` instead.
		#[pallet::call_index(16)]
		#[pallet::weight(T::WeightInfo::post_result())]
		pub fn post_result(
			origin: OriginFor<T>,
			match_id: MatchId,
			status: ResultStatus,
			reference: Reference,
			hash: ContentHash,
			instruction_count: u64,
			bandwidth_used: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let result =
				PostedResult { status, reference, hash, instruction_count, bandwidth_used };
			Self::do_post_result(who, match_id, result)
		}

		/// Accepts a posted result and closes the match normally: the RP is paid π_c.
		/// The JC may accept at any time; the RP only after the reaction deadline;
		/// anyone once the settlement grace after it has passed too.
		#[pallet::call_index(17)]
		#[pallet::weight(T::WeightInfo::accept_result())]
		pub fn accept_result(origin: OriginFor<T>, match_id: MatchId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_accept_result(who, match_id, &mut Effects::Now).map(|_| ())
		}

		/// The JC rejects a posted result within the reaction window, sending the match
		/// to its mediator.
		#[pallet::call_index(18)]
		#[pallet::weight(T::WeightInfo::reject_result())]
		pub fn reject_result(
			origin: OriginFor<T>,
			match_id: MatchId,
			reason: RejectReason,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_reject_result(who, match_id, reason)
		}

		/// The JC rejects a record job's result as wrong within the reaction window,
		/// naming the records whose outputs it found wrong (say, a spot check's
		/// mismatches): the mediator re-runs those records first, and the whole job only
		/// if they do not clear the RP. Otherwise as `reject_result` with
		/// `WrongResults`; a JC that names records the RP got right loses the dispute.
		#[pallet::call_index(28)]
		#[pallet::weight(T::WeightInfo::reject_records(records.len() as u32))]
		pub fn reject_records(
			origin: OriginFor<T>,
			match_id: MatchId,
			records: DisputedRecordNames,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_reject_records(who, match_id, records)
		}

		/// Closes a match whose RP posted no result by the completion deadline; the JC is
		/// paid its estimate π̂_c from the RP's deposit. The JC may call it once the
		/// deadline passed, anyone once the settlement grace after it has passed too. A
		/// replica's other matches are then compared by `settle_replicas`.
		#[pallet::call_index(19)]
		#[pallet::weight(T::WeightInfo::timeout())]
		pub fn timeout(origin: OriginFor<T>, match_id: MatchId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_timeout(who, match_id)
		}

		/// The match's mediator posts its verdict before the mediation deadline: who is
		/// at fault, its measured usage (per run) and its result's Merkle root. The faulty
		/// party pays π_d, π_m and a fine; a faulty directory pays at most the liability
		/// fixed at match time.
		#[pallet::call_index(20)]
		#[pallet::weight(T::WeightInfo::post_mediation_result()
			.max(T::WeightInfo::post_mediation_result_directory_fault()))]
		pub fn post_mediation_result(
			origin: OriginFor<T>,
			match_id: MatchId,
			verdict: Verdict,
			faulty: FaultyParty,
			instruction_count: u64,
			bandwidth_used: u64,
			result_hash: ContentHash,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let usage = (instruction_count, bandwidth_used);
			Self::do_post_mediation_result(who, match_id, verdict, faulty, usage, result_hash)
		}

		/// Anyone closes a mediation whose deadline passed without a verdict: the RP is
		/// paid half of the JC's estimate; the mediator is not paid.
		#[pallet::call_index(21)]
		#[pallet::weight(T::WeightInfo::mediation_timeout())]
		pub fn mediation_timeout(origin: OriginFor<T>, match_id: MatchId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_mediation_timeout(match_id)
		}

		/// Root sets the market parameters (θ, n, windows, bond, floor, lifetime,
		/// horizon, grace). Applies to offers posted and matches made from now on:
		/// every match keeps the values it was made with; held bonds stay.
		#[pallet::call_index(22)]
		#[pallet::weight(T::WeightInfo::set_parameters())]
		pub fn set_parameters(
			origin: OriginFor<T>,
			parameters: MarketParameters<BalanceOf<T>>,
		) -> DispatchResult {
			ensure_root(origin)?;
			Self::do_set_parameters(parameters)
		}

		/// Posts one job as `replicas` job offers (2 to `MAX_REPLICAS`), each holding
		/// `deposit` (so k deposits in all) and matched on its own, but only to distinct
		/// RPs not in `excluded`, all with one mediator. When every replica has posted
		/// (or the completion deadline passed) the chain compares the results: equal
		/// ones are accepted without the JC; different ones go to the mediator.
		#[pallet::call_index(23)]
		#[pallet::weight(T::WeightInfo::post_replicated_job_offer(*replicas))]
		pub fn post_replicated_job_offer(
			origin: OriginFor<T>,
			terms: JobTermsOf<T>,
			replicas: u32,
			excluded: BoundedVec<T::AccountId, ConstU32<MAX_EXCLUDED_PROVIDERS>>,
			deposit: BalanceOf<T>,
			expires_at: Moment,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_post_replicated_job_offer(who, terms, replicas, excluded, deposit, expires_at)
		}

		/// Compares a replica group's results once no replica can still post: after
		/// the completion deadline, or when every replica has posted. Anyone may call it
		/// (an RP waiting on a silent replica does).
		#[pallet::call_index(24)]
		#[pallet::weight(T::WeightInfo::settle_replicas(MAX_REPLICAS))]
		pub fn settle_replicas(origin: OriginFor<T>, group: ReplicaGroupId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_settle_replicas(group)
		}

		/// A replica's RP commits to its result before the completion deadline:
		/// `commitment = blake2_256(SCALE((match_id, status, hash)))`. It reveals the
		/// result with `reveal_result` once no other replica can still commit.
		#[pallet::call_index(26)]
		#[pallet::weight(T::WeightInfo::commit_result())]
		pub fn commit_result(
			origin: OriginFor<T>,
			match_id: MatchId,
			commitment: ContentHash,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_commit_result(who, match_id, commitment)
		}

		/// A replica's RP reveals the result it committed to: the same fields as
		/// `post_result`, matching the commitment, once no other replica can still
		/// commit and before the completion deadline plus the reaction window. The last
		/// reveal compares the group's results and settles (or disputes) them all.
		#[pallet::call_index(27)]
		#[pallet::weight(T::WeightInfo::reveal_result(MAX_REPLICAS))]
		pub fn reveal_result(
			origin: OriginFor<T>,
			match_id: MatchId,
			status: ResultStatus,
			reference: Reference,
			hash: ContentHash,
			instruction_count: u64,
			bandwidth_used: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let result =
				PostedResult { status, reference, hash, instruction_count, bandwidth_used };
			Self::do_reveal_result(who, match_id, result)
		}

		/// The group's mediator rules on replicas that disagreed, from its n runs: each
		/// replica that posted the outcome of its runs is paid as accepted, each other
		/// RP pays π_d, π_m and a fine; a non-deterministic job puts the JC at fault in
		/// every replica.
		#[pallet::call_index(25)]
		#[pallet::weight(T::WeightInfo::post_replica_verdict(MAX_REPLICAS))]
		pub fn post_replica_verdict(
			origin: OriginFor<T>,
			group: ReplicaGroupId,
			verdict: ReplicaVerdict,
			instruction_count: u64,
			bandwidth_used: u64,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let usage = (instruction_count, bandwidth_used);
			Self::do_post_replica_verdict(who, group, verdict, usage)
		}

		/// Posts several job offers (say, a map job's shards), each as `post_job_offer`
		/// would: a refused offer is rolled back alone and announced with
		/// `BatchItemFailed`; the others are posted.
		#[pallet::call_index(29)]
		#[pallet::weight(T::WeightInfo::post_job_offers(offers.len() as u32))]
		pub fn post_job_offers(
			origin: OriginFor<T>,
			offers: Batch<(JobTermsOf<T>, BalanceOf<T>, Moment)>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut effects = Effects::batched();
			Self::apply_batched(
				offers.into_inner(),
				&mut effects,
				|(terms, deposit, expires_at), effects| {
					Self::do_post_job_offer(who.clone(), terms, deposit, expires_at, effects)
				},
			)?;
			effects.finish()
		}

		/// Posts several resource offers, each as `post_resource_offer` would: a refused
		/// offer is rolled back alone and announced with `BatchItemFailed`.
		#[pallet::call_index(30)]
		#[pallet::weight(T::WeightInfo::post_resource_offers(offers.len() as u32))]
		pub fn post_resource_offers(
			origin: OriginFor<T>,
			offers: Batch<(ResourceOfferTerms<BalanceOf<T>>, BalanceOf<T>, Moment)>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut effects = Effects::batched();
			Self::apply_batched(
				offers.into_inner(),
				&mut effects,
				|(terms, deposit, expires_at), effects| {
					Self::do_post_resource_offer(who.clone(), terms, deposit, expires_at, effects)
				},
			)?;
			effects.finish()
		}

		/// Posts several matches of `(job offer, resource offer, mediator)` (a solver's
		/// whole solve), each as `post_match` would: a refused match is rolled back alone
		/// and announced with `BatchItemFailed`. Declares the weight of every match with
		/// parties of its own and refunds that of the parties the matches shared.
		#[pallet::call_index(31)]
		#[pallet::weight(batches::declared(T::WeightInfo::post_matches, matches.len() as u32)
			.saturating_add(Pallet::<T>::record_reads(matches.len() as u32)))]
		pub fn post_matches(
			origin: OriginFor<T>,
			matches: Batch<(OfferId, OfferId, T::AccountId)>,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let items = matches.len() as u32;
			let mut effects = Effects::batched();
			let applied = Self::apply_batched(
				matches.into_inner(),
				&mut effects,
				|(job, resource, mediator), effects| {
					Self::do_post_match(who.clone(), job, resource, mediator, effects)
				},
			)?;
			effects.finish()?;
			let (shared, own) = applied.weight_components(items);
			let weight =
				T::WeightInfo::post_matches(shared, own).saturating_add(Self::record_reads(items));
			Ok(Some(weight).into())
		}

		/// The RP posts the results of several matches, each as `post_result` would: a
		/// refused result is rolled back alone and announced with `BatchItemFailed`.
		#[pallet::call_index(32)]
		#[pallet::weight(T::WeightInfo::post_results(results.len() as u32))]
		pub fn post_results(
			origin: OriginFor<T>,
			results: Batch<(MatchId, PostedResult)>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::apply_each(results.into_inner(), |(match_id, result)| {
				Self::do_post_result(who.clone(), match_id, result)
			})
			.map(|_| ())
		}

		/// Accepts several posted results, each as `accept_result` would (the JC at any
		/// time, the RP or anyone else only when it may): a match that cannot be accepted
		/// is left as it is and announced with `BatchItemFailed`. Declares the weight of
		/// every match with parties of its own and refunds that of the parties they shared.
		#[pallet::call_index(33)]
		#[pallet::weight(batches::declared(T::WeightInfo::accept_results, match_ids.len() as u32))]
		pub fn accept_results(
			origin: OriginFor<T>,
			match_ids: Batch<MatchId>,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let items = match_ids.len() as u32;
			let mut effects = Effects::batched();
			let applied =
				Self::apply_batched(match_ids.into_inner(), &mut effects, |match_id, effects| {
					Self::do_accept_result(who.clone(), match_id, effects)
				})?;
			effects.finish()?;
			let (shared, own) = applied.weight_components(items);
			Ok(Some(T::WeightInfo::accept_results(shared, own)).into())
		}
	}
}
