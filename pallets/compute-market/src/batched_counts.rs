//! A batch's counters: the open-item counts and reputation records its items change.
//! Each is read once, changed in memory item by item (a refused item's changes dropped
//! with it), and written once after the last item, so that an account in 100 items of
//! a batch has its registration record and its reputation decoded and written once, not
//! 100 times. Every change inside a batch must go through its `BatchedCounts`: its
//! values start from what storage held when the batch first read them.

use crate::{pallet::*, types::*};
use alloc::collections::BTreeMap;
use frame_support::pallet_prelude::*;

/// Values read once and changed item by item: the finished items' values, and the
/// current item's changes kept apart until it succeeds.
struct Layered<K, V> {
	/// Each key's value as the finished items left it, and whether they changed it.
	settled: BTreeMap<K, (V, bool)>,
	/// The current item's values.
	pending: BTreeMap<K, V>,
}

impl<K: Ord + Clone, V: Clone> Layered<K, V> {
	fn new() -> Self {
		Layered { settled: BTreeMap::new(), pending: BTreeMap::new() }
	}

	/// The value of `key` as the items so far left it, read with `load` the first time.
	fn get(&mut self, key: &K, load: impl FnOnce() -> V) -> V {
		if let Some(value) = self.pending.get(key) {
			return value.clone();
		}
		self.settled.entry(key.clone()).or_insert_with(|| (load(), false)).0.clone()
	}

	fn set(&mut self, key: K, value: V) {
		self.pending.insert(key, value);
	}

	fn end_item(&mut self, succeeded: bool) {
		let pending = core::mem::take(&mut self.pending);
		if succeeded {
			for (key, value) in pending {
				self.settled.insert(key, (value, true));
			}
		}
	}

	/// The values the finished items changed.
	fn into_changed(self) -> impl Iterator<Item = (K, V)> {
		self.settled
			.into_iter()
			.filter_map(|(key, (value, changed))| changed.then_some((key, value)))
	}
}

/// Which reputation counter an outcome adds to.
pub(crate) type Counter = fn(&mut Reputation) -> &mut u32;

/// Adds one to `counter` of `record`, saturating.
pub(crate) fn add_one(record: &mut Reputation, counter: Counter) {
	let count = counter(record);
	*count = count.saturating_add(1);
}

/// A batch's open-item counts and reputation records.
pub(crate) struct BatchedCounts<T: Config> {
	/// Per account and role: its open-item count, `None` if it is not registered.
	open_items: Layered<(T::AccountId, Role), Option<u32>>,
	/// Per account and role: its record.
	records: Layered<(T::AccountId, Role), Reputation>,
}

impl<T: Config> Default for BatchedCounts<T> {
	fn default() -> Self {
		BatchedCounts { open_items: Layered::new(), records: Layered::new() }
	}
}

impl<T: Config> BatchedCounts<T> {
	/// [`Pallet::adjust_open_items`], in the batch.
	pub(crate) fn adjust_open_items(
		&mut self,
		who: &T::AccountId,
		role: Role,
		add: bool,
	) -> DispatchResult {
		let key = (who.clone(), role);
		let open = self
			.open_items
			.get(&key, || Pallet::<T>::open_items_of(who, role))
			.ok_or(Error::<T>::NotRegistered)?;
		let open = Pallet::<T>::stepped_open_items(role, open, add)?;
		self.open_items.set(key, Some(open));
		Ok(())
	}

	/// Adds one to `counter` of `who`'s record in `role`.
	pub(crate) fn count(&mut self, who: &T::AccountId, role: Role, counter: Counter) {
		let key = (who.clone(), role);
		let mut record = self.records.get(&key, || Reputations::<T>::get(who, role));
		add_one(&mut record, counter);
		self.records.set(key, record);
	}

	pub(crate) fn end_item(&mut self, succeeded: bool) {
		self.open_items.end_item(succeeded);
		self.records.end_item(succeeded);
	}

	/// Writes what the finished items changed.
	pub(crate) fn finish(self) -> DispatchResult {
		for ((who, role), open) in self.open_items.into_changed() {
			// Only a registered account's count is ever changed.
			let open = open.ok_or(Error::<T>::NotRegistered)?;
			Pallet::<T>::set_open_items(&who, role, |_| Ok(open))?;
		}
		for ((who, role), record) in self.records.into_changed() {
			Reputations::<T>::insert(who, role, record);
		}
		Ok(())
	}
}
