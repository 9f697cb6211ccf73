//! The chain's feasibility rules (PROTOCOL.md, "Feasibility"), checked in the same
//! order and with the same arithmetic as the pallet's `do_post_match` and
//! `check_feasibility`, so a proposal the solver deems feasible is one the chain
//! accepts, and a rejected pair names the rule the chain would have named.

use super::{
	stakes::{self, MatchRules},
	AccountId, DirectoryView, JobCreatorView, JobOfferView, MediatorView, ProviderView, RecordRule,
	RecordView, ResourceOfferView,
};

/// Nanoseconds per millisecond: the chain keeps time in ms, a provider's speed in ns
/// per instruction.
pub(crate) const NANOS_PER_MILLI: u128 = 1_000_000;

/// Why a (job offer, resource offer, mediator) triple cannot be matched. One variant
/// per check; rules 9 and 10 have several parts, each with its own variant, as on
/// chain. [`Infeasible::rule`] gives the spec's rule number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Infeasible {
	/// Rule 12: the job offer is not open (never posted, cancelled or matched).
	#[error("rule 12: the job offer is not open")]
	JobOfferNotOpen,
	/// Rule 12: the resource offer is not open (never posted, cancelled or matched).
	#[error("rule 12: the resource offer is not open")]
	ResourceOfferNotOpen,
	/// The job offer expired (`now > expires_at`).
	#[error("the job offer has expired")]
	JobOfferExpired,
	/// The resource offer expired (`now > expires_at`).
	#[error("the resource offer has expired")]
	ResourceOfferExpired,
	/// The resource offer's owner is not a known provider.
	#[error("the resource offer's provider is unknown")]
	UnknownProvider,
	/// The mediator is not a known mediator.
	#[error("the mediator is unknown")]
	UnknownMediator,
	/// The job offer's owner is not a known job creator.
	#[error("the job offer's creator is unknown")]
	UnknownJobCreator,
	/// The job offer's directory is not a registered directory.
	#[error("the job's directory is not registered")]
	UnknownDirectory,
	/// Rule 1: `RO.instructionCap < JO.instructionLimit`.
	#[error("rule 1: instruction cap below the job's instruction limit")]
	InstructionCapTooLow,
	/// Rule 2: `RO.memoryCap < JO.ramLimit`.
	#[error("rule 2: memory cap below the job's RAM limit")]
	MemoryCapTooLow,
	/// Rule 3: `RO.localStorageCap < JO.localStorageLimit`.
	#[error("rule 3: local storage cap below the job's storage limit")]
	LocalStorageCapTooLow,
	/// Rule 4: `RO.bandwidthCap < JO.bandwidthLimit`.
	#[error("rule 4: bandwidth cap below the job's bandwidth limit")]
	BandwidthCapTooLow,
	/// Rule 5: `RO.instructionPrice > JO.instructionMaxPrice`.
	#[error("rule 5: instruction price above the job's maximum")]
	InstructionPriceTooHigh,
	/// Rule 6: `RO.bandwidthPrice > JO.bandwidthMaxPrice`.
	#[error("rule 6: bandwidth price above the job's maximum")]
	BandwidthPriceTooHigh,
	/// Rule 7: `JO.arch ≠ RP.arch`.
	#[error("rule 7: the job's architecture is not the provider's")]
	ArchitectureMismatch,
	/// Rule 8: `JO.directory ∉ RP.trustedDirectories`.
	#[error("rule 8: the provider does not trust the job's directory")]
	DirectoryNotTrustedByProvider,
	/// Rule 9: the job creator does not trust the mediator.
	#[error("rule 9: the job creator does not trust the mediator")]
	MediatorNotTrustedByJobCreator,
	/// Rule 9: the provider does not trust the mediator.
	#[error("rule 9: the provider does not trust the mediator")]
	MediatorNotTrustedByProvider,
	/// Rule 9: `M.arch ≠ RP.arch`.
	#[error("rule 9: the mediator's architecture is not the provider's")]
	MediatorArchitectureMismatch,
	/// Rule 9: `JO.directory ∉ M.trustedDirectories`.
	#[error("rule 9: the mediator does not trust the job's directory")]
	DirectoryNotTrustedByMediator,
	/// Rule 9: n re-runs by this mediator would not fit the market's horizon.
	#[error("rule 9: the mediator cannot re-run the job n times within the horizon")]
	MediatorTooSlow,
	/// Rule 10: the provider does not support `JO.firstLayerHash`.
	#[error("rule 10: the provider does not support the job's base layer")]
	BaseLayerNotSupportedByProvider,
	/// Rule 10: the mediator does not support `JO.firstLayerHash`.
	#[error("rule 10: the mediator does not support the job's base layer")]
	BaseLayerNotSupportedByMediator,
	/// Rule 11: the provider cannot finish before the completion deadline.
	#[error("rule 11: the provider cannot finish before the completion deadline")]
	DeadlineUnreachable,
	/// The job offer's deposit cannot cover what this match could take from it.
	#[error("the job's deposit cannot cover this match's stakes")]
	JobDepositTooLowForMatch,
	/// The resource offer's deposit cannot cover what this match could take from it
	/// (a timeout owes the job's whole estimate).
	#[error("the resource offer's deposit cannot cover this match's stakes")]
	ResourceDepositTooLowForMatch,
	/// The match's stakes overflow the chain's arithmetic (absurd prices).
	#[error("the match's stakes overflow")]
	StakesOverflow,
	/// The JC excluded this RP from its replicated job.
	#[error("the job creator excluded this provider from the job's replicas")]
	ReplicaProviderExcluded,
	/// The RP already runs a replica of this job.
	#[error("the provider already runs a replica of this job")]
	ReplicaProviderRepeated,
	/// The job's other replicas use another mediator.
	#[error("the job's other replicas use another mediator")]
	ReplicaMediatorMismatch,
	/// Rule 13: the provider has fewer accepted jobs than the job offer requires.
	#[error("rule 13: the provider has fewer accepted jobs than the job requires")]
	ProviderRecordTooShort,
	/// Rule 13: the provider's share of faults is above what the job offer allows.
	#[error("rule 13: the provider's share of faults is above what the job allows")]
	ProviderFaultRateTooHigh,
	/// Rule 13: the job creator has fewer accepted jobs than the resource offer
	/// requires.
	#[error("rule 13: the job creator has fewer accepted jobs than the offer requires")]
	JobCreatorRecordTooShort,
	/// Rule 13: the job creator's share of faults is above what the resource offer
	/// allows.
	#[error("rule 13: the job creator's share of faults is above what the offer allows")]
	JobCreatorFaultRateTooHigh,
}

