//! Exact minimum-cost maximum-cardinality bipartite matching on a sparse graph, rows
//! (jobs) added one at a time.
//!
//! # Formulation
//!
//! Each row gets a private "dummy" column meaning "left unmatched", at weight zero;
//! a real edge weighs `(-1, cost)`, compared lexicographically. Every row must be
//! assigned (to a real column or to its dummy), and the minimum total weight of such
//! an assignment is exactly the matching with the most real edges and, among those,
//! the least cost. Keeping the cardinality as its own component of the weight, rather
//! than folding it into one number with a large constant, cannot overflow.
//!
//! # Algorithm
//!
//! The rectangular Hungarian algorithm in its shortest-augmenting-path form (as in
//! Jonker–Volgenant's augmentation step): rows are added one by one; each addition
//! runs Dijkstra from the new row over the residual graph with reduced weights
//! `w(u, v) − pu[u] − pv[v]`, which the potentials keep non-negative (only the new
//! row's own edges may be negative, which Dijkstra tolerates because they leave the
//! source), stops at the first unmatched real column or dummy it pops, updates the
//! potentials and flips the path. After each addition the assignment of the rows
//! added so far is optimal (the potentials are a dual certificate), so after the last
//! one it is optimal for the whole graph. Cost: one early-stopped Dijkstra per row.
//!
//! Invariants the caller may rely on: a matched real column stays matched for the
//! whole solve (only the row on it can change); a path ending at another row's dummy
//! pushes that row out ("kicked"), and a kicked row is unreachable until it is
//! re-added with [`Assignment::add_row`], which the caller may do with more edges.
//!
//! Internally costs are `i128`, capped at [`COST_CAP`]; potentials are sums of at most
//! a few edge weights per matched row, so they cannot overflow for any book that fits
//! in memory, and the arithmetic saturates regardless.

use std::{cmp::Reverse, collections::BinaryHeap};

use super::candidates::NONE;

/// Edge costs above this are treated as equal to it inside the algorithm (about
/// 2·10^31, far above any real price × limit). With it, potentials stay below
/// `i128::MAX` for up to 2^22 rows.
pub(crate) const COST_CAP: u128 = 1 << 104;

/// A lexicographic weight: matched-edge count (negated), then cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Weight {
	/// Minus the number of real edges; first, so cardinality dominates.
	card: i64,
	/// Total cost.
	cost: i128,
}

impl Weight {
	const ZERO: Weight = Weight { card: 0, cost: 0 };

	fn add(self, o: Weight) -> Weight {
		Weight { card: self.card.saturating_add(o.card), cost: self.cost.saturating_add(o.cost) }
	}

	fn sub(self, o: Weight) -> Weight {
		Weight { card: self.card.saturating_sub(o.card), cost: self.cost.saturating_sub(o.cost) }
	}
}

/// One edge of a row: a real column, the mediator chosen for it, and its cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
	/// The column (resource offer position).
	pub column: u32,
	/// The mediator number, carried through to the proposal.
	pub mediator: u32,
	/// The cost, already capped at [`COST_CAP`].
	pub cost: i128,
}

impl Edge {
	/// An edge with its cost capped for the algorithm.
	pub fn new(column: u32, mediator: u32, cost: u128) -> Edge {
		Edge { column, mediator, cost: cost.min(COST_CAP) as i128 }
	}

	fn weight(&self) -> Weight {
		Weight { card: -1, cost: self.cost }
	}
}

/// Where a row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
	/// Not added yet (or being re-added).
	Unassigned,
	/// Added, and left unmatched (on its dummy).
	Dummy,
	/// Matched to this real column.
	Column(u32),
}

/// What adding a row changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
	/// A column that was unmatched and now is matched (the matching grew by one).
	pub newly_matched: Option<u32>,
	/// A previously matched row that is now unmatched (a swap: same cardinality,
	/// lower cost).
	pub kicked: Option<u32>,
}

