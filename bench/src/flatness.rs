//! Weight flatness: whether `post_match` and a close (`accept_result`) cost the same with
//! 1, 100 and 10,000 open matches, job offers and resource offers on chain. The chain
//! charges each call its benchmarked weight whatever the state, so the question is
//! whether the execution behind it grows: the real pallet, run natively on a state
//! committed to an in-memory trie (`modicum_research::scale`), timed per call. Baseline:
//! the same calls with one item open.

use crate::{
	procfs::round3,
	row::{Quantity, Row},
	setup::say,
	Ctx,
};
use anyhow::Result;
use modicum_research::scale::{call_costs, CallCosts};

/// Goal: at the largest state, each call within this factor of its time at the smallest.
const FLAT: f64 = 1.5;

/// The figure's row.
pub fn run(ctx: &Ctx) -> Row {
	let mut row = Row::new(
		"weight.flatness",
		"execution time of post_match and of a close with 1, 100, 10,000 open matches and offers (pallet run natively on a committed trie)",
		"—",
		"flat: ≤ 1.5× from 1 to 10,000 open",
	);
	let measured = measure(ctx, &mut row);
	row.finished(measured)
}

fn measure(ctx: &Ctx, row: &mut Row) -> Result<()> {
	let (sizes, samples): (&[usize], usize) =
		if ctx.smoke { (&[1, 10, 100], 20) } else { (&[1, 100, 10_000], 200) };
	// The first state built and timed in a process pays for warming the allocator and
	// the caches; a throwaway run keeps that out of the baseline.
	call_costs(sizes[0], samples / 4 + 1)?;
	let mut costs: Vec<CallCosts> = Vec::new();
	for &open in sizes {
		say(
			"weight.flatness",
			format!("{open} open matches and offer pairs, {samples} lifecycles"),
		);
		costs.push(call_costs(open, samples)?);
	}
	let (first, last) = match (costs.first(), costs.last()) {
		(Some(first), Some(last)) => (first, last),
		_ => anyhow::bail!("no state size measured"),
	};
	let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
	let sum = |c: &CallCosts| us(c.post_match) + us(c.close);
	let ratio = |f: fn(&CallCosts) -> std::time::Duration| us(f(last)) / us(f(first)).max(1e-3);
	let (match_ratio, close_ratio) = (ratio(|c| c.post_match), ratio(|c| c.close));
	row.measured = Some(Quantity::new(
		sum(last),
		"µs",
		format!(
			"{} open: post_match {:.0} µs, close {:.0} µs",
			last.open,
			us(last.post_match),
			us(last.close)
		),
	));
	row.baseline = Some(Quantity::new(
		sum(first),
		"µs",
		format!(
			"{} open: post_match {:.0} µs, close {:.0} µs",
			first.open,
			us(first.post_match),
			us(first.close)
		),
	));
	let worst = match_ratio.max(close_ratio);
	row.comparison = Some(Quantity::new(
		worst,
		"×",
		format!("post_match ×{match_ratio:.2}, close ×{close_ratio:.2}"),
	));
	row.met = Some(worst <= FLAT);
	row.notes.push(format!(
		"pallet storage entries per size: {}; medians of {samples} lifecycles each",
		costs
			.iter()
			.map(|c| format!("{} open → {}", c.open, c.entries))
			.collect::<Vec<_>>()
			.join(", ")
	));
	row.details = serde_json::json!({
		"samples": samples,
		"sizes": costs.iter().map(|c| serde_json::json!({
			"open": c.open,
			"pallet_entries": c.entries,
			"post_match_us": round3(us(c.post_match)),
			"close_us": round3(us(c.close)),
		})).collect::<Vec<_>>(),
	});
	Ok(())
}
