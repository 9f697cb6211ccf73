//! Data types of the market: actors, offers, matches and the vocabulary of results,
//! rejections and verdicts (PROTOCOL.md, "Offers" and "Lifecycle of a match").

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt::Debug;
use frame_support::{pallet_prelude::ConstU32, BoundedVec};
use scale_info::TypeInfo;
use serde::{Deserialize, Serialize};
use sp_arithmetic::FixedU128;

/// Identifier of a job or resource offer (one counter shared by both kinds).
pub type OfferId = u64;
/// Identifier of a match.
pub type MatchId = u64;
/// A 32-byte content hash: an OCI sha256 digest for job images and base layers, a
/// blake2-256 Merkle root for results.
pub type ContentHash = [u8; 32];
/// Milliseconds since the Unix epoch, as the runtime's timestamp reports them.
pub type Moment = u64;
/// Numbers each registration of a mediator or directory, so trust names one
/// registration (with its prices), not an account forever.
pub type RegistrationSerial = u64;
/// Maximum length of a reference into a directory or of a directory endpoint.
pub const MAX_REFERENCE_LEN: u32 = 256;
/// Where in a directory a job image or a result lives (e.g. `repo@sha256:…`).
pub type Reference = BoundedVec<u8, ConstU32<MAX_REFERENCE_LEN>>;

/// Maximum length of a record's name (a file name under `/in/records`).
pub const MAX_RECORD_NAME_LEN: u32 = 64;
/// A record of a record job, by its file name under `/in/records` (and of its output
/// under `/out/records`).
pub type RecordName = BoundedVec<u8, ConstU32<MAX_RECORD_NAME_LEN>>;
/// Most records one rejection may name: the mediator re-runs each of them `n` times.
pub const MAX_DISPUTED_RECORDS: u32 = 16;
/// The records a rejection names, in ascending byte order without repeats.
pub type DisputedRecordNames = BoundedVec<RecordName, ConstU32<MAX_DISPUTED_RECORDS>>;

