//! A solve: index the book, add each job to the assignment with its candidate edges,
//! re-scan jobs pushed out, and read the proposals off the result.

use super::{
	assignment::{Assignment, Edge, Slot},
	book::BookParts,
	candidates::{Candidate, Index, Scanner},
	filters::{Filtering, FreeSet},
	price_at_limits, Proposal, SolveOptions, FREE_CANDIDATES_BUDGET, MIN_FREE_CANDIDATES_PER_JOB,
};
use std::{
	collections::VecDeque,
	time::{Duration, Instant},
};

/// How many of its cheapest unmatched offers each of `rows` jobs brings besides its `k`
/// cheapest overall: `k` while the book is small, fewer in a large one, never fewer
/// than [`MIN_FREE_CANDIDATES_PER_JOB`] unless `k` is (see [`FREE_CANDIDATES_BUDGET`]).
fn free_candidates_per_job(k: usize, rows: usize) -> usize {
	(FREE_CANDIDATES_BUDGET / rows.max(1)).clamp(MIN_FREE_CANDIDATES_PER_JOB.min(k), k)
}

/// See [`Book::solve_with`].
pub(crate) fn solve(book: BookParts<'_>, now_ms: u64, options: SolveOptions) -> Vec<Proposal> {
	solve_filtered(book, now_ms, options, Filtering::Auto)
}

/// [`solve`], with or without the index's filters.
pub(crate) fn solve_filtered(
	book: BookParts<'_>,
	now_ms: u64,
	options: SolveOptions,
	filtering: Filtering,
) -> Vec<Proposal> {
	let started = Instant::now();
	let index = Index::build(book, now_ms, filtering);
	let indexed = started.elapsed();
	let (mut scanning, mut assigning) = (Duration::ZERO, Duration::ZERO);
	let k = options.candidates_per_job.max(1);
	let rows = index.jobs.len();
	let free_k = free_candidates_per_job(k, rows);
	let mut scanner = Scanner::new(&index);
	let mut free = FreeSet::new(index.resources.len());
	let mut assignment = Assignment::new(rows, index.resources.len());
	// Whether the row's last scan found every feasible offer (fewer than K).
	let mut complete = vec![false; rows];
	let mut added = vec![false; rows];
	let mut queue: VecDeque<u32> = (0..rows as u32).collect();
	let (mut phases, mut readds, mut edge_count) = (0usize, 0usize, 0usize);

	while let Some(row) = queue.pop_front() {
		let r = row as usize;
		let scan_started = Instant::now();
		let scan = scanner.scan(r, k, free_k, &free);
		scanning += scan_started.elapsed();
		let readd = added[r];
		if readd && scan.free.is_empty() {
			// Kicked, and no unmatched offer it could take is left; since matched offers
			// stay matched for the rest of the solve, none will be. It stays unmatched.
			continue;
		}
		complete[r] = scan.complete;
		// Candidates: the K cheapest overall (so that the optimum can reassign offers
		// between jobs), the few cheapest still unmatched (so that the job is matched if
		// anything is left for it), and on a re-add its old edges too.
		let mut candidates: Vec<Candidate> = scan.all;
		candidates.extend(scan.free);
		let mut edges: Vec<Edge> = if readd { assignment.edges(r).to_vec() } else { Vec::new() };
		edges.extend(candidates.iter().map(|c| Edge::new(c.column, c.mediator, c.cost)));
		// Deterministic order; one edge per column (a column's cost and mediator do not
		// depend on where it was found).
		edges.sort_unstable_by_key(|e| e.column);
		edges.dedup_by_key(|e| e.column);
		if edges.is_empty() {
			continue;
		}
		edge_count = edge_count.saturating_add(edges.len());
		added[r] = true;
		if readd {
			readds += 1;
		}
		phases += 1;
		let assign_started = Instant::now();
		let outcome = assignment.add_row(row, edges);
		assigning += assign_started.elapsed();
		if let Some(c) = outcome.newly_matched {
			free.mark_matched(c as usize);
		}
		if let Some(kicked) = outcome.kicked {
			// Its candidates may all be taken now while it has feasible offers beyond
			// them; a complete row has no such offers.
			if !complete[kicked as usize] {
				queue.push_back(kicked);
			}
		}
	}

	let mut proposals: Vec<Proposal> = (0..rows)
		.filter_map(|r| {
			let Slot::Column(c) = assignment.slot(r) else { return None };
			let job = index.jobs.get(r)?;
			let resource = index.resources.get(c as usize)?;
			let edge = assignment.edges(r).iter().find(|e| e.column == c)?;
			let mediator = index.mediators.get(edge.mediator as usize)?;
			// The exact cost: the edge's may be capped for the algorithm.
			let cost = price_at_limits(
				resource.instruction_price,
				job.instruction_limit,
				resource.bandwidth_price,
				job.bandwidth_limit,
			)
			.saturating_add(mediator.price);
			Some(Proposal {
				job_offer_id: job.id,
				resource_offer_id: resource.id,
				mediator: mediator.account,
				cost,
			})
		})
		.collect();
	proposals.sort_unstable_by_key(|p| p.job_offer_id);
	let (popped, relaxed) = assignment.effort();
	tracing::debug!(
		jobs = rows,
		popped,
		relaxed,
		resources = index.resources.len(),
		matched = proposals.len(),
		phases,
		readds,
		edges = edge_count,
		index_ms = indexed.as_millis() as u64,
		scan_ms = scanning.as_millis() as u64,
		assign_ms = assigning.as_millis() as u64,
		"solved the offer book"
	);
	proposals
}

#[cfg(test)]
mod tests {
	use super::free_candidates_per_job;

	#[test]
	fn a_large_book_brings_fewer_unmatched_candidates_per_job() {
		// Small books: every job brings K.
		assert_eq!(free_candidates_per_job(32, 1), 32);
		assert_eq!(free_candidates_per_job(32, 8_000), 32);
		// Large ones: fewer, never below the floor, never above K.
		assert_eq!(free_candidates_per_job(32, 20_000), 16);
		assert_eq!(free_candidates_per_job(32, 80_000), 4);
		assert_eq!(free_candidates_per_job(32, 10_000_000), 4);
		assert_eq!(free_candidates_per_job(2, 10_000_000), 2);
		assert_eq!(free_candidates_per_job(1, 0), 1);
	}
}
