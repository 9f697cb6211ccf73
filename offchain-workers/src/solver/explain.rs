//! Why a job offer cannot be matched with a resource offer, in words with both sides'
//! values ("rule 2: RP memory cap 256 MiB < job RAM 512 MiB"): for `modicum jc
//! explain`, `modicum jc submit --dry-run` and the solver's debug log.

use super::{
	feasibility::{self, finish_time_ms, Infeasible, Pair},
	pair_cost, stakes, AccountId, Book, DirectoryView, JobCreatorView, JobOfferView, MediatorView,
	RecordRule, RecordView,
};
use modicum_client::units::{format_amount, format_bytes, format_moment_at};

/// What one resource offer means for a job.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OfferVerdict {
	/// The resource offer.
	pub resource_offer: u64,
	/// Its provider.
	pub provider: AccountId,
	/// The first rule that rules the pair out, or `None` if it fits.
	pub refusal: Option<Refusal>,
	/// Where it fits: the mediator the solver would pick (the cheapest feasible one,
	/// ties to the smallest account) and the match's cost.
	pub fit: Option<Fit>,
}

/// Why a pair cannot be matched.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
	/// The spec's rule number, if the check is one of the numbered rules (1 to 13).
	pub rule: Option<u8>,
	/// The check, as the chain's error names it.
	pub check: String,
	/// The check with both sides' values.
	pub explanation: String,
}

/// A feasible pair.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fit {
	/// The mediator the solver would pick.
	pub mediator: AccountId,
	/// The resource offer's prices at the job's limits plus the mediator's
	/// availability price ([`pair_cost`]).
	pub cost: u128,
}

/// For each open resource offer in `book`, whether `job` (by `job_creator`, stored in
/// `directory`) could be matched with it at `now_ms`, and with which mediator; where
/// no mediator makes it fit, the refusal of the mediator that passed the most checks.
pub fn explain_job(
	book: &Book,
	job: &JobOfferView,
	job_creator: &JobCreatorView,
	directory: &DirectoryView,
	now_ms: u64,
) -> Vec<OfferVerdict> {
	let mut verdicts = Vec::new();
	for resource in book.resource_offers() {
		let verdict = |refusal: Option<Refusal>, fit: Option<Fit>| OfferVerdict {
			resource_offer: resource.id,
			provider: resource.owner,
			refusal,
			fit,
		};
		let Some(provider) = book.provider(&resource.owner) else {
			verdicts.push(verdict(Some(refusal(Infeasible::UnknownProvider, String::new())), None));
			continue;
		};
		let pair = Pair { job, resource, provider, job_creator, directory };
		let mut best: Option<(usize, Refusal)> = None;
		let mut fit: Option<Fit> = None;
		for (mediator_id, mediator) in book.mediators() {
			match feasibility::check(&pair, mediator_id, mediator, book.rules(), now_ms) {
				Ok(()) => {
					let cost = pair_cost(job, resource, mediator.availability_price);
					let better =
						fit.as_ref().is_none_or(|f| (cost, *mediator_id) < (f.cost, f.mediator));
					if better {
						fit = Some(Fit { mediator: *mediator_id, cost });
					}
				},
				Err(reason) => {
					let progress = check_order(reason);
					if best.as_ref().is_none_or(|(p, _)| progress > *p) {
						let words = describe(reason, &pair, mediator_id, mediator, book, now_ms);
						best = Some((progress, refusal(reason, words)));
					}
				},
			}
		}
		if fit.is_some() {
			verdicts.push(verdict(None, fit));
		} else {
			let refusal = best.map(|(_, r)| r).unwrap_or_else(|| {
				refusal(Infeasible::UnknownMediator, "no mediator is registered".into())
			});
			verdicts.push(verdict(Some(refusal), None));
		}
	}
	verdicts
}

fn refusal(reason: Infeasible, explanation: String) -> Refusal {
	let explanation = if explanation.is_empty() { reason.to_string() } else { explanation };
	Refusal { rule: reason.rule(), check: format!("{reason:?}"), explanation }
}

