use super::*;
use modicum_client::reference;

const ROOT: [u8; 32] = [1; 32];
const OTHER: [u8; 32] = [2; 32];
const STATUSES: [ResultStatus; 10] = [
	ResultStatus::Completed,
	ResultStatus::Declined,
	ResultStatus::JobDescriptionError,
	ResultStatus::JobNotFound,
	ResultStatus::MemoryExceeded,
	ResultStatus::StorageExceeded,
	ResultStatus::InstructionsExceeded,
	ResultStatus::BandwidthExceeded,
	ResultStatus::ExceptionOccurred,
	ResultStatus::DirectoryUnavailable,
];
const REASONS: [RejectReason; 5] = [
	RejectReason::WrongResults,
	RejectReason::ResultNotFound,
	RejectReason::TooMuchCost,
	RejectReason::InvalidResultStatus,
	RejectReason::DirectoryUnavailable,
];

fn posted(status: ResultStatus, hash: [u8; 32], instructions: u64, bandwidth: u64) -> PostedResult {
	PostedResult {
		status,
		reference: reference("results/x@sha256:00").unwrap(),
		hash,
		instruction_count: instructions,
		bandwidth_used: bandwidth,
	}
}

fn honest(status: ResultStatus) -> PostedResult {
	if ran_nothing(status) {
		posted(status, ROOT, 0, 0)
	} else {
		posted(status, ROOT, 100, 1_000)
	}
}

fn run(status: ResultStatus, root: [u8; 32], instructions: u64) -> Rerun {
	Rerun { status, root, instruction_count: instructions, bandwidth_used: 1_000 }
}

/// The evidence an honest mediator finds when the RP told the truth.
fn truthful(posted: &PostedResult, reason: RejectReason) -> Evidence {
	match question(posted, reason) {
		// An honest RP that reports the directory down saw it down.
		Question::DirectoryUptime { claimant } => {
			Evidence::DirectoryUp(claimant != FaultyParty::ResourceProvider)
		},
		Question::ResultInDirectory => Evidence::ResultFound(true),
		Question::Nothing => Evidence::None,
		Question::Reruns => Evidence::Reruns(vec![run(posted.status, posted.hash, 100); 2]),
	}
}

/// The pallet's own acceptance rules (settlement.rs `verdict_answers` and
/// `verdict_fits`), restated, so every ruling here is one the chain takes.
fn chain_accepts(
	verdict: Verdict,
	faulty: FaultyParty,
	reason: RejectReason,
	status: ResultStatus,
) -> bool {
	let claimant = directory_claimant(reason, status);
	let answers = match (claimant, reason) {
		(Some(_), _) => verdict == Verdict::DirectoryUnavailable,
		(None, RejectReason::ResultNotFound) => verdict == Verdict::ResultNotFound,
		(None, RejectReason::DirectoryUnavailable) => false,
		(None, _) => !matches!(verdict, Verdict::ResultNotFound | Verdict::DirectoryUnavailable),
	};
	let fits = match verdict {
		Verdict::CorrectResults | Verdict::NonDeterministic => faulty == FaultyParty::JobCreator,
		Verdict::WrongResults | Verdict::TooMuchCost | Verdict::InvalidResultStatus => {
			faulty == FaultyParty::ResourceProvider
		},
		Verdict::ResultNotFound => faulty != FaultyParty::Directory,
		Verdict::DirectoryUnavailable => {
			claimant.is_some_and(|c| faulty == c || faulty == FaultyParty::Directory)
		},
	};
	answers && fits
}

#[test]
fn an_honest_rp_is_never_at_fault_for_any_status_and_reason() {
	for status in STATUSES {
		for reason in REASONS {
			let posted = honest(status);
			let evidence = truthful(&posted, reason);
			let (verdict, faulty) = rule(&posted, reason, &evidence, 0.5).unwrap();
			assert_ne!(
				faulty,
				FaultyParty::ResourceProvider,
				"{status:?} × {reason:?}: {verdict:?}"
			);
			assert!(chain_accepts(verdict, faulty, reason, status), "{status:?} × {reason:?}");
		}
	}
}

