//! # Compute market
//!
//! The on-chain half of MODiCuM (Eisele et al., DEBS 2020): Job Creators and Resource
//! Providers post offers with deposits, solvers match them, Resource Providers post
//! results, Job Creators accept or reject them, and mediators settle disputes by
//! re-running the job `n` times. Deposits, payments and fines follow from the penalty
//! rate θ and `n` ([`economics`]), so cheating costs more than it can gain.
//!
//! This file only declares state, events and errors. The calls are in `calls.rs`, the
//! state machine's data is in [`types`] and its transitions in `dispatchable_impls.rs`
//! and the modules named for each part of the market. The protocol is specified in
//! `shared/spec/PROTOCOL.md`.
//!
//! ## Money
//! Registration bonds and offer deposits are `fungible` holds under [`HoldReason`].
//! Every close path turns a match's held deposits into payments, a fine (handed to
//! [`Config::OnFine`], which burns by default) and refunds; `try_state` checks that the
//! holds equal what the pallet records.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use frame_support::pallet_macros::import_section;
pub use pallet::*;

mod batched_counts;
pub mod batches;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod calls;
mod dispatchable_impls;
pub mod economics;
mod effects;
mod held_moves;
mod invariants;
mod matching;
#[cfg(test)]
mod mock;
mod offers;
mod party_reads;
mod quotes;
mod replicas;
pub mod reputation;
pub mod runtime_api;
mod settlement;
pub mod sweep;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use batches::{Batch, MatchParties, MAX_BATCH_ITEMS};
use effects::Effects;
pub use reputation::RECORDS_READ_BY_MATCH;
pub use types::*;
pub use weights::WeightInfo;

/// Lets benchmarks move the clock of a runtime whose time source the pallet cannot set.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper {
	/// Makes [`Config::Time`] report `now` (ms).
	fn set_time(now: Moment);
}

