use super::*;
use crate::solver::fixtures::*;

fn explain_one(job: JobOfferView, resource: crate::solver::ResourceOfferView) -> OfferVerdict {
	let book = book_with(vec![], vec![resource]);
	let directory = *book.directory(&acct(DIRECTORY)).unwrap();
	let mut verdicts = explain_job(&book, &job, &job_creator(), &directory, NOW);
	assert_eq!(verdicts.len(), 1);
	verdicts.remove(0)
}

#[test]
fn a_fitting_offer_names_the_mediator_and_cost() {
	let verdict = explain_one(job(1), resource(7, 3));
	assert_eq!(verdict.refusal, None);
	// 3 × 100 instructions + 1 × 10 bytes + the mediator's availability price 5.
	assert_eq!(verdict.fit, Some(Fit { mediator: acct(MEDIATOR), cost: 315 }));
	assert_eq!((verdict.resource_offer, verdict.provider), (7, acct(PROVIDER)));
}

#[test]
fn refusals_name_the_rule_and_both_values() {
	let mut big = job(1);
	big.ram_limit = 512 << 20;
	let mut small = resource(7, 3);
	small.memory_cap = 256 << 20;
	let verdict = explain_one(big, small);
	let refusal = verdict.refusal.unwrap();
	assert_eq!(refusal.rule, Some(2));
	assert_eq!(refusal.explanation, "rule 2: RP memory cap 256 MiB < job RAM 512 MiB");
	assert_eq!(verdict.fit, None);

	let verdict = explain_one(job(1), resource(7, 11));
	assert_eq!(
		verdict.refusal.unwrap().explanation,
		"rule 5: RP price 0.000000000011 MDC per CPU ms > job's maximum 0.00000000001 MDC"
	);

	let mut mine = job(1);
	mine.deposit = 10;
	let refusal = explain_one(mine, resource(7, 3)).refusal.unwrap();
	assert_eq!(refusal.rule, None);
	assert!(
		refusal.explanation.starts_with("job deposit 0.00000000001 MDC < "),
		"{}",
		refusal.explanation
	);
}

#[test]
fn the_mediator_that_got_furthest_explains_a_refusal() {
	// The job creator trusts no registered mediator: rule 9, naming the mediator.
	let book = book_with(vec![], vec![resource(7, 3)]);
	let directory = *book.directory(&acct(DIRECTORY)).unwrap();
	let nobody = JobCreatorView { trusted_mediators: vec![], ..Default::default() };
	let verdicts = explain_job(&book, &job(1), &nobody, &directory, NOW);
	let refusal = verdicts[0].refusal.clone().unwrap();
	assert_eq!(refusal.rule, Some(9));
	assert!(
		refusal.explanation.contains("the job creator does not trust mediator"),
		"{}",
		refusal.explanation
	);
}