/// How far [`feasibility::check`] got before `reason`: later means closer to a match.
fn check_order(reason: Infeasible) -> usize {
	use Infeasible::*;
	const ORDER: [Infeasible; 31] = [
		JobOfferExpired,
		ResourceOfferExpired,
		InstructionCapTooLow,
		MemoryCapTooLow,
		LocalStorageCapTooLow,
		BandwidthCapTooLow,
		InstructionPriceTooHigh,
		BandwidthPriceTooHigh,
		ArchitectureMismatch,
		DirectoryNotTrustedByProvider,
		MediatorNotTrustedByJobCreator,
		MediatorNotTrustedByProvider,
		MediatorArchitectureMismatch,
		DirectoryNotTrustedByMediator,
		MediatorTooSlow,
		BaseLayerNotSupportedByProvider,
		BaseLayerNotSupportedByMediator,
		DeadlineUnreachable,
		ProviderRecordTooShort,
		ProviderFaultRateTooHigh,
		JobCreatorRecordTooShort,
		JobCreatorFaultRateTooHigh,
		ReplicaProviderExcluded,
		ReplicaProviderRepeated,
		ReplicaMediatorMismatch,
		StakesOverflow,
		JobDepositTooLowForMatch,
		ResourceDepositTooLowForMatch,
		UnknownMediator,
		UnknownProvider,
		UnknownDirectory,
	];
	ORDER.iter().position(|r| *r == reason).unwrap_or(0)
}

