//! [`Book::solve_new`] against a whole solve of the same book: after a posted solve,
//! arrivals are matched exactly as solving everything again would match them.

use super::{sample::market_book, *};
use std::collections::BTreeSet;

const NOW: u64 = 1_000_000;

fn total_cost(proposals: &[Proposal]) -> u128 {
	proposals.iter().map(|p| p.cost).sum()
}

/// What posting `proposals` does to the book: their offers leave it.
fn post(book: &mut Book, proposals: &[Proposal]) {
	for p in proposals {
		book.remove_job_offer(p.job_offer_id);
		book.remove_resource_offer(p.resource_offer_id);
	}
}

/// A book after its first solve was posted, and copies of its offers (matched ones
/// included) to send in again as arrivals.
fn posted_book(size: usize, seed: u64) -> (Book, Vec<JobOfferView>, Vec<ResourceOfferView>) {
	let mut book = market_book(size, seed, NOW);
	let jobs: Vec<JobOfferView> = book.job_offers().cloned().collect();
	let resources: Vec<ResourceOfferView> = book.resource_offers().cloned().collect();
	let first = book.solve(NOW);
	assert!(!first.is_empty());
	post(&mut book, &first);
	assert!(book.solve(NOW).is_empty(), "a posted solve leaves no feasible pair");
	(book, jobs, resources)
}

/// Both solves agree on how many and at what total cost; each proposal passes the
/// chain's checks and names an arrival.
fn agree(book: &Book, jobs: &BTreeSet<u64>, resources: &BTreeSet<u64>) -> Vec<Proposal> {
	let whole = book.solve(NOW);
	let new = book.solve_new(NOW, jobs, resources, SolveOptions::default());
	assert_eq!(new.len(), whole.len(), "matches: {new:?} against {whole:?}");
	assert_eq!(total_cost(&new), total_cost(&whole));
	for p in &new {
		assert_eq!(book.check_pair(p.job_offer_id, p.resource_offer_id, &p.mediator, NOW), Ok(()));
		assert!(jobs.contains(&p.job_offer_id) || resources.contains(&p.resource_offer_id));
	}
	new
}

#[test]
fn arrivals_one_at_a_time_are_matched_as_a_whole_solve_would() {
	let (mut book, jobs, resources) = posted_book(400, 7);
	let mut next_id = 10_000_000;
	let mut matched = 0;
	for i in 0..60 {
		next_id += 1;
		let (mut new_jobs, mut new_resources) = (BTreeSet::new(), BTreeSet::new());
		if i % 2 == 0 {
			let job = JobOfferView { id: next_id, ..jobs[i * 7 % jobs.len()].clone() };
			book.insert_job_offer(job);
			new_jobs.insert(next_id);
		} else {
			let resource =
				ResourceOfferView { id: next_id, ..resources[i * 7 % resources.len()].clone() };
			book.insert_resource_offer(resource);
			new_resources.insert(next_id);
		}
		let proposals = agree(&book, &new_jobs, &new_resources);
		matched += proposals.len();
		post(&mut book, &proposals);
	}
	// Copies of offers that matched before find partners again: the test compares
	// matchings, not two empty lists.
	assert!(matched >= 10, "only {matched} arrivals matched");
}

#[test]
fn a_burst_of_arrivals_is_matched_as_a_whole_solve_would() {
	let (mut book, jobs, resources) = posted_book(400, 11);
	let (mut new_jobs, mut new_resources) = (BTreeSet::new(), BTreeSet::new());
	for i in 0..40u64 {
		let id = 20_000_000 + i;
		let pick = i as usize * 13;
		if i % 3 == 0 {
			book.insert_resource_offer(ResourceOfferView {
				id,
				..resources[pick % resources.len()].clone()
			});
			new_resources.insert(id);
		} else {
			book.insert_job_offer(JobOfferView { id, ..jobs[pick % jobs.len()].clone() });
			new_jobs.insert(id);
		}
	}
	let proposals = agree(&book, &new_jobs, &new_resources);
	assert!(proposals.len() >= 5, "{proposals:?}");
}

#[test]
fn without_arrivals_nothing_is_matched() {
	// The contract: old pairs are the whole solve's business, even when some are
	// feasible (this book was never solved).
	let book = market_book(100, 3, NOW);
	assert!(!book.solve(NOW).is_empty());
	let none = BTreeSet::new();
	assert!(book.solve_new(NOW, &none, &none, SolveOptions::default()).is_empty());
}

#[test]
fn an_arrival_no_old_offer_can_take_is_not_matched() {
	let (mut book, jobs, _) = posted_book(200, 5);
	// A job asking for more instructions than any offer has.
	let job = JobOfferView { id: 30_000_000, instruction_limit: u64::MAX, ..jobs[0].clone() };
	book.insert_job_offer(job);
	let new_jobs = BTreeSet::from([30_000_000]);
	assert!(book.solve_new(NOW, &new_jobs, &BTreeSet::new(), SolveOptions::default()).is_empty());
}