impl Infeasible {
	/// The spec's rule number (1 to 12, and 13 on reputation), or `None` for checks outside the numbered
	/// rules (expiry, unknown accounts, the mediator's price).
	pub fn rule(self) -> Option<u8> {
		use Infeasible::*;
		match self {
			InstructionCapTooLow => Some(1),
			MemoryCapTooLow => Some(2),
			LocalStorageCapTooLow => Some(3),
			BandwidthCapTooLow => Some(4),
			InstructionPriceTooHigh => Some(5),
			BandwidthPriceTooHigh => Some(6),
			ArchitectureMismatch => Some(7),
			DirectoryNotTrustedByProvider => Some(8),
			MediatorNotTrustedByJobCreator
			| MediatorNotTrustedByProvider
			| MediatorArchitectureMismatch
			| DirectoryNotTrustedByMediator
			| MediatorTooSlow => Some(9),
			BaseLayerNotSupportedByProvider | BaseLayerNotSupportedByMediator => Some(10),
			DeadlineUnreachable => Some(11),
			ProviderRecordTooShort
			| ProviderFaultRateTooHigh
			| JobCreatorRecordTooShort
			| JobCreatorFaultRateTooHigh => Some(13),
			JobOfferNotOpen | ResourceOfferNotOpen => Some(12),
			JobOfferExpired
			| ResourceOfferExpired
			| UnknownProvider
			| UnknownMediator
			| UnknownJobCreator
			| UnknownDirectory
			| JobDepositTooLowForMatch
			| ResourceDepositTooLowForMatch
			| StakesOverflow
			| ReplicaProviderExcluded
			| ReplicaProviderRepeated
			| ReplicaMediatorMismatch => None,
		}
	}
}