/// `reason` for this pair and mediator, with both sides' values.
pub fn describe(
	reason: Infeasible,
	pair: &Pair<'_>,
	mediator_id: &AccountId,
	mediator: &MediatorView,
	book: &Book,
	now_ms: u64,
) -> String {
	use Infeasible::*;
	let Pair { job, resource, provider, .. } = *pair;
	let account = |id: &AccountId| modicum_client::AccountId(*id).to_string();
	let rule = reason.rule().map_or_else(String::new, |r| format!("rule {r}: "));
	let values = match reason {
		JobOfferExpired => {
			format!("the job offer expired {}", format_moment_at(job.expires_at, now_ms))
		},
		ResourceOfferExpired => {
			format!("the resource offer expired {}", format_moment_at(resource.expires_at, now_ms))
		},
		InstructionCapTooLow => format!(
			"RP instruction cap {} CPU ms < job instruction limit {} CPU ms",
			resource.instruction_cap, job.instruction_limit
		),
		MemoryCapTooLow => format!(
			"RP memory cap {} < job RAM {}",
			format_bytes(resource.memory_cap),
			format_bytes(job.ram_limit)
		),
		LocalStorageCapTooLow => format!(
			"RP storage cap {} < job storage {}",
			format_bytes(resource.local_storage_cap),
			format_bytes(job.local_storage_limit)
		),
		BandwidthCapTooLow => format!(
			"RP bandwidth cap {} < job bandwidth {}",
			format_bytes(resource.bandwidth_cap),
			format_bytes(job.bandwidth_limit)
		),
		InstructionPriceTooHigh => format!(
			"RP price {} per CPU ms > job's maximum {}",
			format_amount(resource.instruction_price),
			format_amount(job.instruction_max_price)
		),
		BandwidthPriceTooHigh => format!(
			"RP price {} per byte > job's maximum {}",
			format_amount(resource.bandwidth_price),
			format_amount(job.bandwidth_max_price)
		),
		ArchitectureMismatch => {
			format!("job is {:?}, RP is {:?}", job.arch, provider.arch).to_lowercase()
		},
		DirectoryNotTrustedByProvider => {
			format!("RP does not trust the job's directory {}", account(&job.directory))
		},
		MediatorNotTrustedByJobCreator => {
			format!("the job creator does not trust mediator {}", account(mediator_id))
		},
		MediatorNotTrustedByProvider => {
			format!("RP does not trust mediator {}", account(mediator_id))
		},
		MediatorArchitectureMismatch => format!(
			"mediator {} is {}, RP is {}",
			account(mediator_id),
			format!("{:?}", mediator.arch).to_lowercase(),
			format!("{:?}", provider.arch).to_lowercase()
		),
		DirectoryNotTrustedByMediator => format!(
			"mediator {} does not trust the job's directory {}",
			account(mediator_id),
			account(&job.directory)
		),
		MediatorTooSlow => format!(
			"mediator {} at {} ns per CPU ms cannot re-run {} CPU ms {} times within the horizon of {} ms",
			account(mediator_id),
			mediator.time_per_instruction_ns,
			job.instruction_limit,
			book.rules().verification_count,
			book.rules().max_completion_horizon_ms
		),
		BaseLayerNotSupportedByProvider => {
			format!(
				"RP does not declare the job's base layer 0x{}",
				hex::encode(job.first_layer_hash)
			)
		},
		BaseLayerNotSupportedByMediator => format!(
			"mediator {} does not declare the job's base layer 0x{}",
			account(mediator_id),
			hex::encode(job.first_layer_hash)
		),
		DeadlineUnreachable => {
			let finish =
				finish_time_ms(now_ms, provider.time_per_instruction_ns, job.instruction_limit);
			let finish = u64::try_from(finish).unwrap_or(u64::MAX);
			format!(
				"RP at {} ns per CPU ms would finish {} CPU ms {}, after the deadline {}",
				provider.time_per_instruction_ns,
				job.instruction_limit,
				format_moment_at(finish, now_ms),
				format_moment_at(job.completion_deadline, now_ms)
			)
		},
		ProviderRecordTooShort | ProviderFaultRateTooHigh => {
			let rule =
				job.provider_record.unwrap_or(RecordRule { min_accepted: 0, max_fault_ppm: 0 });
			describe_record("RP", &provider.record, &rule)
		},
		JobCreatorRecordTooShort | JobCreatorFaultRateTooHigh => {
			let rule =
				resource.creator_record.unwrap_or(RecordRule { min_accepted: 0, max_fault_ppm: 0 });
			describe_record("job creator", &pair.job_creator.record, &rule)
		},
		JobDepositTooLowForMatch | ResourceDepositTooLowForMatch => {
			let terms =
				stakes::MatchTerms::of(job, resource, mediator, pair.directory.availability_price);
			match stakes::match_minimums(book.rules(), &terms) {
				Some((job_needs, _)) if reason == JobDepositTooLowForMatch => format!(
					"job deposit {} < {} a match with mediator {} needs",
					format_amount(job.deposit),
					format_amount(job_needs),
					account(mediator_id)
				),
				Some((_, resource_needs)) => format!(
					"RP deposit {} < {} a match with this job and mediator {} needs",
					format_amount(resource.deposit),
					format_amount(resource_needs),
					account(mediator_id)
				),
				None => StakesOverflow.to_string(),
			}
		},
		other => other.to_string(),
	};
	format!("{rule}{values}")
}

/// A record beside what an offer requires of it, e.g. `RP has 3 accepted jobs and 1
/// fault in 4 endings (25.0%); the offer asks at least 5 and at most 10.0%`.
fn describe_record(who: &str, record: &RecordView, rule: &RecordRule) -> String {
	let share = |faults: u64, endings: u64| {
		if endings == 0 {
			0.0
		} else {
			faults as f64 * 100.0 / endings as f64
		}
	};
	format!(
		"{who} has {} accepted job(s) and {} fault(s) in {} ending(s) ({:.1}%); the offer asks at least {} and at most {:.1}%",
		record.accepted,
		record.faults,
		record.endings,
		share(record.faults, record.endings),
		rule.min_accepted,
		f64::from(rule.max_fault_ppm) / 10_000.0
	)
}

#[cfg(test)]
mod tests;