/// Whether `name` can be a record's file name: 1 to 64 of `A–Z a–z 0–9 . _ -`, not `.`
/// or `..`. The mediator turns names into paths, so anything else is refused on chain.
pub fn is_valid_record_name(name: &[u8]) -> bool {
	!name.is_empty()
		&& name != b"."
		&& name != b".."
		&& name.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

macro_rules! scale_type {
	($(#[$meta:meta])* $vis:vis $kind:ident $name:ident $($rest:tt)*) => {
		$(#[$meta])*
		#[derive(Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
		$vis $kind $name $($rest)*
	};
}

scale_type! {
	/// CPU architecture of a machine; a job runs only where its architecture matches.
	#[derive(Copy)]
	pub enum Architecture {
		/// x86-64 (`linux/amd64`).
		Amd64,
		/// 64-bit ARM (`linux/arm64`).
		Arm64,
		/// 32-bit ARM v7 (`linux/arm/v7`).
		Arm32,
		/// 64-bit RISC-V (`linux/riscv64`).
		Riscv64,
	}
}

scale_type! {
	/// The roles an account can register for.
	#[derive(Copy, PartialOrd, Ord)]
	pub enum Role {
		/// Runs jobs for pay.
		ResourceProvider,
		/// Pays to have jobs run.
		JobCreator,
		/// Re-runs disputed jobs and rules on them.
		Mediator,
		/// Stores job images and results.
		Directory,
	}
}

scale_type! {
	/// A registered Resource Provider.
	pub struct ResourceProviderInfo<Balance> {
		/// Architecture of its machines.
		pub arch: Architecture,
		/// Wall-clock nanoseconds it needs per instruction (one instruction is one CPU
		/// millisecond as the executor measures it, so 1_000_000 means "real time").
		pub time_per_instruction_ns: u64,
		/// Registration bond held under [`crate::HoldReason::RegistrationBond`].
		pub bond: Balance,
		/// Open offers and unsettled matches; deregistering waits for zero.
		pub open_items: u32,
	}
}

scale_type! {
	/// A registered Job Creator.
	pub struct JobCreatorInfo<Balance> {
		/// Registration bond held under [`crate::HoldReason::RegistrationBond`].
		pub bond: Balance,
		/// Open offers and unsettled matches; deregistering waits for zero.
		pub open_items: u32,
	}
}

scale_type! {
	/// A registered Mediator and its prices.
	pub struct MediatorInfo<Balance> {
		/// Architecture it re-runs jobs on.
		pub arch: Architecture,
		/// Wall-clock nanoseconds it needs per instruction when it re-runs a job; a
		/// match's mediation window follows from it (n runs of the job's limit).
		pub time_per_instruction_ns: u64,
		/// Its price per instruction when it re-runs a job.
		pub instruction_price: Balance,
		/// Its price per byte downloaded when it re-runs a job.
		pub bandwidth_price: Balance,
		/// What each match it stands by pays it (half from each side).
		pub availability_price: Balance,
		/// Registration bond held under [`crate::HoldReason::RegistrationBond`].
		pub bond: Balance,
		/// Unsettled matches naming it; deregistering waits for zero.
		pub open_items: u32,
		/// This registration's serial: trust given to an earlier registration of the
		/// same account does not carry over to this one.
		pub registration: RegistrationSerial,
	}
}

scale_type! {
	/// A registered Directory.
	pub struct DirectoryInfo<Balance> {
		/// Where clients reach it (e.g. `http://127.0.0.1:5000`).
		pub endpoint: Reference,
		/// What each match using it pays it (half from each side).
		pub availability_price: Balance,
		/// Registration bond held under [`crate::HoldReason::RegistrationBond`]; it pays a
		/// mediator's fee when a mediator finds the directory at fault.
		pub bond: Balance,
		/// Unsettled matches naming it; deregistering waits for zero. (Job offers do not
		/// count: naming a directory in an offer must not take its slots.)
		pub open_items: u32,
		/// This registration's serial: trust given to an earlier registration of the
		/// same account does not carry over to this one.
		pub registration: RegistrationSerial,
	}
}

scale_type! {
	/// What a Resource Provider offers (all sizes in bytes).
	#[derive(Default)]
	pub struct ResourceOfferTerms<Balance> {
		/// Price per instruction.
		pub instruction_price: Balance,
		/// Most instructions it will run for one job.
		pub instruction_cap: u64,
		/// Memory it gives a job.
		pub memory_cap: u64,
		/// Local storage it gives a job.
		pub local_storage_cap: u64,
		/// Most bytes it will download for one job.
		pub bandwidth_cap: u64,
		/// Price per byte downloaded.
		pub bandwidth_price: Balance,
		/// Paid to the solver that matches this offer.
		pub match_incentive: Balance,
		/// The least record a job creator must have for this offer to run its job
		/// (README, "Reputation"); `None`: any.
		pub creator_record: Option<RecordRequirement>,
	}
}

scale_type! {
	/// What a Job Creator asks for (all sizes in bytes).
	pub struct JobOfferTerms<AccountId, Balance> {
		/// Most instructions the job may use.
		pub instruction_limit: u64,
		/// Most bytes the job may download (image layers and inputs).
		pub bandwidth_limit: u64,
		/// Highest acceptable price per instruction.
		pub instruction_max_price: Balance,
		/// Highest acceptable price per byte downloaded.
		pub bandwidth_max_price: Balance,
		/// The result must be posted by this time (ms since the Unix epoch).
		pub completion_deadline: Moment,
		/// Paid to the solver that matches this offer.
		pub match_incentive: Balance,
		/// Hash of the image's base layer, which RP and mediator must already have.
		pub first_layer_hash: ContentHash,
		/// Memory the job needs.
		pub ram_limit: u64,
		/// Local storage the job needs.
		pub local_storage_limit: u64,
		/// The directory holding the image and receiving the result.
		pub directory: AccountId,
		/// Where in the directory the image lives.
		pub job_reference: Reference,
		/// Content hash (digest) of the image.
		pub job_hash: ContentHash,
		/// Architecture the job is built for.
		pub arch: Architecture,
		/// The least record the resource provider must have to run it (README,
		/// "Reputation"); `None`: any.
		pub provider_record: Option<RecordRequirement>,
	}
}

scale_type! {
	/// A posted, unmatched resource offer.
	pub struct ResourceOffer<AccountId, Balance> {
		/// The Resource Provider.
		pub owner: AccountId,
		/// What it offers.
		pub terms: ResourceOfferTerms<Balance>,
		/// Held under [`crate::HoldReason::OfferDeposit`].
		pub deposit: Balance,
		/// After this time anyone may clear the offer, returning the deposit.
		pub expires_at: Moment,
	}
}

scale_type! {
	/// A posted, unmatched job offer.
	pub struct JobOffer<AccountId, Balance> {
		/// The Job Creator.
		pub owner: AccountId,
		/// What it asks for.
		pub terms: JobOfferTerms<AccountId, Balance>,
		/// Held under [`crate::HoldReason::OfferDeposit`].
		pub deposit: Balance,
		/// After this time anyone may clear the offer, returning the deposit.
		pub expires_at: Moment,
	}
}

scale_type! {
	/// Where the idle-time sweep for expired offers resumes: after offer `after` of the
	/// job offers (or, once those are done, of the resource offers).
	#[derive(Default)]
	pub struct SweepCursor {
		/// Sweeping resource offers (else job offers).
		pub resource_offers: bool,
		/// The last offer visited, `None` to start at the beginning of the map.
		pub after: Option<OfferId>,
	}
}

scale_type! {
	/// Names one offer of either kind.
	#[derive(Copy)]
	pub enum OfferRef {
		/// A job offer.
		Job(OfferId),
		/// A resource offer.
		Resource(OfferId),
	}
}

scale_type! {
	/// How a job ended, as the Resource Provider reports it.
	#[derive(Copy)]
	pub enum ResultStatus {
		/// Ran to completion; outputs are in the result.
		Completed,
		/// The RP declined to run it.
		Declined,
		/// The job description was unusable (e.g. the image lacks the declared base layer).
		JobDescriptionError,
		/// The image was not in the directory.
		JobNotFound,
		/// The job hit its memory limit.
		MemoryExceeded,
		/// The job hit its storage limit.
		StorageExceeded,
		/// The job hit its instruction limit.
		InstructionsExceeded,
		/// The job hit its bandwidth limit.
		BandwidthExceeded,
		/// The job failed (non-zero exit, crash).
		ExceptionOccurred,
		/// The directory could not be reached.
		DirectoryUnavailable,
	}
}

scale_type! {
	/// Why a Job Creator rejects a result.
	#[derive(Copy)]
	pub enum RejectReason {
		/// The outputs are wrong.
		WrongResults,
		/// The result is not in the directory.
		ResultNotFound,
		/// The claimed usage is too high.
		TooMuchCost,
		/// The reported status is false.
		InvalidResultStatus,
		/// The directory failed the JC (claim against the directory).
		DirectoryUnavailable,
		/// Replicas of the job posted different results; the chain raised the dispute,
		/// not the JC (which cannot reject for this reason).
		ReplicasDisagree,
	}
}

scale_type! {
	/// A mediator's ruling.
	#[derive(Copy)]
	pub enum Verdict {
		/// The RP's outputs differ from the mediator's consistent runs.
		WrongResults,
		/// The result was (or was not) in the directory.
		ResultNotFound,
		/// The RP claimed more usage than the job needs.
		TooMuchCost,
		/// The RP's status is false.
		InvalidResultStatus,
		/// All n runs match the RP's result: the rejection was unfounded.
		CorrectResults,
		/// The mediator's own runs differ: the job is not deterministic.
		NonDeterministic,
		/// A claim of directory failure, settled with the directory's uptime.
		DirectoryUnavailable,
	}
}

scale_type! {
	/// Who a verdict finds at fault.
	#[derive(Copy)]
	pub enum FaultyParty {
		/// The Job Creator.
		JobCreator,
		/// The Resource Provider.
		ResourceProvider,
		/// The Directory.
		Directory,
	}
}

scale_type! {
	/// A result as the Resource Provider posted it.
	pub struct PostedResult {
		/// How the job ended.
		pub status: ResultStatus,
		/// Where in the job's directory the result archive is.
		pub reference: Reference,
		/// Merkle root over the output files.
		pub hash: ContentHash,
		/// Instructions used (CPU milliseconds).
		pub instruction_count: u64,
		/// Bytes downloaded.
		pub bandwidth_used: u64,
	}
}

scale_type! {
	/// Where a match stands. Closed matches leave storage; their events remain.
	pub enum MatchState {
		/// Waiting for the RP's result until the job's completion deadline.
		Matched,
		/// Waiting for the JC to accept or reject until `reaction_deadline`.
		ResultPosted {
			/// The posted result.
			result: PostedResult,
			/// The JC may reject until then; after it the RP may accept.
			reaction_deadline: Moment,
		},
		/// Waiting for the mediator's verdict until `mediation_deadline`.
		InMediation {
			/// The disputed result.
			result: PostedResult,
			/// Why the JC rejected it.
			reason: RejectReason,
			/// After this anyone may close the match as a failed mediation.
			mediation_deadline: Moment,
		},
		/// A replica's commitment to its result, `blake2_256(SCALE(match id, status,
		/// root))`: it reveals the result with `post_result` once no other replica can
		/// still commit, so none can copy another's root.
		Committed {
			/// The commitment.
			commitment: ContentHash,
		},
		/// A replica's revealed result, held until every replica revealed or can no
		/// longer; then the results are compared.
		AwaitingReplicas {
			/// The posted result.
			result: PostedResult,
		},
	}
}

scale_type! {
	/// A mediator's prices, copied into a match so later changes cannot affect it.
	pub struct MediatorTerms<Balance> {
		/// Price per instruction of a mediation run.
		pub instruction_price: Balance,
		/// Price per byte of a mediation run.
		pub bandwidth_price: Balance,
		/// Availability price for standing by.
		pub availability_price: Balance,
	}
}

scale_type! {
	/// A job offer and a resource offer bound together with a mediator.
	pub struct Match<AccountId, Balance> {
		/// The matched job offer's id.
		pub job_offer_id: OfferId,
		/// The matched resource offer's id.
		pub resource_offer_id: OfferId,
		/// The Job Creator.
		pub job_creator: AccountId,
		/// The Resource Provider.
		pub resource_provider: AccountId,
		/// The mediator both sides trust.
		pub mediator: AccountId,
		/// The solver that posted the match.
		pub solver: AccountId,
		/// The job's terms.
		pub job: JobOfferTerms<AccountId, Balance>,
		/// The resource offer's terms.
		pub resource: ResourceOfferTerms<Balance>,
		/// The mediator's prices at match time.
		pub mediator_terms: MediatorTerms<Balance>,
		/// The directory's availability price at match time.
		pub directory_availability_price: Balance,
		/// n at match time: how many runs the mediator is paid for.
		pub verification_count: u32,
		/// θ at match time: the penalty rate this match's deposits were checked with.
		pub penalty_rate: FixedU128,
		/// How long (ms) the JC has to react to a posted result: the base reaction
		/// window plus the job's run time at the RP's speed, so it can verify it.
		pub reaction_window: Moment,
		/// How long (ms) the mediator has after a rejection: n runs of the job's
		/// instruction limit at the mediator's speed plus the mediation slack.
		pub mediation_window: Moment,
		/// After a deadline of this match passes and this much more time (ms), anyone
		/// may close it (timeout, or accept on the RP's behalf).
		pub settlement_grace: Moment,
		/// The most the directory's bond pays if the mediator finds it at fault: fixed
		/// here from the directory's availability price, θ and n; zero when the
		/// directory does not trust this match's mediator.
		pub directory_liability: Balance,
		/// What is left of the JC's deposit (held) after paying the match incentive.
		pub job_creator_deposit: Balance,
		/// What is left of the RP's deposit (held) after paying the match incentive.
		pub resource_provider_deposit: Balance,
		/// When the match was posted.
		pub matched_at: Moment,
		/// Where the match stands.
		pub state: MatchState,
	}
}

/// Most replicas of one job.
pub const MAX_REPLICAS: u32 = 5;
/// Most RPs a JC may exclude from a replicated job.
pub const MAX_EXCLUDED_PROVIDERS: u32 = 16;
/// A replica group is named by the id of its first job offer.
pub type ReplicaGroupId = OfferId;

scale_type! {
	/// One replica of a replicated job: an open offer, then its match.
	#[derive(Copy)]
	pub enum ReplicaMember {
		/// Not matched yet.
		Offer(OfferId),
		/// Matched.
		Match(MatchId),
	}
}

scale_type! {
	/// The same job offered k times, to be run by k distinct RPs whose results the chain
	/// compares (README, "Replicated jobs").
	pub struct ReplicaGroup<AccountId> {
		/// The Job Creator.
		pub job_creator: AccountId,
		/// The replicas still open or unsettled.
		pub members: BoundedVec<ReplicaMember, ConstU32<MAX_REPLICAS>>,
		/// Every RP that has been matched to a replica: none may take a second one.
		pub providers: BoundedVec<AccountId, ConstU32<MAX_REPLICAS>>,
		/// RPs the JC will not have run any replica.
		pub excluded: BoundedVec<AccountId, ConstU32<MAX_EXCLUDED_PROVIDERS>>,
		/// The mediator of the first match: every replica must share it, so one set of n
		/// runs rules on all of them.
		pub mediator: Option<AccountId>,
		/// The job's completion deadline: after it no replica can post or be matched.
		pub completion_deadline: Moment,
		/// The results differed and the group waits for its mediator's verdict.
		pub disputed: bool,
	}
}

scale_type! {
	/// A mediator's ruling on replicas that disagreed.
	pub enum ReplicaVerdict {
		/// The mediator's n runs agreed on this outcome: replicas that posted it are
		/// paid, the others are at fault.
		Deterministic {
			/// The status of the mediator's runs.
			status: ResultStatus,
			/// The Merkle root of their outputs.
			result_hash: ContentHash,
		},
		/// The mediator's own runs differ: the job is not deterministic and the JC is at
		/// fault in every replica.
		NonDeterministic,
	}
}

scale_type! {
	/// Who closed a match by accepting.
	#[derive(Copy)]
	pub enum Acceptor {
		/// The Job Creator accepted.
		JobCreator,
		/// The RP accepted after the reaction deadline passed in silence.
		ResourceProvider,
		/// Every replica of the job posted the same result.
		ReplicasAgreed,
		/// Replicas disagreed and the mediator's runs confirmed this one.
		MediatorConfirmed,
	}
}

scale_type! {
	/// How a match closed.
	#[derive(Copy)]
	pub enum CloseOutcome {
		/// The result was accepted.
		Accepted(Acceptor),
		/// The RP posted no result by the completion deadline.
		TimedOut,
		/// The mediator ruled.
		Mediated {
			/// Its ruling.
			verdict: Verdict,
			/// Who it found at fault.
			faulty: FaultyParty,
		},
		/// No verdict came before the mediation deadline.
		MediationFailed,
	}
}

scale_type! {
	/// Why money moved.
	#[derive(Copy)]
	pub enum PaymentReason {
		/// A solver's incentive for matching an offer.
		MatchIncentive,
		/// The job's price π_c, paid by the JC to the RP on a normal close.
		JobPayment,
		/// The JC's estimate π̂_c, paid from the RP's deposit when it never posted.
		TimeoutCompensation,
		/// π_d, paid by the faulty party to the wronged one after a verdict.
		Compensation,
		/// π_m, the mediator's price for its n runs.
		MediationFee,
		/// A share of the mediator's availability price.
		MediatorAvailability,
		/// A share of the directory's availability price.
		DirectoryAvailability,
		/// Half the JC's estimate, paid to the RP when mediation failed.
		MediationFailedPayment,
	}
}

scale_type! {
	/// Platform parameters (PROTOCOL.md "Deposits, payments and fines"). In genesis JSON
	/// θ is a decimal string such as `"50.0"` (a negative one is refused).
	#[derive(Serialize, Deserialize)]
	#[serde(rename_all = "camelCase", deny_unknown_fields)]
	pub struct MarketParameters<Balance> {
		/// θ: the penalty rate, as a multiple of the job's estimated value.
		pub penalty_rate: FixedU128,
		/// n: how many times a mediator re-runs a disputed job.
		pub verification_count: u32,
		/// Base time (ms) a JC has to accept or reject a posted result; each match adds
		/// the job's run time at its RP's speed.
		pub reaction_window: Moment,
		/// Slack (ms) a mediator has for its verdict beyond its n runs of the job (each
		/// match adds n × the job's instruction limit at the mediator's speed).
		pub mediation_window: Moment,
		/// Bond held for each role an account registers.
		pub registration_bond: Balance,
		/// No offer deposit may be below this, whatever eq. 2 gives.
		pub deposit_floor: Balance,
		/// Longest an offer may stay open (ms).
		pub max_offer_lifetime: Moment,
		/// Furthest (ms) a job's completion deadline may be from the time it is posted,
		/// and longest a match's mediation window may be: bounds how long a match can
		/// hold the slots of a mediator and a directory.
		pub max_completion_horizon: Moment,
		/// Time (ms) after a match's completion or reaction deadline after which anyone
		/// may close it as its parties could have.
		pub settlement_grace: Moment,
	}
}

/// The parameters' shape problems, each a distinct rule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ParameterError {
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
}

impl<Balance> MarketParameters<Balance> {
	/// Checks the rules every parameter set must follow. θ ≥ 0 holds by its type.
	pub fn validate(&self) -> Result<(), ParameterError> {
		if self.verification_count == 0 {
			return Err(ParameterError::ZeroVerificationCount);
		}
		if self.reaction_window == 0 {
			return Err(ParameterError::ZeroReactionWindow);
		}
		if self.mediation_window == 0 {
			return Err(ParameterError::ZeroMediationWindow);
		}
		if self.max_offer_lifetime == 0 {
			return Err(ParameterError::ZeroOfferLifetime);
		}
		if self.max_completion_horizon == 0 {
			return Err(ParameterError::ZeroCompletionHorizon);
		}
		Ok(())
	}
}

impl<Balance: Default> Default for MarketParameters<Balance> {
	/// The paper's recommended n = 2, θ = 50; ten minutes to react and half an hour of
	/// mediation slack (each plus the job's own run times), offers open for at most a
	/// day, deadlines at most a week ahead, an hour's grace before anyone may close a
	/// stalled match; no bond or floor (the runtime sets them).
	fn default() -> Self {
		Self {
			penalty_rate: FixedU128::from_u32(50),
			verification_count: 2,
			reaction_window: 10 * 60 * 1000,
			mediation_window: 30 * 60 * 1000,
			registration_bond: Balance::default(),
			deposit_floor: Balance::default(),
			max_offer_lifetime: 24 * 60 * 60 * 1000,
			max_completion_horizon: 7 * 24 * 60 * 60 * 1000,
			settlement_grace: 60 * 60 * 1000,
		}
	}
}

scale_type! {
	/// An amount rounded *up* to `mantissa · 10^exponent`, small enough to travel inside a
	/// dispatch error (whose payload is 3 bytes). Depositing it always suffices.
	#[derive(Copy, frame_support::PalletError)]
	pub struct ApproxAmount {
		/// Leading digits.
		pub mantissa: u16,
		/// Power of ten to scale `mantissa` by.
		pub exponent: u8,
	}
}

impl ApproxAmount {
	/// The smallest `mantissa · 10^exponent` (mantissa < 65536) not below `amount`.
	pub fn at_least(amount: u128) -> Self {
		let mut exponent = 0u8;
		let mut mantissa = amount;
		let mut dropped_remainder = false;
		while mantissa > u16::MAX as u128 {
			dropped_remainder |= !mantissa.is_multiple_of(10);
			mantissa /= 10;
			exponent = exponent.saturating_add(1);
		}
		if dropped_remainder {
			mantissa = mantissa.saturating_add(1);
			if mantissa > u16::MAX as u128 {
				mantissa /= 10;
				mantissa = mantissa.saturating_add(1);
				exponent = exponent.saturating_add(1);
			}
		}
		// The loop ends with mantissa ≤ u16::MAX, so the conversion cannot fail.
		Self { mantissa: u16::try_from(mantissa).unwrap_or(u16::MAX), exponent }
	}

	/// The amount it stands for, saturating at `u128::MAX`.
	pub fn value(&self) -> u128 {
		(self.mantissa as u128).saturating_mul(10u128.saturating_pow(self.exponent as u32))
	}
}

scale_type! {
	/// What the chain saw of an account in one role: how its matches ended, counted
	/// only where the chain itself decided (a close, a verdict, a deadline), never from
	/// what a party claims. Counters saturate. Fields that do not apply to a role stay 0.
	#[derive(Copy, Default)]
	pub struct Reputation {
		/// JC and RP: matches closed with a completed result accepted (by the JC, the
		/// replicas' agreement, or after the reaction window), or confirmed by a
		/// `CorrectResults` verdict (RP).
		pub accepted: u32,
		/// RP: results it posted as `Declined` (free for the JC).
		pub declined: u32,
		/// JC: its rejections that the mediator upheld (the RP was found at fault).
		pub rejections_upheld: u32,
		/// Verdicts that found it at fault (JC, RP or directory); each was fined.
		pub fined: u32,
		/// RP: matches it posted no result for by the completion deadline.
		pub timed_out: u32,
		/// Mediator: verdicts it posted before the mediation deadline.
		pub mediations_ruled: u32,
		/// Mediator: mediations it let lapse without a verdict.
		pub mediations_missed: u32,
	}
}

scale_type! {
	/// The least record an offer asks of its counterparty (README, "Reputation"): of the
	/// RP that may run a job offer, or of the JC a resource offer may run for.
	#[derive(Copy)]
	pub struct RecordRequirement {
		/// At least this many accepted jobs.
		pub min_accepted: u32,
		/// At most this share of its counted endings at its fault, in parts per million
		/// (1,000,000: any share).
		pub max_fault_ppm: u32,
	}
}

/// Parts per million in a whole.
pub const PPM: u32 = 1_000_000;

impl Reputation {
	/// Its endings at its own fault in `role`, and all its endings counted there. An RP
	/// is at fault when fined or timed out; a JC when fined; a mediator when it missed
	/// a mediation; a directory when fined.
	pub fn faults_in(&self, role: Role) -> (u64, u64) {
		let [accepted, declined, upheld, fined, timed_out, ruled, missed] = [
			self.accepted,
			self.declined,
			self.rejections_upheld,
			self.fined,
			self.timed_out,
			self.mediations_ruled,
			self.mediations_missed,
		]
		.map(u64::from);
		match role {
			Role::ResourceProvider => (fined + timed_out, accepted + declined + fined + timed_out),
			Role::JobCreator => (fined, accepted + upheld + fined),
			Role::Mediator => (missed, ruled + missed),
			Role::Directory => (fined, fined),
		}
	}

	/// Whether it has at least `requirement.min_accepted` accepted jobs.
	pub fn has_accepted(&self, requirement: &RecordRequirement) -> bool {
		self.accepted >= requirement.min_accepted
	}

	/// Whether its share of faults in `role` is within `requirement.max_fault_ppm`
	/// (an empty record has none).
	pub fn faults_within(&self, role: Role, requirement: &RecordRequirement) -> bool {
		let (faults, endings) = self.faults_in(role);
		u128::from(faults) * u128::from(PPM)
			<= u128::from(requirement.max_fault_ppm) * u128::from(endings)
	}
}
