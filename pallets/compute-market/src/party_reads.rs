//! What a match reads of its parties and the market: registrations, trust, base layers
//! and parameters. No item of a `post_matches` batch changes any of them (a match's open
//! items go to the batch's counters, written after its last item), so a batch reads each
//! once, however many of its matches share the parties; a single match reads each once
//! too, where its rules used to read some of them twice.

use crate::{pallet::*, types::*};
use alloc::collections::BTreeMap;
use frame_support::BoundedVec;

/// Storage a match reads, each entry read at most once.
pub(crate) struct PartyReads<T: Config> {
	parameters: Option<MarketParameters<BalanceOf<T>>>,
	providers: BTreeMap<T::AccountId, Option<ResourceProviderInfo<BalanceOf<T>>>>,
	mediators: BTreeMap<T::AccountId, Option<MediatorInfo<BalanceOf<T>>>>,
	directories: BTreeMap<T::AccountId, Option<DirectoryInfo<BalanceOf<T>>>>,
	/// (who, mediator): whether `who` trusts the mediator's current registration.
	trusted_mediators: BTreeMap<(T::AccountId, T::AccountId), bool>,
	/// (who, directory): whether `who` trusts the directory's current registration.
	trusted_directories: BTreeMap<(T::AccountId, T::AccountId), bool>,
	/// The base layers each account has declared; scanned per match, since a batch's
	/// matches of the same parties may name different layers.
	layers: BTreeMap<T::AccountId, BoundedVec<ContentHash, T::MaxBaseLayers>>,
}

impl<T: Config> Default for PartyReads<T> {
	fn default() -> Self {
		PartyReads {
			parameters: None,
			providers: BTreeMap::new(),
			mediators: BTreeMap::new(),
			directories: BTreeMap::new(),
			trusted_mediators: BTreeMap::new(),
			trusted_directories: BTreeMap::new(),
			layers: BTreeMap::new(),
		}
	}
}

impl<T: Config> PartyReads<T> {
	pub(crate) fn parameters(&mut self) -> MarketParameters<BalanceOf<T>> {
		self.parameters.get_or_insert_with(Parameters::<T>::get).clone()
	}

	pub(crate) fn provider(
		&mut self,
		who: &T::AccountId,
	) -> Option<ResourceProviderInfo<BalanceOf<T>>> {
		self.providers
			.entry(who.clone())
			.or_insert_with(|| ResourceProviders::<T>::get(who))
			.clone()
	}

	pub(crate) fn mediator(&mut self, who: &T::AccountId) -> Option<MediatorInfo<BalanceOf<T>>> {
		self.mediators.entry(who.clone()).or_insert_with(|| Mediators::<T>::get(who)).clone()
	}

	pub(crate) fn directory(&mut self, who: &T::AccountId) -> Option<DirectoryInfo<BalanceOf<T>>> {
		self.directories.entry(who.clone()).or_insert_with(|| Directories::<T>::get(who)).clone()
	}

	/// [`Pallet::trusts_mediator`], read once per pair.
	pub(crate) fn trusts_mediator(
		&mut self,
		who: &T::AccountId,
		mediator: &T::AccountId,
		info: &MediatorInfo<BalanceOf<T>>,
	) -> bool {
		*self
			.trusted_mediators
			.entry((who.clone(), mediator.clone()))
			.or_insert_with(|| Pallet::<T>::trusts_mediator(who, mediator, info))
	}

	/// [`Pallet::trusts_directory`], read once per pair.
	pub(crate) fn trusts_directory(
		&mut self,
		who: &T::AccountId,
		directory: &T::AccountId,
		info: &DirectoryInfo<BalanceOf<T>>,
	) -> bool {
		*self
			.trusted_directories
			.entry((who.clone(), directory.clone()))
			.or_insert_with(|| Pallet::<T>::trusts_directory(who, directory, info))
	}

	/// Whether `who` has declared `layer`; its list is read once.
	pub(crate) fn supports_layer(&mut self, who: &T::AccountId, layer: &ContentHash) -> bool {
		self.layers
			.entry(who.clone())
			.or_insert_with(|| SupportedBaseLayers::<T>::get(who))
			.contains(layer)
	}
}