/// Dijkstra's scratch space, reused across phases; `stamp` tells this phase's
/// entries from stale ones so nothing is cleared between phases.
struct Search {
	dist: Vec<Weight>,
	/// The row whose edge gave the column its distance.
	pred: Vec<u32>,
	/// `reached[c] == stamp`: `dist[c]` and `pred[c]` are from this phase.
	reached: Vec<u32>,
	/// `done[c] == stamp`: column `c` was popped (its distance is final).
	done: Vec<u32>,
	stamp: u32,
	heap: BinaryHeap<Reverse<(Weight, u32)>>,
	/// Popped columns with their distances, for the potential update.
	settled_columns: Vec<(u32, Weight)>,
	/// Rows reached (the root, and the rows on popped columns) with their distances.
	settled_rows: Vec<(u32, Weight)>,
}

impl Search {
	fn new(columns: usize) -> Self {
		Search {
			dist: vec![Weight::ZERO; columns],
			pred: vec![NONE; columns],
			reached: vec![0; columns],
			done: vec![0; columns],
			stamp: 0,
			heap: BinaryHeap::new(),
			settled_columns: Vec::new(),
			settled_rows: Vec::new(),
		}
	}

	fn next_phase(&mut self) {
		self.stamp = self.stamp.wrapping_add(1);
		if self.stamp == 0 {
			// Wrapped around: clear the marks so none looks current.
			self.reached.iter_mut().for_each(|s| *s = 0);
			self.done.iter_mut().for_each(|s| *s = 0);
			self.stamp = 1;
		}
		self.heap.clear();
		self.settled_columns.clear();
		self.settled_rows.clear();
	}

	/// Relaxes the edges of `row`, reached at distance `at` and with potential
	/// `row_potential`, against column potentials `pv`.
	fn relax(
		&mut self,
		row: u32,
		at: Weight,
		row_potential: Weight,
		edges: &[Edge],
		pv: &[Weight],
	) {
		for e in edges {
			let c = e.column as usize;
			if self.done[c] == self.stamp {
				continue;
			}
			let d = at.add(e.weight().sub(row_potential).sub(pv[c]));
			if self.reached[c] != self.stamp || d < self.dist[c] {
				self.reached[c] = self.stamp;
				self.dist[c] = d;
				self.pred[c] = row;
				self.heap.push(Reverse((d, e.column)));
			}
		}
	}

	/// The closest column not yet popped, without popping it (stale heap entries are
	/// dropped on the way).
	fn peek(&mut self) -> Option<(Weight, u32)> {
		while let Some(&Reverse((d, c))) = self.heap.peek() {
			let ci = c as usize;
			if self.done[ci] == self.stamp || self.dist[ci] != d {
				self.heap.pop();
				continue;
			}
			return Some((d, c));
		}
		None
	}
}

/// Where a phase ended.
enum Terminal {
	/// An unmatched real column.
	Column(u32),
	/// A row's dummy: that row ends unmatched.
	Dummy(u32),
}

/// The incremental assignment of rows to columns.
pub(crate) struct Assignment {
	edges: Vec<Vec<Edge>>,
	slot: Vec<Slot>,
	/// The row on each column, or [`NONE`].
	column_row: Vec<u32>,
	/// Row potentials.
	pu: Vec<Weight>,
	/// Column potentials (zero while a column is unmatched, never positive).
	pv: Vec<Weight>,
	search: Search,
}

impl Assignment {
	/// `rows` rows and `columns` columns, nothing assigned.
	pub fn new(rows: usize, columns: usize) -> Self {
		Assignment {
			edges: vec![Vec::new(); rows],
			slot: vec![Slot::Unassigned; rows],
			column_row: vec![NONE; columns],
			pu: vec![Weight::ZERO; rows],
			pv: vec![Weight::ZERO; columns],
			search: Search::new(columns),
		}
	}

	/// Where `row` stands.
	pub fn slot(&self, row: usize) -> Slot {
		self.slot.get(row).copied().unwrap_or(Slot::Unassigned)
	}

