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
//! Internally edge costs are capped at `u64::MAX` (about 1.8·10^19 planck, 18 million
//! units at 12 decimals for one job: no real price × limit comes near it; dearer
//! edges rank equal) and a weight is one `i128`: the count
//! times 2^[`CARD_SHIFT`] plus the cost. Potentials and distances are bounded by the
//! longest path, at most 2^23 edges of at most 2^64, so the cost part stays far
//! inside ±2^(`CARD_SHIFT` − 1) and the packed order is the lexicographic one; the
//! arithmetic saturates regardless. One `i128` compares and adds in a few
//! instructions and halves the memory Dijkstra touches, which is where a solve spends
//! its time.

use super::candidates::NONE;

/// Where the matched-edge count sits in a packed [`Weight`].
const CARD_SHIFT: u32 = 100;

/// A lexicographic weight, matched-edge count (negated) first so that cardinality
/// dominates, then cost; packed in one `i128` (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Weight(i128);

impl Weight {
	const ZERO: Weight = Weight(0);

	/// One real edge of this cost.
	fn edge(cost: u64) -> Weight {
		Weight(i128::from(cost) - (1 << CARD_SHIFT))
	}

	fn add(self, o: Weight) -> Weight {
		Weight(self.0.saturating_add(o.0))
	}

	fn sub(self, o: Weight) -> Weight {
		Weight(self.0.saturating_sub(o.0))
	}
}

/// One edge of a row: a real column, the mediator chosen for it, and its cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
	/// The column (resource offer position).
	pub column: u32,
	/// The mediator number, carried through to the proposal.
	pub mediator: u32,
	/// The cost, capped at `u64::MAX`.
	pub cost: u64,
}

impl Edge {
	/// An edge with its cost capped for the algorithm.
	pub fn new(column: u32, mediator: u32, cost: u128) -> Edge {
		Edge { column, mediator, cost: u64::try_from(cost).unwrap_or(u64::MAX) }
	}