/// Rule 13, as the chain checks it after rule 11: the provider's record against the
/// job offer's requirement, then the job creator's against the resource offer's.
pub(crate) fn records_meet(
	(provider_rule, provider): (Option<&RecordRule>, &RecordView),
	(creator_rule, creator): (Option<&RecordRule>, &RecordView),
) -> Result<(), Infeasible> {
	use Infeasible::*;
	if let Some(rule) = provider_rule {
		if !provider.has_accepted(rule) {
			return Err(ProviderRecordTooShort);
		}
		if !provider.faults_within(rule) {
			return Err(ProviderFaultRateTooHigh);
		}
	}
	if let Some(rule) = creator_rule {
		if !creator.has_accepted(rule) {
			return Err(JobCreatorRecordTooShort);
		}
		if !creator.faults_within(rule) {
			return Err(JobCreatorFaultRateTooHigh);
		}
	}
	Ok(())
}

/// Whether an offer expiring at `expires_at` is past matching at `now_ms`: the chain
/// still matches at `now == expires_at` and clears only when `now > expires_at`.
pub fn is_expired(expires_at: u64, now_ms: u64) -> bool {
	now_ms > expires_at
}

/// When (ms) a provider taking `time_per_instruction_ns` per instruction, starting at
/// `now_ms`, finishes `instruction_limit` instructions, exactly as the chain computes
/// it for rule 11: the run time is rounded *up* to whole milliseconds
/// (`div_ceil(1_000_000)`), in u128 so nothing overflows (the product of two u64 fits).
pub fn finish_time_ms(now_ms: u64, time_per_instruction_ns: u64, instruction_limit: u64) -> u128 {
	let run_time_ns =
		u128::from(time_per_instruction_ns).saturating_mul(u128::from(instruction_limit));
	u128::from(now_ms).saturating_add(run_time_ns.div_ceil(NANOS_PER_MILLI))
}

/// A (job offer, resource offer) pair with the accounts it names, as the book knows
/// them: the provider (`resource.owner`), the job creator (`job.owner`) and the job's
/// directory.
#[derive(Clone, Copy, Debug)]
pub struct Pair<'a> {
	/// The job offer.
	pub job: &'a JobOfferView,
	/// The resource offer.
	pub resource: &'a ResourceOfferView,
	/// Its provider.
	pub provider: &'a ProviderView,
	/// The job's creator.
	pub job_creator: &'a JobCreatorView,
	/// The job's directory.
	pub directory: &'a DirectoryView,
}

/// Whether both deposits cover what a match of the pair with this mediator can take
/// from them (the chain's `JobDepositTooLowForMatch`, `ResourceDepositTooLowForMatch`).
pub fn deposits_cover(
	pair: &Pair<'_>,
	mediator: &MediatorView,
	rules: &MatchRules,
) -> Result<(), Infeasible> {
	let terms = stakes::MatchTerms::of(
		pair.job,
		pair.resource,
		mediator,
		pair.directory.availability_price,
	);
	covered(rules, &terms, pair.job.deposit, pair.resource.deposit)
}

/// Whether deposits of these sizes cover the stakes of a match on `terms`.
pub(crate) fn covered(
	rules: &MatchRules,
	terms: &stakes::MatchTerms,
	job_deposit: u128,
	resource_deposit: u128,
) -> Result<(), Infeasible> {
	let (job_creator, resource_provider) =
		stakes::match_minimums(rules, terms).ok_or(Infeasible::StakesOverflow)?;
	if job_deposit < job_creator {
		return Err(Infeasible::JobDepositTooLowForMatch);
	}
	if resource_deposit < resource_provider {
		return Err(Infeasible::ResourceDepositTooLowForMatch);
	}
	Ok(())
}