#[test]
fn every_ruling_for_every_status_reason_and_evidence_is_one_the_chain_takes() {
	let reruns = [
		vec![run(ResultStatus::Completed, ROOT, 100); 2],
		vec![run(ResultStatus::Completed, ROOT, 100), run(ResultStatus::Completed, OTHER, 100)],
		vec![run(ResultStatus::ExceptionOccurred, ROOT, 100); 2],
		vec![run(ResultStatus::Completed, OTHER, 100); 2],
		vec![run(ResultStatus::Completed, ROOT, 1); 2],
	];
	for status in STATUSES {
		for reason in REASONS {
			for claim in [posted(status, ROOT, 100, 1_000), posted(status, ROOT, 0, 0)] {
				let evidence: Vec<Evidence> = match question(&claim, reason) {
					Question::DirectoryUptime { .. } => {
						vec![Evidence::DirectoryUp(true), Evidence::DirectoryUp(false)]
					},
					Question::ResultInDirectory => {
						vec![Evidence::ResultFound(true), Evidence::ResultFound(false)]
					},
					Question::Nothing => vec![Evidence::None],
					Question::Reruns => reruns.iter().cloned().map(Evidence::Reruns).collect(),
				};
				for evidence in evidence {
					let (verdict, faulty) = rule(&claim, reason, &evidence, 0.5).unwrap();
					assert!(
						chain_accepts(verdict, faulty, reason, status),
						"{status:?} × {reason:?} × {evidence:?} → {verdict:?} {faulty:?}"
					);
				}
			}
		}
	}
}

#[test]
fn reruns_decide_by_consistency_status_root_then_usage() {
	let claim = posted(ResultStatus::Completed, ROOT, 100, 1_000);
	let reason = RejectReason::WrongResults;
	let ruled = |runs: Vec<Rerun>| rule(&claim, reason, &Evidence::Reruns(runs), 0.5).unwrap();
	use FaultyParty::*;
	assert_eq!(
		ruled(vec![run(ResultStatus::Completed, ROOT, 100); 2]),
		(Verdict::CorrectResults, JobCreator)
	);
	assert_eq!(
		ruled(vec![
			run(ResultStatus::Completed, ROOT, 100),
			run(ResultStatus::Completed, OTHER, 100)
		]),
		(Verdict::NonDeterministic, JobCreator)
	);
	assert_eq!(
		ruled(vec![
			run(ResultStatus::Completed, ROOT, 100),
			run(ResultStatus::InstructionsExceeded, ROOT, 100)
		]),
		(Verdict::NonDeterministic, JobCreator)
	);
	assert_eq!(
		ruled(vec![run(ResultStatus::InstructionsExceeded, OTHER, 100); 2]),
		(Verdict::InvalidResultStatus, ResourceProvider)
	);
	assert_eq!(
		ruled(vec![run(ResultStatus::Completed, OTHER, 100); 2]),
		(Verdict::WrongResults, ResourceProvider)
	);
	// CPU time within the slack is measurement noise; beyond it, overcharging.
	assert_eq!(
		ruled(vec![run(ResultStatus::Completed, ROOT, 40); 2]),
		(Verdict::CorrectResults, JobCreator)
	);
	assert_eq!(
		ruled(vec![run(ResultStatus::Completed, ROOT, 30); 2]),
		(Verdict::TooMuchCost, ResourceProvider)
	);
	// Bandwidth is read from the manifest by both: any excess is overcharging, and a
	// mediator with the image cached measures the same as one without.
	let over = posted(ResultStatus::Completed, ROOT, 100, 1_001);
	let runs = Evidence::Reruns(vec![run(ResultStatus::Completed, ROOT, 100); 2]);
	assert_eq!(rule(&over, reason, &runs, 0.5).unwrap(), (Verdict::TooMuchCost, ResourceProvider));
}