	fn weight(&self) -> Weight {
		Weight::edge(self.cost)
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

/// Everything about one column that a relaxation reads: its potential and row, and
/// Dijkstra's scratch state. Together, because a relaxation reads it at a random column.
#[derive(Clone, Copy)]
struct ColumnState {
	/// Its potential (zero while it is unmatched, never positive).
	pv: Weight,
	/// This phase's distance, where `reached == stamp`.
	dist: Weight,
	/// The row on it, or [`NONE`].
	row: u32,
	/// The row whose edge gave the column its distance.
	pred: u32,
	/// `reached == stamp`: `dist` and `pred` are from this phase.
	reached: u32,
	/// Its place in [`Frontier`], while it is reached and not popped.
	place: u32,
}

/// The columns popped in this phase, one bit each.
///
/// Asked before the column's state is read: late in a large solve most edges of a row
/// the search reaches lead to columns it has already popped (54 % of the relaxations
/// of the 10,000-offer benchmark book), and this bitset stays in the L1 cache while
/// the columns do not.
struct Popped {
	words: Vec<u64>,
}

impl Popped {
	fn new(columns: usize) -> Self {
		Popped { words: vec![0; columns.div_ceil(64)] }
	}

	fn contains(&self, column: usize) -> bool {
		self.words.get(column / 64).is_some_and(|w| w & (1 << (column % 64)) != 0)
	}

	fn insert(&mut self, column: usize) {
		if let Some(w) = self.words.get_mut(column / 64) {
			*w |= 1 << (column % 64);
		}
	}

	/// Clears the bits of `columns`, which must hold every column inserted.
	fn clear(&mut self, columns: &[(u32, Weight)]) {
		for &(c, _) in columns {
			if let Some(w) = self.words.get_mut(c as usize / 64) {
				*w = 0;
			}
		}
	}
}

/// The columns reached and not yet popped, closest first (ties to the lower column): a
/// 4-ary heap that moves a column up when its distance falls.
///
/// The standard binary heap cannot lower a key, so every shorter distance found was a
/// new entry and the old one stayed as garbage: on the 100,000-offer book the heap
/// held several entries per column and its sifting was a third of the solve. Here a
/// column has one entry, found through [`ColumnState::place`], and four children per
/// node halve the levels a pop walks down.
#[derive(Default)]
struct Frontier {
	items: Vec<(Weight, u32)>,
}

impl Frontier {
	const ARITY: usize = 4;

	fn clear(&mut self) {
		self.items.clear();
	}

	fn first(&self) -> Option<(Weight, u32)> {
		self.items.first().copied()
	}

	/// Puts `column` in at `dist`, or moves it up to `dist` if it is in already.
	fn set(&mut self, columns: &mut [ColumnState], column: u32, dist: Weight, present: bool) {
		let placed = columns.get(column as usize).filter(|_| present).map(|s| s.place as usize);
		let at = match placed {
			Some(at) => {
				if let Some(item) = self.items.get_mut(at) {
					item.0 = dist;
				}
				at
			},
			None => {
				self.items.push((dist, column));
				self.items.len() - 1
			},
		};
		self.sift_up(columns, at);
	}

	/// Takes the closest column out.
	fn pop(&mut self, columns: &mut [ColumnState]) -> Option<(Weight, u32)> {
		let last = self.items.pop()?;
		let Some(first) = self.items.first_mut() else { return Some(last) };
		let top = std::mem::replace(first, last);
		self.sift_down(columns, 0);
		Some(top)
	}

	fn place(&self, columns: &mut [ColumnState], at: usize) {
		if let Some(state) = self.items.get(at).and_then(|&(_, c)| columns.get_mut(c as usize)) {
			state.place = at as u32;
		}
	}

	/// Moves the item at `at` to `to`, the one at `to` to `at`, and records where the
	/// latter now is; the moving item's place is recorded once it stops.
	fn trade(&mut self, columns: &mut [ColumnState], at: usize, to: usize) -> usize {
		self.items.swap(at, to);
		self.place(columns, at);
		to
	}

	fn sift_up(&mut self, columns: &mut [ColumnState], mut at: usize) {
		while at > 0 {
			let parent = (at - 1) / Self::ARITY;
			if self.items[at] >= self.items[parent] {
				break;
			}
			at = self.trade(columns, at, parent);
		}
		self.place(columns, at);
	}

	fn sift_down(&mut self, columns: &mut [ColumnState], mut at: usize) {
		loop {
			let first_child = at * Self::ARITY + 1;
			let children = first_child..(first_child + Self::ARITY).min(self.items.len());
			let Some(child) = children.min_by_key(|&c| self.items[c]) else { break };
			if self.items[child] >= self.items[at] {
				break;
			}
			at = self.trade(columns, at, child);
		}
		self.place(columns, at);
	}
}

/// Dijkstra's scratch space, reused across phases; `stamp` tells this phase's
/// distances from stale ones, and the popped set is cleared by what the phase popped,
/// so nothing is cleared in full between phases.
struct Search {
	columns: Vec<ColumnState>,
	stamp: u32,
	/// The columns popped in this phase.
	done: Popped,
	heap: Frontier,
	/// Popped columns with their distances, for the potential update.
	settled_columns: Vec<(u32, Weight)>,
	/// Rows reached (the root, and the rows on popped columns) with their distances.
	settled_rows: Vec<(u32, Weight)>,
	/// Columns popped over the whole solve, for the solve's log.
	popped: u64,
	/// Edges relaxed over the whole solve, for the log.
	relaxed: u64,
}

impl Search {
	fn new(columns: usize) -> Self {
		Search {
			columns: vec![
				ColumnState {
					pv: Weight::ZERO,
					dist: Weight::ZERO,
					row: NONE,
					pred: NONE,
					reached: 0,
					place: 0,
				};
				columns
			],
			stamp: 0,
			done: Popped::new(columns),
			heap: Frontier::default(),
			settled_columns: Vec::new(),
			settled_rows: Vec::new(),
			popped: 0,
			relaxed: 0,
		}
	}

	fn next_phase(&mut self) {
		self.stamp = self.stamp.wrapping_add(1);
		if self.stamp == 0 {
			// Wrapped around: clear the marks so none looks current.
			self.columns.iter_mut().for_each(|s| {
				s.reached = 0;
			});
			self.stamp = 1;
		}
		self.heap.clear();
		self.done.clear(&self.settled_columns);
		self.settled_columns.clear();
		self.settled_rows.clear();
	}

	/// Relaxes the edges of `row`, reached at distance `at` and with potential
	/// `row_potential`.
	///
	/// `limit` is where the phase will end at the latest (the best dummy, or the
	/// closest unmatched column reached so far): a column farther than that is never
	/// popped, so it is not pushed either. The limit tightens when an unmatched column
	/// is reached closer.
	fn relax(
		&mut self,
		row: u32,
		at: Weight,
		row_potential: Weight,
		edges: &[Edge],
		limit: &mut Weight,
	) {
		let base = at.sub(row_potential);
		let stamp = self.stamp;
		self.relaxed = self.relaxed.saturating_add(edges.len() as u64);
		for e in edges {
			let c = e.column as usize;
			// Most edges of a row reached late lead to columns already popped; the
			// bitset says so from the L1 cache, without touching the column's line.
			if self.done.contains(c) {
				continue;
			}
			let Some(state) = self.columns.get_mut(c) else { continue };
			let d = base.add(e.weight()).sub(state.pv);
			if d > *limit {
				continue;
			}
			let present = state.reached == stamp;
			if !present || d < state.dist {
				state.dist = d;
				state.pred = row;
				state.reached = stamp;
				let free = state.row == NONE;
				self.heap.set(&mut self.columns, e.column, d, present);
				if free && d < *limit {
					*limit = d;
				}
			}
		}
	}

	/// The closest column not yet popped, without popping it.
	fn peek(&self) -> Option<(Weight, u32)> {
		self.heap.first()
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
	/// Row potentials.
	pu: Vec<Weight>,
	/// The columns (their potentials and rows live with Dijkstra's scratch state).
	search: Search,
}

impl Assignment {
	/// `rows` rows and `columns` columns, nothing assigned.
	pub fn new(rows: usize, columns: usize) -> Self {
		Assignment {
			edges: vec![Vec::new(); rows],
			slot: vec![Slot::Unassigned; rows],
			pu: vec![Weight::ZERO; rows],
			search: Search::new(columns),
		}
	}

	/// Columns popped and edges relaxed so far, over all phases.
	pub fn effort(&self) -> (u64, u64) {
		(self.search.popped, self.search.relaxed)
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
		let Assignment { edges, slot, pu, search } = self;
		search.next_phase();
		search.settled_rows.push((root, Weight::ZERO));
		// The root's own dummy is at distance 0 (weight 0, potentials 0): leaving the new
		// job unmatched is always possible.
		let mut best_dummy = (Weight::ZERO, root);
		let mut limit = best_dummy.0;
		search.relax(root, Weight::ZERO, pu[root as usize], &edges[root as usize], &mut limit);
		let (terminal, end) = loop {
			let Some((d, c)) = search.peek() else {
				break (Terminal::Dummy(best_dummy.1), best_dummy.0);
			};
			// On a tie the column goes first: equal weight means equally good.
			if best_dummy.0 < d {
				break (Terminal::Dummy(best_dummy.1), best_dummy.0);
			}
			search.heap.pop(&mut search.columns);
			search.popped = search.popped.saturating_add(1);
			let ci = c as usize;
			search.done.insert(ci);
			search.settled_columns.push((c, d));
			let w = search.columns[ci].row;
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
				limit = limit.min(to_dummy);
			}
			search.relax(w, d, pu[wi], &edges[wi], &mut limit);
		};

		// Potentials: every node reached before the end moves by (end − its distance),
		// which keeps all reduced weights non-negative and makes the path tight.
		let Search { columns, settled_columns, .. } = &mut *search;
		for &(c, d) in settled_columns.iter() {
			let Some(state) = columns.get_mut(c as usize) else { continue };
			state.pv = state.pv.add(d).sub(end);
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
			let w = search.columns[ci].pred;
			let Some(previous) = slot.get(w as usize).copied() else { break };
			slot[w as usize] = Slot::Column(column);
			search.columns[ci].row = w;
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