/// Rules 1 to 8 and the provider's half of rule 10: what a pair needs of its two
/// offers and of the provider alone. A pair failing them is infeasible whatever the
/// mediator, the job creator or the time.
pub(crate) fn could_pair(
	job: &JobOfferView,
	resource: &ResourceOfferView,
	provider: &ProviderView,
) -> bool {
	resource.instruction_cap >= job.instruction_limit
		&& resource.memory_cap >= job.ram_limit
		&& resource.local_storage_cap >= job.local_storage_limit
		&& resource.bandwidth_cap >= job.bandwidth_limit
		&& resource.instruction_price <= job.instruction_max_price
		&& resource.bandwidth_price <= job.bandwidth_max_price
		&& job.arch == provider.arch
		&& provider.trusted_directories.contains(&job.directory)
		&& provider.base_layers.contains(&job.first_layer_hash)
}

/// Checks whether the pair can be matched at `now_ms` with mediator `mediator_id`.
/// Checks run in the chain's order and the first failure is returned: expiry, rules 1
/// to 11 (with the mediator's speed in rule 9), then whether both deposits cover the
/// match's stakes. Rule 12 (offers still open) and unknown accounts are the book's
/// business: see [`super::Book::check_pair`].
pub fn check(
	pair: &Pair<'_>,
	mediator_id: &AccountId,
	mediator: &MediatorView,
	rules: &MatchRules,
	now_ms: u64,
) -> Result<(), Infeasible> {
	use Infeasible::*;
	let Pair { job, resource, provider, job_creator, .. } = *pair;
	let ensure = |ok: bool, err: Infeasible| if ok { Ok(()) } else { Err(err) };
	ensure(!is_expired(job.expires_at, now_ms), JobOfferExpired)?;
	ensure(!is_expired(resource.expires_at, now_ms), ResourceOfferExpired)?;
	ensure(resource.instruction_cap >= job.instruction_limit, InstructionCapTooLow)?;
	ensure(resource.memory_cap >= job.ram_limit, MemoryCapTooLow)?;
	ensure(resource.local_storage_cap >= job.local_storage_limit, LocalStorageCapTooLow)?;
	ensure(resource.bandwidth_cap >= job.bandwidth_limit, BandwidthCapTooLow)?;
	ensure(resource.instruction_price <= job.instruction_max_price, InstructionPriceTooHigh)?;
	ensure(resource.bandwidth_price <= job.bandwidth_max_price, BandwidthPriceTooHigh)?;
	ensure(job.arch == provider.arch, ArchitectureMismatch)?;
	ensure(provider.trusted_directories.contains(&job.directory), DirectoryNotTrustedByProvider)?;
	ensure(job_creator.trusted_mediators.contains(mediator_id), MediatorNotTrustedByJobCreator)?;
	ensure(provider.trusted_mediators.contains(mediator_id), MediatorNotTrustedByProvider)?;
	ensure(mediator.arch == provider.arch, MediatorArchitectureMismatch)?;
	ensure(mediator.trusted_directories.contains(&job.directory), DirectoryNotTrustedByMediator)?;
	ensure(
		stakes::mediator_fast_enough(
			rules,
			mediator.time_per_instruction_ns,
			job.instruction_limit,
		),
		MediatorTooSlow,
	)?;
	ensure(provider.base_layers.contains(&job.first_layer_hash), BaseLayerNotSupportedByProvider)?;
	ensure(mediator.base_layers.contains(&job.first_layer_hash), BaseLayerNotSupportedByMediator)?;
	let finish = finish_time_ms(now_ms, provider.time_per_instruction_ns, job.instruction_limit);
	ensure(finish <= u128::from(job.completion_deadline), DeadlineUnreachable)?;
	records_meet(
		(job.provider_record.as_ref(), &provider.record),
		(resource.creator_record.as_ref(), &job_creator.record),
	)?;
	if let Some(replica) = &job.replica {
		ensure(!replica.excluded.contains(&resource.owner), ReplicaProviderExcluded)?;
		ensure(!replica.providers.contains(&resource.owner), ReplicaProviderRepeated)?;
		ensure(
			replica.mediator.as_ref().is_none_or(|chosen| chosen == mediator_id),
			ReplicaMediatorMismatch,
		)?;
	}
	deposits_cover(pair, mediator, rules)
}
