//! The solver's core, independent of the chain: the open-offer [`Book`], the chain's
//! feasibility rules ([`check`]) and a minimum-cost maximum matching of job offers to
//! resource offers ([`Book::solve`]).
//!
//! The glue that feeds the book from chain events and posts the resulting
//! [`Proposal`]s is elsewhere; everything here is plain data in, plain data out, so it
//! can be tested and benchmarked without a node.
//!
//! # How a solve works
//!
//! Checking all `jobs × resources × mediators` triples is far too slow for a
//! 10,000 × 10,000 book, and a dense assignment algorithm over 10^8 cells too, so
//! [`Book::solve_with`]:
//!
//! 1. indexes the book (module `candidates`): resource offers are bucketed by their
//!    provider's architecture (rule 7 partitions the market), split into bands by
//!    bandwidth price and sorted by instruction price within a band, so a job scans
//!    only its bucket, stops at its instruction max price and stops early once a price
//!    lower bound exceeds every candidate it keeps. Rules 8 to
//!    10 and the mediator choice depend only on the provider and on the job's "class"
//!    (job creator, architecture, directory, base layer); a job's scan computes them
//!    once per provider it meets. Bitsets over the offers (module `filters`: caps,
//!    directories, base layers, trusted mediators) let a scan pass over offers the job
//!    cannot take 64 at a time, and deposits too thin for any match are pruned first.
//! 2. keeps for each job its K cheapest feasible resource offers
//!    ([`SolveOptions::candidates_per_job`]) plus, at the moment the job is added to
//!    the matching, its few cheapest feasible offers that are still unmatched (K in a
//!    small book, fewer in a large one: [`FREE_CANDIDATES_BUDGET`]);
//! 3. solves the minimum-cost maximum-cardinality matching on that sparse graph
//!    exactly (module `assignment`: successive shortest augmenting paths, Dijkstra
//!    with potentials, one job at a time);
//! 4. re-scans any job pushed out of the matching, so that at the end no unmatched
//!    job has a feasible unmatched resource offer left.
//!
//! The result is exact (maximum cardinality, then minimum total cost) whenever no job
//! has more than K feasible resource offers; otherwise it is exact on the candidate
//! graph, maximal on the whole book, and near-optimal in practice.

mod assignment;
mod book;
mod candidates;
pub mod explain;
mod feasibility;
mod filters;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod incremental_tests;
mod matching;
pub mod sample;
pub mod stakes;
#[cfg(test)]
mod stakes_tests;
#[cfg(test)]
mod tests;

pub use book::Book;
pub use feasibility::{check, finish_time_ms, is_expired, Infeasible, Pair};
pub use stakes::{MatchRules, MatchTerms};

use serde::{Deserialize, Serialize};

/// An account on the chain (a 32-byte public key).
pub type AccountId = [u8; 32];

/// A 32-byte content hash (here: an image's base layer).
pub type Hash = [u8; 32];

/// CPU architecture of a machine; a job runs only where its architecture matches.
///
/// The variants mirror the pallet's `Architecture`, in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Architecture {
	/// x86-64 (`linux/amd64`).
	Amd64,
	/// 64-bit ARM (`linux/arm64`).
	Arm64,
	/// 32-bit ARM v7 (`linux/arm/v7`); the chain has it, so the solver must too.
	Arm32,
	/// 64-bit RISC-V (`linux/riscv64`).
	Riscv64,
}

impl Architecture {
	/// How many architectures there are; resource offers are bucketed by architecture.
	pub(crate) const COUNT: usize = 4;

	/// A dense index, for per-architecture arrays.
	pub(crate) fn index(self) -> usize {
		match self {
			Architecture::Amd64 => 0,
			Architecture::Arm64 => 1,
			Architecture::Arm32 => 2,
			Architecture::Riscv64 => 3,
		}
	}
}