#[test]
fn a_decline_or_missing_image_that_charges_nothing_is_not_a_fault() {
	for status in [ResultStatus::Declined, ResultStatus::JobNotFound] {
		for reason in [
			RejectReason::WrongResults,
			RejectReason::InvalidResultStatus,
			RejectReason::TooMuchCost,
		] {
			let free = posted(status, ROOT, 0, 0);
			assert_eq!(question(&free, reason), Question::Nothing);
			assert_eq!(
				rule(&free, reason, &Evidence::None, 0.5).unwrap(),
				(Verdict::CorrectResults, FaultyParty::JobCreator)
			);
			let charged = posted(status, ROOT, 5, 0);
			assert_eq!(
				rule(&charged, reason, &Evidence::None, 0.5).unwrap(),
				(Verdict::TooMuchCost, FaultyParty::ResourceProvider)
			);
		}
	}
}

#[test]
fn a_job_description_error_is_re_run_and_judged_like_any_status() {
	let claim = posted(ResultStatus::JobDescriptionError, ROOT, 0, 0);
	let reason = RejectReason::InvalidResultStatus;
	assert_eq!(question(&claim, reason), Question::Reruns);
	// The mediator's pipeline makes the same pre-run checks and finds the same error.
	let same = Evidence::Reruns(vec![run(ResultStatus::JobDescriptionError, ROOT, 0); 2]);
	assert_eq!(
		rule(&claim, reason, &same, 0.5).unwrap(),
		(Verdict::CorrectResults, FaultyParty::JobCreator)
	);
	// The job was fine: the RP invented the error.
	let ran = Evidence::Reruns(vec![run(ResultStatus::Completed, OTHER, 10); 2]);
	assert_eq!(
		rule(&claim, reason, &ran, 0.5).unwrap(),
		(Verdict::InvalidResultStatus, FaultyParty::ResourceProvider)
	);
}

#[test]
fn directory_claims_and_missing_results_follow_the_spec() {
	let claim = posted(ResultStatus::DirectoryUnavailable, ROOT, 0, 0);
	let reason = RejectReason::WrongResults;
	assert_eq!(
		question(&claim, reason),
		Question::DirectoryUptime { claimant: FaultyParty::ResourceProvider }
	);
	assert_eq!(
		rule(&claim, reason, &Evidence::DirectoryUp(false), 0.5).unwrap(),
		(Verdict::DirectoryUnavailable, FaultyParty::Directory)
	);
	assert_eq!(
		rule(&claim, reason, &Evidence::DirectoryUp(true), 0.5).unwrap(),
		(Verdict::DirectoryUnavailable, FaultyParty::ResourceProvider)
	);
	let done = posted(ResultStatus::Completed, ROOT, 10, 10);
	assert_eq!(
		rule(&done, RejectReason::ResultNotFound, &Evidence::ResultFound(false), 0.5).unwrap(),
		(Verdict::ResultNotFound, FaultyParty::ResourceProvider)
	);
}

#[test]
fn evidence_for_another_question_is_an_error_not_a_ruling() {
	let done = posted(ResultStatus::Completed, ROOT, 10, 10);
	let wrong = rule(&done, RejectReason::WrongResults, &Evidence::ResultFound(true), 0.5);
	assert_eq!(wrong, Err(WrongEvidence { asked: Question::Reruns }));
	assert!(rule(&done, RejectReason::WrongResults, &Evidence::Reruns(Vec::new()), 0.5).is_err());
}