// The calls live in their own file (`calls.rs`); the section macro pastes them in.
#[import_section(calls::calls)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{self, Credit},
			tokens::Balance,
			OnUnbalanced, Time,
		},
	};
	use frame_system::pallet_prelude::*;

	/// The balance type of [`Config::Currency`].
	pub type BalanceOf<T> = <T as Config>::Balance;
	/// A job offer's terms in this runtime's types.
	pub type JobTermsOf<T> = JobOfferTerms<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
	/// An open job offer in this runtime's types.
	pub type JobOfferOf<T> = JobOffer<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
	/// An open resource offer in this runtime's types.
	pub type ResourceOfferOf<T> =
		ResourceOffer<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
	/// A match in this runtime's types.
	pub type MatchOf<T> = Match<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
	/// A credit (funds taken out of circulation) of [`Config::Currency`].
	pub type CreditOf<T> = Credit<<T as frame_system::Config>::AccountId, <T as Config>::Currency>;

	// 1: matches snapshot their windows, θ and the directory's liability; mediators
	// register a speed; trust names a registration. No live chain had version 0, so
	// there is no migration.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The balance type; convertible to `u128`, in which [`economics`] computes.
		type Balance: Balance + TryFrom<u128> + Into<u128> + MaybeSerializeDeserialize;

		/// The currency in which deposits and bonds are held.
		type Currency: fungible::Inspect<Self::AccountId, Balance = Self::Balance>
			+ fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ fungible::BalancedHold<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Wall-clock time in milliseconds (the timestamp pallet in a real runtime).
		type Time: Time<Moment = Moment>;

		/// Receives fines. `()` burns them; `ResolveTo<Treasury, Currency>` keeps them.
		type OnFine: OnUnbalanced<CreditOf<Self>>;

		/// Most mediators one account may trust.
		#[pallet::constant]
		type MaxTrustedMediators: Get<u32>;

		/// Most directories one account may trust.
		#[pallet::constant]
		type MaxTrustedDirectories: Get<u32>;

		/// Most base layers one account may declare.
		#[pallet::constant]
		type MaxBaseLayers: Get<u32>;

		/// Most open offers plus unsettled matches one actor role may have at once.
		#[pallet::constant]
		type MaxOpenItems: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Moves the clock in benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: crate::BenchmarkHelper;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A bond held for as long as an account is registered in a role.
		#[codec(index = 0)]
		RegistrationBond,
		/// An offer's deposit, held from posting until the offer is cancelled, cleared or
		/// its match closes.
		#[codec(index = 1)]
		OfferDeposit,
	}

	/// The platform parameters θ, n, windows, bond, deposit floor and offer lifetime.
	#[pallet::storage]
	pub type Parameters<T: Config> = StorageValue<_, MarketParameters<BalanceOf<T>>, ValueQuery>;

	/// Registered Resource Providers.
	#[pallet::storage]
	pub type ResourceProviders<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ResourceProviderInfo<BalanceOf<T>>>;

	/// Registered Job Creators.
	#[pallet::storage]
	pub type JobCreators<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, JobCreatorInfo<BalanceOf<T>>>;

	/// Registered Mediators.
	#[pallet::storage]
	pub type Mediators<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, MediatorInfo<BalanceOf<T>>>;

	/// Registered Directories.
	#[pallet::storage]
	pub type Directories<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, DirectoryInfo<BalanceOf<T>>>;

	/// Mediators each account trusts (used in its roles as RP and JC).
	#[pallet::storage]
	pub type TrustedMediators<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<T::AccountId, T::MaxTrustedMediators>,
		ValueQuery,
	>;

	/// Directories each account trusts (used in its roles as RP and mediator).
	#[pallet::storage]
	pub type TrustedDirectories<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<T::AccountId, T::MaxTrustedDirectories>,
		ValueQuery,
	>;

	/// Base-layer hashes each account has installed (as RP and mediator).
	#[pallet::storage]
	pub type SupportedBaseLayers<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<ContentHash, T::MaxBaseLayers>,
		ValueQuery,
	>;

	/// Open, unmatched job offers.
	#[pallet::storage]
	pub type JobOffers<T: Config> =
		StorageMap<_, Twox64Concat, OfferId, JobOffer<T::AccountId, BalanceOf<T>>>;

	/// Open, unmatched resource offers.
	#[pallet::storage]
	pub type ResourceOffers<T: Config> =
		StorageMap<_, Twox64Concat, OfferId, ResourceOffer<T::AccountId, BalanceOf<T>>>;

	/// The next offer id (shared by both kinds, so an id names one offer).
	#[pallet::storage]
	pub type NextOfferId<T: Config> = StorageValue<_, OfferId, ValueQuery>;

	/// Unsettled matches.
	#[pallet::storage]
	pub type Matches<T: Config> = StorageMap<_, Twox64Concat, MatchId, MatchOf<T>>;

	/// The next match id.
	#[pallet::storage]
	pub type NextMatchId<T: Config> = StorageValue<_, MatchId, ValueQuery>;

	/// The next registration serial of a mediator or directory.
	#[pallet::storage]
	pub type NextRegistration<T: Config> = StorageValue<_, RegistrationSerial, ValueQuery>;

	/// Which registration of a mediator an account trusts (beside its list in
	/// [`TrustedMediators`]): trust does not carry over to a re-registration.
	#[pallet::storage]
	pub type MediatorTrust<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		RegistrationSerial,
	>;

	/// Which registration of a directory an account trusts (beside its list in
	/// [`TrustedDirectories`]).
	#[pallet::storage]
	pub type DirectoryTrust<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		RegistrationSerial,
	>;

	/// Where `on_idle` resumes its sweep for expired offers.
	#[pallet::storage]
	pub type ExpirySweep<T: Config> = StorageValue<_, SweepCursor, ValueQuery>;

	/// Replicated jobs whose replicas are open, running or in dispute.
	#[pallet::storage]
	pub type ReplicaGroups<T: Config> =
		StorageMap<_, Twox64Concat, ReplicaGroupId, ReplicaGroup<T::AccountId>>;

	/// The replica group of each open job offer that is a replica.
	#[pallet::storage]
	pub type OfferReplicaGroup<T: Config> = StorageMap<_, Twox64Concat, OfferId, ReplicaGroupId>;

	/// The replica group of each unsettled match that runs a replica.
	#[pallet::storage]
	pub type MatchReplicaGroup<T: Config> = StorageMap<_, Twox64Concat, MatchId, ReplicaGroupId>;

	/// The records a JC named when it rejected a record job's result with
	/// `reject_records`, for each match in that mediation: the mediator re-runs these
	/// first. Removed when the match closes.
	#[pallet::storage]
	pub type DisputedRecords<T: Config> = StorageMap<_, Twox64Concat, MatchId, DisputedRecordNames>;

	/// Each account's record per role (see [`Reputation`]): how its matches ended.
	/// One fixed-size entry per account and role it closed a match in; kept after it
	/// deregisters.
	#[pallet::storage]
	pub type Reputations<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		Role,
		Reputation,
		ValueQuery,
	>;

	/// Genesis parameters.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The market parameters (defaults: n = 2, θ = 50, see [`MarketParameters`]).
		pub parameters: MarketParameters<BalanceOf<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if let Err(error) = self.parameters.validate() {
				panic!("invalid compute-market genesis parameters: {error:?}");
			}
			Parameters::<T>::put(self.parameters.clone());
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// An account registered in a role and its bond was held.
		Registered { who: T::AccountId, role: Role, bond: BalanceOf<T> },
		/// An account left a role and its bond was released.
		Deregistered { who: T::AccountId, role: Role, bond_released: BalanceOf<T> },
		/// An account started trusting a mediator.
		MediatorTrusted { who: T::AccountId, mediator: T::AccountId },
		/// An account stopped trusting a mediator.
		MediatorDistrusted { who: T::AccountId, mediator: T::AccountId },
		/// An account started trusting a directory.
		DirectoryTrusted { who: T::AccountId, directory: T::AccountId },
		/// An account stopped trusting a directory.
		DirectoryDistrusted { who: T::AccountId, directory: T::AccountId },
		/// An account declared a base layer it has installed.
		BaseLayerAdded { who: T::AccountId, layer: ContentHash },
		/// An account withdrew a base layer.
		BaseLayerRemoved { who: T::AccountId, layer: ContentHash },
		/// A resource offer was posted and its deposit held.
		ResourceOfferPosted {
			offer_id: OfferId,
			provider: T::AccountId,
			terms: ResourceOfferTerms<BalanceOf<T>>,
			deposit: BalanceOf<T>,
			expires_at: Moment,
		},
		/// A job offer was posted and its deposit held.
		JobOfferPosted {
			offer_id: OfferId,
			creator: T::AccountId,
			terms: JobTermsOf<T>,
			deposit: BalanceOf<T>,
			expires_at: Moment,
		},
		/// An unmatched offer was withdrawn by its owner; its deposit returned.
		OfferCancelled { offer: OfferRef, owner: T::AccountId, deposit_released: BalanceOf<T> },
		/// An expired unmatched offer was cleared; its deposit returned to its owner.
		OfferExpired {
			/// The offer.
			offer: OfferRef,
			/// Its owner, who got the deposit back.
			owner: T::AccountId,
			/// Who cleared it; `None` when the chain's idle-time sweep did.
			cleared_by: Option<T::AccountId>,
			/// The deposit returned.
			deposit_released: BalanceOf<T>,
		},
		/// A solver matched a job offer with a resource offer and a mediator. Carries
		/// what the RP needs to fetch and run the job.
		Matched {
			match_id: MatchId,
			job_offer_id: OfferId,
			resource_offer_id: OfferId,
			job_creator: T::AccountId,
			resource_provider: T::AccountId,
			mediator: T::AccountId,
			solver: T::AccountId,
			directory: T::AccountId,
			job_reference: Reference,
			job_hash: ContentHash,
			completion_deadline: Moment,
		},
		/// The RP posted its result; the JC may react until `reaction_deadline`.
		ResultPosted {
			match_id: MatchId,
			resource_provider: T::AccountId,
			job_creator: T::AccountId,
			result: PostedResult,
			job_price: BalanceOf<T>,
			reaction_deadline: Moment,
		},
		/// The JC rejected a result; the named mediator must re-run the job.
		JobAssignedForMediation {
			match_id: MatchId,
			mediator: T::AccountId,
			job_creator: T::AccountId,
			resource_provider: T::AccountId,
			reason: RejectReason,
			directory: T::AccountId,
			job_reference: Reference,
			job_hash: ContentHash,
			result: PostedResult,
			mediation_deadline: Moment,
		},
		/// The JC's rejection (just before, `JobAssignedForMediation`) named the records
		/// whose outputs it found wrong: the mediator re-runs these first.
		RecordsDisputed {
			/// The match in mediation.
			match_id: MatchId,
			/// The records, by file name, in ascending order.
			records: DisputedRecordNames,
		},
		/// The mediator ruled; settlement follows in the same block.
		MediationResultPosted {
			match_id: MatchId,
			mediator: T::AccountId,
			verdict: Verdict,
			faulty: FaultyParty,
			instruction_count: u64,
			bandwidth_used: u64,
			result_hash: ContentHash,
		},
		/// Held funds moved from one party to another.
		Paid {
			match_id: MatchId,
			from: T::AccountId,
			to: T::AccountId,
			amount: BalanceOf<T>,
			reason: PaymentReason,
		},
		/// A payment could not be made in full because what should pay it ran dry (only
		/// a directory's bounded liability can; deposits are checked at match time).
		Shortfall {
			/// The match.
			match_id: MatchId,
			/// Who got less than the rules owe it.
			who: T::AccountId,
			/// What it was owed.
			owed: BalanceOf<T>,
			/// What it got.
			paid: BalanceOf<T>,
			/// Which payment fell short.
			reason: PaymentReason,
		},
		/// A faulty party's remaining deposit was taken as a fine and handed to
		/// [`Config::OnFine`].
		Fined { match_id: MatchId, who: T::AccountId, amount: BalanceOf<T> },
		/// What remained of a deposit returned to its owner.
		DepositReleased { match_id: MatchId, who: T::AccountId, amount: BalanceOf<T> },
		/// A match closed; all its funds are settled.
		MatchClosed { match_id: MatchId, outcome: CloseOutcome },
		/// Root changed the market parameters.
		ParametersSet { parameters: MarketParameters<BalanceOf<T>> },
		/// A JC offered one job k times, each replica a job offer of its own (each
		/// announced by `JobOfferPosted`) for k distinct RPs.
		ReplicatedJobOfferPosted {
			/// The group (its first offer's id).
			group: ReplicaGroupId,
			/// The Job Creator.
			creator: T::AccountId,
			/// The replicas' job offers.
			offers: BoundedVec<OfferId, ConstU32<MAX_REPLICAS>>,
			/// RPs that may not run any replica.
			excluded: BoundedVec<T::AccountId, ConstU32<MAX_EXCLUDED_PROVIDERS>>,
		},
		/// A replica's RP committed to its result (which nobody can read from the
		/// commitment); it reveals it once no other replica can still commit.
		ReplicaResultCommitted {
			/// The match.
			match_id: MatchId,
			/// Its group.
			group: ReplicaGroupId,
			/// The RP.
			resource_provider: T::AccountId,
		},
		/// A replica's RP revealed its result; it is compared once every replica
		/// revealed or can no longer.
		ReplicaResultPosted {
			/// The match.
			match_id: MatchId,
			/// Its group.
			group: ReplicaGroupId,
			/// The RP.
			resource_provider: T::AccountId,
			/// The result.
			result: PostedResult,
		},
		/// Every replica that posted a result posted the same one: each is accepted and
		/// its RP paid, with no call from the JC.
		ReplicasAgreed {
			/// The group.
			group: ReplicaGroupId,
			/// The matches closed as accepted.
			matches: BoundedVec<MatchId, ConstU32<MAX_REPLICAS>>,
		},
		/// Replicas posted different results: all of them go to the group's mediator,
		/// which re-runs the job n times and rules on all of them at once.
		ReplicasDisagreed {
			/// The group.
			group: ReplicaGroupId,
			/// The mediator that must rule.
			mediator: T::AccountId,
			/// The Job Creator.
			job_creator: T::AccountId,
			/// The directory holding the job and the results.
			directory: T::AccountId,
			/// Where in the directory the job image is.
			job_reference: Reference,
			/// The image's digest.
			job_hash: ContentHash,
			/// Each disputed replica: its match, its RP and what it posted.
			results: BoundedVec<(MatchId, T::AccountId, PostedResult), ConstU32<MAX_REPLICAS>>,
			/// The verdict must come by then (the earliest of the replicas' deadlines).
			mediation_deadline: Moment,
		},
		/// The mediator ruled on replicas that disagreed; each replica's settlement
		/// follows in the same block.
		ReplicaVerdictPosted {
			/// The group.
			group: ReplicaGroupId,
			/// The mediator.
			mediator: T::AccountId,
			/// Its ruling.
			verdict: ReplicaVerdict,
			/// Instructions one of its runs used.
			instruction_count: u64,
			/// Bytes one of its runs downloaded.
			bandwidth_used: u64,
		},
		/// An item of a batched call was refused and rolled back; the batch's other
		/// items went on.
		BatchItemFailed {
			/// The item's position in the batch, from 0.
			index: u32,
			/// Why it was refused.
			error: DispatchError,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is already registered in this role.
		AlreadyRegistered,
		/// The account is not registered in the role this call needs.
		NotRegistered,
		/// The role still has open offers or unsettled matches.
		HasOpenItems,
		/// The Job Creator has as many open offers and matches as `MaxOpenItems` allows.
		JobCreatorTooManyOpenItems,
		/// The Resource Provider has as many open offers and matches as `MaxOpenItems`
		/// allows.
		ProviderTooManyOpenItems,
		/// The mediator stands by as many unsettled matches as `MaxOpenItems` allows.
		MediatorTooManyOpenItems,
		/// The directory serves as many unsettled matches as `MaxOpenItems` allows.
		DirectoryTooManyOpenItems,
		/// The named mediator is not registered.
		UnknownMediator,
		/// The named directory is not registered.
		UnknownDirectory,
		/// Already in the list.
		AlreadyListed,
		/// Not in the list.
		NotListed,
		/// The list is full.
		ListFull,
		/// A time per instruction of zero would let any deadline pass rule 11.
		ZeroTimePerInstruction,
		/// The offer's expiry is not in the future.
		ExpiryInPast,
		/// The offer's expiry is further away than `max_offer_lifetime`.
		ExpiryTooFar,
		/// The job's completion deadline is not in the future.
		DeadlineInPast,
		/// The job's completion deadline is further away than `max_completion_horizon`.
		DeadlineTooFar,
		/// The deposit is below the minimum of eq. 2 (or the floor); it states the
		/// minimum, rounded up.
		DepositBelowMinimum { minimum: ApproxAmount },
		/// An amount overflowed; the offer's numbers are too large.
		Overflow,
		/// No open offer with this id (never posted, cancelled, cleared or matched).
		OfferNotFound,
		/// Only the offer's owner may cancel it.
		NotOfferOwner,
		/// The offer has not expired yet.
		OfferNotExpired,
		/// The job offer has expired.
		JobOfferExpired,
		/// The resource offer has expired.
		ResourceOfferExpired,
		/// Rule 1: the RP's instruction cap is below the job's instruction limit.
		InstructionCapTooLow,
		/// Rule 2: the RP's memory is below the job's RAM limit.
		MemoryCapTooLow,
		/// Rule 3: the RP's local storage is below the job's storage limit.
		LocalStorageCapTooLow,
		/// Rule 4: the RP's bandwidth cap is below the job's bandwidth limit.
		BandwidthCapTooLow,
		/// Rule 5: the RP's instruction price is above the job's maximum.
		InstructionPriceTooHigh,
		/// Rule 6: the RP's bandwidth price is above the job's maximum.
		BandwidthPriceTooHigh,
		/// Rule 7: the job's architecture differs from the RP's.
		ArchitectureMismatch,
		/// Rule 8: the RP does not trust the job's directory.
		DirectoryNotTrustedByProvider,
		/// Rule 9: the JC does not trust the mediator.
		MediatorNotTrustedByJobCreator,
		/// Rule 9: the RP does not trust the mediator.
		MediatorNotTrustedByProvider,
		/// Rule 9: the mediator's architecture differs from the RP's.
		MediatorArchitectureMismatch,
		/// Rule 9: the mediator does not trust the job's directory.
		DirectoryNotTrustedByMediator,
		/// Rule 9: n runs of the job at the mediator's speed, plus the mediation slack,
		/// take longer than `max_completion_horizon`.
		MediatorTooSlow,
		/// Rule 10: the RP does not support the job's base layer.
		BaseLayerNotSupportedByProvider,
		/// Rule 10: the mediator does not support the job's base layer.
		BaseLayerNotSupportedByMediator,
		/// Rule 11: the RP cannot finish the job before its completion deadline.
		DeadlineUnreachable,
		/// Rule 12: the job offer is not open (cancelled, cleared, matched or unknown).
		JobOfferNotOpen,
		/// Rule 12: the resource offer is not open (cancelled, cleared, matched or unknown).
		ResourceOfferNotOpen,
		/// The JC's deposit cannot cover everything a close path of this match can take
		/// from it (price or π_d, π_m at this mediator's prices, availability, θ · π̂_c);
		/// it states the minimum, rounded up.
		JobDepositTooLowForMatch { minimum: ApproxAmount },
		/// The RP's deposit cannot cover everything a close path of this match can take
		/// from it (the JC's π̂_c at a timeout, or π_d and π_m at a verdict, availability,
		/// θ · its own estimate); it states the minimum, rounded up.
		ResourceDepositTooLowForMatch { minimum: ApproxAmount },
		/// No unsettled match with this id.
		MatchNotFound,
		/// Only the match's Resource Provider may do this.
		NotResourceProvider,
		/// Only the match's Job Creator may do this.
		NotJobCreator,
		/// Only the match's Job Creator or Resource Provider may do this.
		NotMatchParty,
		/// Only the match's mediator may do this.
		NotMediator,
		/// The match is not waiting for a result.
		NotAwaitingResult,
		/// The match has no result waiting for a reaction.
		NotAwaitingReaction,
		/// The match is not in mediation.
		NotInMediation,
		/// The completion deadline has passed; a result can no longer be posted.
		CompletionDeadlinePassed,
		/// The completion deadline has not passed yet.
		CompletionDeadlineNotReached,
		/// The reaction window is still open: the RP may not accept yet.
		ReactionWindowOpen,
		/// The reaction window has closed: the JC may no longer reject.
		ReactionWindowClosed,
		/// The mediation deadline has passed.
		MediationDeadlinePassed,
		/// The mediation deadline has not passed yet.
		MediationDeadlineNotReached,
		/// The reported instruction count exceeds the job's limit.
		InstructionCountOverLimit,
		/// The reported bandwidth exceeds the job's limit.
		BandwidthOverLimit,
		/// The verdict does not fit the faulty party (see [`Verdict`]).
		InconsistentVerdict,
		/// The verdict does not answer the rejection (e.g. `ResultNotFound` is no ruling
		/// on `WrongResults`).
		VerdictDoesNotAnswerRejection,
		/// Only the match's parties may do this before its deadline's grace period ends.
		GracePeriodNotOver,
		/// n must be positive.
		ZeroVerificationCount,
		/// The reaction window must be positive.
		ZeroReactionWindow,
		/// The mediation window must be positive.
		ZeroMediationWindow,
		/// The maximum offer lifetime must be positive.
		ZeroOfferLifetime,
		/// The completion horizon must be positive.
		ZeroCompletionHorizon,
		/// A replicated job needs at least two replicas.
		TooFewReplicas,
		/// More replicas than `MAX_REPLICAS`.
		TooManyReplicas,
		/// This RP already runs (or ran) a replica of the job: replicas need distinct RPs.
		ReplicaProviderRepeated,
		/// The JC excluded this RP from its replicated job.
		ReplicaProviderExcluded,
		/// The job's other replicas use another mediator; all replicas share one.
		ReplicaMediatorMismatch,
		/// No replica group with this id (never posted, or all its replicas settled).
		ReplicaGroupNotFound,
		/// A replica may still post a result (or be matched) before the completion
		/// deadline.
		ReplicasStillRunning,
		/// The replica group is not waiting for a verdict.
		ReplicaGroupNotDisputed,
		/// A dispute between replicas is ruled for the whole group with
		/// `post_replica_verdict`.
		ReplicaDisputeNeedsGroupVerdict,
		/// Only the chain raises a dispute because replicas disagree.
		ReasonReservedForReplicas,
		/// Only a replica's match commits to a result before revealing it.
		NotReplica,
		/// A replica's RP commits to its result (`commit_result`) before revealing it.
		ResultNotCommitted,
		/// A replica's result is revealed with `reveal_result`, not posted with
		/// `post_result`.
		ReplicaResultMustBeRevealed,
		/// The revealed result is not the one committed to.
		CommitmentMismatch,
		/// Another replica may still commit: reveal once none can (all committed, or
		/// their deadlines passed).
		ReplicasStillCommitting,
		/// The reveal deadline (the completion deadline plus the reaction window) has
		/// passed.
		RevealDeadlinePassed,
		/// Rule 13: the RP has fewer accepted jobs than the job offer requires.
		ProviderRecordTooShort,
		/// Rule 13: the RP's share of faults (fined or timed out) is above what the job
		/// offer allows.
		ProviderFaultRateTooHigh,
		/// Rule 13: the JC has fewer accepted jobs than the resource offer requires.
		JobCreatorRecordTooShort,
		/// Rule 13: the JC's share of faults (fined) is above what the resource offer
		/// allows.
		JobCreatorFaultRateTooHigh,
		/// `reject_records` named no record.
		NoRecordsNamed,
		/// A record name is not a file name: 1 to 64 of `A–Z a–z 0–9 . _ -`, not `.` or `..`.
		InvalidRecordName,
		/// The records are not in ascending byte order, or one is named twice.
		RecordsNotAscending,
		/// A replica's result is compared with the other replicas', not disputed by
		/// records.
		RecordsDisputeOnReplica,
		/// A batched call carried no items.
		EmptyBatch,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxTrustedMediators::get() > 0, "MaxTrustedMediators must be positive");
			assert!(T::MaxTrustedDirectories::get() > 0, "MaxTrustedDirectories must be positive");
			assert!(T::MaxBaseLayers::get() > 0, "MaxBaseLayers must be positive");
			assert!(T::MaxOpenItems::get() > 0, "MaxOpenItems must be positive");
			// Amounts cross into u128 for the economics and back; a wider balance would
			// silently lose its top bits.
			assert!(
				core::mem::size_of::<BalanceOf<T>>() <= core::mem::size_of::<u128>(),
				"Balance must fit in u128"
			);
		}

		/// Clears expired offers while the block has room, so nobody pays to have them
		/// removed.
		fn on_idle(_n: BlockNumberFor<T>, remaining: Weight) -> Weight {
			Self::sweep_expired_offers(remaining)
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}
}