/// An open job offer, as the solver needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOfferView {
	/// The chain's offer id.
	pub id: u64,
	/// The job creator who posted it.
	pub owner: AccountId,
	/// Most instructions the job may use.
	pub instruction_limit: u64,
	/// Most bytes the job may download.
	pub bandwidth_limit: u64,
	/// Highest price per instruction the JC accepts.
	pub instruction_max_price: u128,
	/// Highest price per byte the JC accepts.
	pub bandwidth_max_price: u128,
	/// When the result must be posted (ms since the Unix epoch, chain time).
	pub completion_deadline: u64,
	/// What the JC pays the solver for a match.
	pub match_incentive: u128,
	/// The image's base layer, which the RP and the mediator must both support.
	pub first_layer_hash: Hash,
	/// Most memory (bytes) the job may use.
	pub ram_limit: u64,
	/// Most local storage (bytes) the job may write.
	pub local_storage_limit: u64,
	/// The directory holding the job's image.
	pub directory: AccountId,
	/// The architecture the job is built for.
	pub arch: Architecture,
	/// Last moment (ms) at which the offer can still be matched.
	pub expires_at: u64,
	/// What the JC holds for the match (incentive included): the chain refuses a match
	/// whose stakes it does not cover ([`stakes::match_minimums`]).
	pub deposit: u128,
	/// The replica rules, when the offer is one replica of a replicated job.
	#[serde(default)]
	pub replica: Option<ReplicaRule>,
	/// Rule 13: the least record its RP must have.
	#[serde(default)]
	pub provider_record: Option<RecordRule>,
}

/// The least record an offer asks of its counterparty (the pallet's
/// `RecordRequirement`, README "Reputation").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRule {
	/// At least this many accepted jobs.
	pub min_accepted: u32,
	/// At most this share of its counted endings at its fault, in parts per million.
	pub max_fault_ppm: u32,
}

/// What rule 13 reads of an account's record in the role it plays in a match (the
/// pallet's `Reputation::faults_in`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
	/// Its accepted jobs.
	pub accepted: u32,
	/// Its endings at its own fault.
	pub faults: u64,
	/// All its counted endings.
	pub endings: u64,
}

impl RecordView {
	/// Whether it has as many accepted jobs as `rule` asks.
	pub fn has_accepted(&self, rule: &RecordRule) -> bool {
		self.accepted >= rule.min_accepted
	}

	/// Whether its share of faults is within `rule`, with the pallet's arithmetic.
	pub fn faults_within(&self, rule: &RecordRule) -> bool {
		u128::from(self.faults) * 1_000_000
			<= u128::from(rule.max_fault_ppm) * u128::from(self.endings)
	}
}

/// What the chain requires of a replica's match: an RP that ran no other replica of
/// the job and that the JC did not exclude, and the mediator of the replicas matched
/// before.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRule {
	/// The replica group.
	pub group: u64,
	/// RPs already running a replica.
	pub providers: Vec<AccountId>,
	/// RPs the JC excluded.
	pub excluded: Vec<AccountId>,
	/// The group's mediator, once a replica is matched.
	pub mediator: Option<AccountId>,
}

/// An open resource offer, as the solver needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceOfferView {
	/// The chain's offer id.
	pub id: u64,
	/// The resource provider who posted it.
	pub owner: AccountId,
	/// Price per instruction.
	pub instruction_price: u128,
	/// Most instructions one job may use.
	pub instruction_cap: u64,
	/// Most memory (bytes) one job may use.
	pub memory_cap: u64,
	/// Most local storage (bytes) one job may write.
	pub local_storage_cap: u64,
	/// Most bytes one job may download.
	pub bandwidth_cap: u64,
	/// Price per byte downloaded.
	pub bandwidth_price: u128,
	/// What the RP pays the solver for a match.
	pub match_incentive: u128,
	/// Last moment (ms) at which the offer can still be matched.
	pub expires_at: u64,
	/// What the RP holds for the match (incentive included).
	pub deposit: u128,
	/// Rule 13: the least record the job's creator must have.
	#[serde(default)]
	pub creator_record: Option<RecordRule>,
}

/// A registered resource provider: its machine and whom it trusts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
	/// Architecture of its machines.
	pub arch: Architecture,
	/// Wall-clock nanoseconds it needs per instruction.
	pub time_per_instruction_ns: u64,
	/// Mediators it accepts.
	pub trusted_mediators: Vec<AccountId>,
	/// Directories it fetches images from and uploads results to.
	pub trusted_directories: Vec<AccountId>,
	/// Base layers it can run.
	pub base_layers: Vec<Hash>,
	/// Its record as an RP (rule 13).
	#[serde(default)]
	pub record: RecordView,
}