#[test]
fn replicas_are_ruled_by_the_runs_alone() {
	let run = |status, root| Rerun { status, root, instruction_count: 100, bandwidth_used: 10 };
	assert_eq!(rule_replicas(&[]), None);
	assert_eq!(
		rule_replicas(&[run(ResultStatus::Completed, ROOT), run(ResultStatus::Completed, ROOT)]),
		Some(ReplicaOutcome::Deterministic { status: ResultStatus::Completed, root: ROOT })
	);
	// A deterministic failure is an outcome like any other.
	assert_eq!(
		rule_replicas(&[run(ResultStatus::ExceptionOccurred, OTHER)]),
		Some(ReplicaOutcome::Deterministic {
			status: ResultStatus::ExceptionOccurred,
			root: OTHER
		})
	);
	for (a, b) in [
		(run(ResultStatus::Completed, ROOT), run(ResultStatus::Completed, OTHER)),
		(run(ResultStatus::Completed, ROOT), run(ResultStatus::ExceptionOccurred, ROOT)),
	] {
		assert_eq!(rule_replicas(&[a, b]), Some(ReplicaOutcome::NonDeterministic));
	}
	let text =
		serde_json::to_string(&rule_replicas(&[run(ResultStatus::Completed, ROOT)])).unwrap();
	assert!(
		text.contains(r#""kind":"deterministic""#) && text.contains(r#""status":"completed""#),
		"{text}"
	);
}

fn records_run(outputs: &[(&str, Option<&str>)]) -> RecordRerun {
	RecordRerun::Ran {
		status: ResultStatus::Completed,
		outputs: outputs
			.iter()
			.map(|(name, out)| (name.to_string(), out.map(|o| o.as_bytes().to_vec())))
			.collect(),
	}
}

fn posted_records(outputs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
	outputs.iter().map(|(name, out)| (name.to_string(), out.as_bytes().to_vec())).collect()
}

#[test]
fn disputed_records_clear_the_rp_or_fault_the_job_but_never_fine_the_rp() {
	let posted = posted_records(&[("a", "A"), ("b", "B")]);
	let right = records_run(&[("a", Some("A")), ("b", Some("B"))]);
	let wrong_b = records_run(&[("a", Some("A")), ("b", Some("X"))]);
	// The RP's outputs are the mediator's: the JC disputed correct records.
	assert_eq!(
		rule_on_records(&posted, &[right.clone(), right.clone()]),
		Some((Verdict::CorrectResults, FaultyParty::JobCreator))
	);
	// The mediator's runs agree with each other and not with the RP's `b`: only whole
	// runs can tell a wrong RP from a job whose records depend on each other.
	assert_eq!(rule_on_records(&posted, &[wrong_b.clone(), wrong_b.clone()]), None);
	// The runs differ from each other: the job is at fault, whatever was posted.
	assert_eq!(
		rule_on_records(&posted, &[right.clone(), wrong_b]),
		Some((Verdict::NonDeterministic, FaultyParty::JobCreator))
	);
	// A name the job has no record of: the JC disputed nothing the RP computed.
	assert_eq!(
		rule_on_records(&posted, &[RecordRerun::NotARecord("zz".into())]),
		Some((Verdict::CorrectResults, FaultyParty::JobCreator))
	);
}

#[test]
fn what_the_records_cannot_decide_goes_to_a_whole_run() {
	let posted = posted_records(&[("a", "A")]);
	let failed = RecordRerun::Ran {
		status: ResultStatus::ExceptionOccurred,
		outputs: vec![("a".into(), None)],
	};
	let no_output = records_run(&[("a", None)]);
	let right = records_run(&[("a", Some("A"))]);
	assert_eq!(rule_on_records(&posted, &[]), None, "no run");
	assert_eq!(rule_on_records(&posted, &[right.clone(), failed]), None, "a failed run");
	assert_eq!(rule_on_records(&posted, &[right.clone(), no_output]), None, "an output missing");
	assert_eq!(
		rule_on_records(&[], std::slice::from_ref(&right)),
		None,
		"nothing posted to compare"
	);
	let other = records_run(&[("b", Some("A"))]);
	assert_eq!(rule_on_records(&posted, &[other]), None, "a run of another record");
}