	/// The edges `row` was last added with.
	pub fn edges(&self, row: usize) -> &[Edge] {
		self.edges.get(row).map(Vec::as_slice).unwrap_or(&[])
	}

	/// Adds `row` with `edges` (or re-adds it, replacing its edges, if it is unmatched)
	/// and restores optimality. A row currently matched to a real column is left alone:
	/// re-adding it would need its column freed, which this algorithm never does.
	pub fn add_row(&mut self, row: u32, edges: Vec<Edge>) -> Outcome {
		let r = row as usize;
		match self.slot.get(r) {
			Some(Slot::Unassigned) | Some(Slot::Dummy) => {},
			Some(Slot::Column(_)) | None => return Outcome::default(),
		}
		// The row's old dummy (if any) goes with it; a fresh row's potential is free,
		// and Dijkstra sets it.
		self.slot[r] = Slot::Unassigned;
		self.pu[r] = Weight::ZERO;
		self.edges[r] = edges;
		self.phase(row)
	}

	/// One Dijkstra from `root`, then the potential update and the path flip.
	fn phase(&mut self, root: u32) -> Outcome {
		let Assignment { edges, slot, column_row, pu, pv, search } = self;
		search.next_phase();
		search.settled_rows.push((root, Weight::ZERO));
		// The root's own dummy is at distance 0 (weight 0, potentials 0): leaving the new
		// job unmatched is always possible.
		let mut best_dummy = (Weight::ZERO, root);
		search.relax(root, Weight::ZERO, pu[root as usize], &edges[root as usize], pv.as_slice());
		let (terminal, end) = loop {
			let Some((d, c)) = search.peek() else {
				break (Terminal::Dummy(best_dummy.1), best_dummy.0);
			};
			// On a tie the column goes first: equal weight means equally good.
			if best_dummy.0 < d {
				break (Terminal::Dummy(best_dummy.1), best_dummy.0);
			}
			search.heap.pop();
			let ci = c as usize;
			search.done[ci] = search.stamp;
			search.settled_columns.push((c, d));
			let w = column_row[ci];
			if w == NONE {
				break (Terminal::Column(c), d);
			}
			// The matched edge into `w` is tight (reduced weight 0).
			search.settled_rows.push((w, d));
			let wi = w as usize;
			// `w`'s dummy: weight 0, dummy potential 0.
			let to_dummy = d.sub(pu[wi]);
			if to_dummy < best_dummy.0 {
				best_dummy = (to_dummy, w);
			}
			search.relax(w, d, pu[wi], &edges[wi], pv.as_slice());
		};

		// Potentials: every node reached before the end moves by (end − its distance),
		// which keeps all reduced weights non-negative and makes the path tight.
		for &(c, d) in &search.settled_columns {
			let ci = c as usize;
			pv[ci] = pv[ci].add(d).sub(end);
		}
		for &(w, d) in &search.settled_rows {
			let wi = w as usize;
			pu[wi] = pu[wi].add(end).sub(d);
		}

		// Flip the path back to the root: each column takes the row that reached it,
		// each of those rows gives up the column it held.
		let mut outcome = Outcome::default();
		let mut column = match terminal {
			Terminal::Column(c) => {
				outcome.newly_matched = Some(c);
				c
			},
			Terminal::Dummy(w) => {
				let previous = slot[w as usize];
				slot[w as usize] = Slot::Dummy;
				if w == root {
					return outcome;
				}
				outcome.kicked = Some(w);
				match previous {
					Slot::Column(c) => c,
					// A non-root row is reached only through its column.
					Slot::Unassigned | Slot::Dummy => return outcome,
				}
			},
		};
		loop {
			let ci = column as usize;
			let w = search.pred[ci];
			let Some(previous) = slot.get(w as usize).copied() else { break };
			slot[w as usize] = Slot::Column(column);
			column_row[ci] = w;
			if w == root {
				break;
			}
			match previous {
				Slot::Column(c) => column = c,
				// Only the root is unassigned on a path.
				Slot::Unassigned | Slot::Dummy => break,
			}
		}
		outcome
	}
}