/// A registered mediator: its machine, its price and whom it trusts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediatorView {
	/// Architecture it re-runs jobs on.
	pub arch: Architecture,
	/// Wall-clock nanoseconds per instruction of a re-run (sizes the mediation window).
	pub time_per_instruction_ns: u64,
	/// Its price per instruction of a re-run (bounds its fee, which deposits cover).
	pub instruction_price: u128,
	/// Its price per byte of a re-run.
	pub bandwidth_price: u128,
	/// What each match it stands by pays it.
	pub availability_price: u128,
	/// Directories it works with.
	pub trusted_directories: Vec<AccountId>,
	/// Base layers it can run.
	pub base_layers: Vec<Hash>,
}

/// A registered directory: what it charges per match (its availability price).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryView {
	/// Its availability price; the JC and the RP each pay half.
	pub availability_price: u128,
}

/// A registered job creator: whom it trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCreatorView {
	/// Mediators it accepts.
	pub trusted_mediators: Vec<AccountId>,
	/// Its record as a JC (rule 13).
	#[serde(default)]
	pub record: RecordView,
}

/// One match the solver proposes to post (`post_match`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Proposal {
	/// The job offer.
	pub job_offer_id: u64,
	/// The resource offer.
	pub resource_offer_id: u64,
	/// The mediator: the cheapest feasible one, ties to the smallest account id.
	pub mediator: AccountId,
	/// [`pair_cost`] of the match with that mediator.
	pub cost: u128,
}

/// Tuning of [`Book::solve_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolveOptions {
	/// K: how many of its cheapest feasible resource offers each job keeps as
	/// candidates (and again how many of the cheapest still unmatched ones). The
	/// solve is exact when no job has more than K feasible offers; larger K is slower
	/// and closer to the optimum otherwise. Zero is treated as one.
	pub candidates_per_job: usize,
}

/// How many still unmatched offers the jobs of a solve bring to the matching together,
/// besides each job's K cheapest overall: a job brings its cheapest `budget / jobs`
/// unmatched ones, at most K and at least [`MIN_FREE_CANDIDATES_PER_JOB`]. They only
/// matter for a job with more than K feasible offers (otherwise its K cheapest hold
/// them all), so the solve stays exact wherever it was. Each such edge ties a job to an
/// offer that later jobs take, and every later search walks it, so a large book gets
/// fewer: on the 100,000-offer benchmark book 32 a job made the matching take 12 s and
/// 4 took 2 s, with 3 more matches and 0.03 % more total cost; on the 10,000-offer one
/// 32 still take a tenth of a second more than 4 and match 0.4 % more jobs.
pub const FREE_CANDIDATES_BUDGET: usize = 320_000;

/// The fewest still unmatched offers a job brings (see [`FREE_CANDIDATES_BUDGET`]).
pub const MIN_FREE_CANDIDATES_PER_JOB: usize = 4;

impl SolveOptions {
	/// The default K: enough that a job rarely needs more in practice, small enough
	/// that a 10,000-job book stays a few hundred thousand edges.
	pub const DEFAULT_CANDIDATES_PER_JOB: usize = 32;
}

impl Default for SolveOptions {
	fn default() -> Self {
		SolveOptions { candidates_per_job: Self::DEFAULT_CANDIDATES_PER_JOB }
	}
}

/// What a match costs, the quantity the solver minimises: the resource offer's prices
/// at the job's limits plus the mediator's availability price (saturating, so an
/// absurd offer ranks last instead of overflowing).
pub fn pair_cost(
	job: &JobOfferView,
	resource: &ResourceOfferView,
	mediator_availability_price: u128,
) -> u128 {
	price_at_limits(
		resource.instruction_price,
		job.instruction_limit,
		resource.bandwidth_price,
		job.bandwidth_limit,
	)
	.saturating_add(mediator_availability_price)
}

/// `instruction_price × instruction_limit + bandwidth_price × bandwidth_limit`,
/// saturating.
pub(crate) fn price_at_limits(
	instruction_price: u128,
	instruction_limit: u64,
	bandwidth_price: u128,
	bandwidth_limit: u64,
) -> u128 {
	instruction_price
		.saturating_mul(u128::from(instruction_limit))
		.saturating_add(bandwidth_price.saturating_mul(u128::from(bandwidth_limit)))
}
