//! Benchmarks of every call, each in its worst case: trust and layer lists full with
//! the entry sought last, references at their maximum length, and settlements that
//! make every payment a close path can make.

use super::*;
use crate::pallet::{
	Directories, DirectoryTrust, DisputedRecords, JobOffers, Matches, MediatorTrust, Mediators,
	Parameters, ReplicaGroups, ResourceOffers, SupportedBaseLayers, TrustedDirectories,
	TrustedMediators,
};
use frame_benchmarking::v2::*;
use frame_support::{
	pallet_prelude::{ConstU32, Get},
	traits::fungible::{Inspect, Mutate},
	BoundedVec,
};
use frame_system::RawOrigin;

const START: Moment = 1_700_000_000_000;
const HOUR: Moment = 3_600_000;
const LAYER: ContentHash = [0xba; 32];
/// Each weight component of a batch with two goes up to half a batch, so that both at
/// their most still fit one.
const HALF_BATCH: u32 = MAX_BATCH_ITEMS / 2;

fn balance<T: Config>(amount: u128) -> BalanceOf<T> {
	BalanceOf::<T>::try_from(amount).unwrap_or_else(|_| panic!("benchmark amounts fit any balance"))
}

fn funded<T: Config>(name: &'static str) -> T::AccountId {
	funded_at::<T>(name, 0)
}

/// Account `index` of the kind `name`, funded.
fn funded_at<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let endowment = balance::<T>(1 << 40).max(T::Currency::minimum_balance());
	T::Currency::set_balance(&who, endowment);
	who
}

fn long_reference() -> Reference {
	BoundedVec::truncate_from(alloc::vec![b'x'; MAX_REFERENCE_LEN as usize])
}

fn set_up_parameters<T: Config>() {
	T::BenchmarkHelper::set_time(START);
	Parameters::<T>::put(MarketParameters {
		registration_bond: balance::<T>(1_000),
		deposit_floor: balance::<T>(10),
		..Default::default()
	});
}

/// A full list: `Max - 1` fillers, then `last`.
fn full_list<Item: Clone, Bound: Get<u32>>(
	filler: impl Fn(u32) -> Item,
	last: Option<Item>,
) -> BoundedVec<Item, Bound> {
	let room = Bound::get().saturating_sub(last.is_some() as u32);
	let mut items: alloc::vec::Vec<Item> = (0..room).map(filler).collect();
	items.extend(last);
	BoundedVec::truncate_from(items)
}

fn fill_trust<T: Config>(
	who: &T::AccountId,
	mediator: Option<&T::AccountId>,
	directory: Option<&T::AccountId>,
) {
	TrustedMediators::<T>::insert(
		who,
		full_list::<_, T::MaxTrustedMediators>(|i| account("filler", i, 1), mediator.cloned()),
	);
	TrustedDirectories::<T>::insert(
		who,
		full_list::<_, T::MaxTrustedDirectories>(|i| account("filler", i, 2), directory.cloned()),
	);
	if let Some(m) = mediator {
		let serial = Mediators::<T>::get(m).expect("registered first").registration;
		MediatorTrust::<T>::insert(who, m, serial);
	}
	if let Some(d) = directory {
		let serial = Directories::<T>::get(d).expect("registered first").registration;
		DirectoryTrust::<T>::insert(who, d, serial);
	}
}

fn fill_layers<T: Config>(who: &T::AccountId, last: Option<ContentHash>) {
	SupportedBaseLayers::<T>::insert(
		who,
		full_list::<_, T::MaxBaseLayers>(|i| [i as u8 ^ 0x55; 32], last),
	);
}

struct Parties<T: Config> {
	job_creator: T::AccountId,
	provider: T::AccountId,
	mediator: T::AccountId,
	directory: T::AccountId,
	solver: T::AccountId,
}

fn job_terms<T: Config>(directory: &T::AccountId) -> JobTermsOf<T> {
	JobOfferTerms {
		provider_record: None,
		instruction_limit: 1_000,
		bandwidth_limit: 500,
		instruction_max_price: balance::<T>(2),
		bandwidth_max_price: balance::<T>(1),
		completion_deadline: START + HOUR,
		match_incentive: balance::<T>(5),
		first_layer_hash: LAYER,
		ram_limit: 512,
		local_storage_limit: 1_024,
		directory: directory.clone(),
		job_reference: long_reference(),
		job_hash: [7; 32],
		arch: Architecture::Amd64,
	}
}

fn resource_terms<T: Config>() -> ResourceOfferTerms<BalanceOf<T>> {
	ResourceOfferTerms {
		creator_record: None,
		instruction_price: balance::<T>(1),
		instruction_cap: 2_000,
		memory_cap: 1_024,
		local_storage_cap: 4_096,
		bandwidth_cap: 1_000,
		bandwidth_price: balance::<T>(1),
		match_incentive: balance::<T>(3),
	}
}

/// Every role registered, trust and layer lists full with the needed entries last.
fn market<T: Config>() -> Parties<T> {
	set_up_parameters::<T>();
	registered_group::<T>(0)
}

/// Party group `g`: a JC, an RP, a mediator and a directory of its own (and a solver),
/// registered, each trusting the group's own, with full trust and layer lists.
fn registered_group<T: Config>(g: u32) -> Parties<T> {
	let parties: Parties<T> = Parties {
		job_creator: funded_at::<T>("job-creator", g),
		provider: funded_at::<T>("provider", g),
		mediator: funded_at::<T>("mediator", g),
		directory: funded_at::<T>("directory", g),
		solver: funded_at::<T>("solver", g),
	};
	let p = &parties;
	Pallet::<T>::do_register_job_creator(p.job_creator.clone()).expect("funded");
	Pallet::<T>::do_register_resource_provider(p.provider.clone(), Architecture::Amd64, 1_000_000)
		.expect("funded");
	let terms = MediatorTerms {
		instruction_price: balance::<T>(1),
		bandwidth_price: balance::<T>(1),
		availability_price: balance::<T>(7),
	};
	Pallet::<T>::do_register_mediator(p.mediator.clone(), Architecture::Amd64, 1_000_000, terms)
		.expect("funded");
	Pallet::<T>::do_register_directory(p.directory.clone(), long_reference(), balance::<T>(5))
		.expect("funded");
	fill_trust::<T>(&p.job_creator, Some(&p.mediator), None);
	fill_trust::<T>(&p.provider, Some(&p.mediator), Some(&p.directory));
	fill_trust::<T>(&p.mediator, None, Some(&p.directory));
	// The directory answers to the mediator, so a verdict against it pays from its bond.
	fill_trust::<T>(&p.directory, Some(&p.mediator), None);
	fill_layers::<T>(&p.provider, Some(LAYER));
	fill_layers::<T>(&p.mediator, Some(LAYER));
	parties
}

/// Posts one job offer and one resource offer (ids 0 and 1 in a new market) with
/// deposits that cover matching with the parties' mediator; returns their ids.
fn offers<T: Config>(p: &Parties<T>) -> (OfferId, OfferId) {
	let job_id = crate::pallet::NextOfferId::<T>::get();
	let job = job_terms::<T>(&p.directory);
	let job_deposit = Pallet::<T>::quote_job_deposit(&job, Some(&p.mediator)).expect("quotable");
	Pallet::<T>::do_post_job_offer(
		p.job_creator.clone(),
		job,
		balance::<T>(job_deposit),
		START + HOUR,
		&mut Effects::Now,
	)
	.expect("valid offer");
	let resource = resource_terms::<T>();
	let resource_deposit =
		Pallet::<T>::quote_resource_deposit(&resource, Some(&p.mediator), Some(&p.directory))
			.expect("quotable");
	Pallet::<T>::do_post_resource_offer(
		p.provider.clone(),
		resource,
		balance::<T>(resource_deposit),
		START + HOUR,
		&mut Effects::Now,
	)
	.expect("valid offer");
	(job_id, job_id + 1)
}

fn matched<T: Config>() -> Parties<T> {
	let p = market::<T>();
	offers::<T>(&p);
	Pallet::<T>::do_post_match(p.solver.clone(), 0, 1, p.mediator.clone(), &mut Effects::Now)
		.expect("feasible");
	p
}

fn result_posted<T: Config>() -> Parties<T> {
	let p = matched::<T>();
	let result = PostedResult {
		status: ResultStatus::Completed,
		reference: long_reference(),
		hash: [0x11; 32],
		instruction_count: 800,
		bandwidth_used: 300,
	};
	Pallet::<T>::do_post_result(p.provider.clone(), 0, result).expect("valid result");
	p
}

/// `r` record names of the longest length, ascending.
fn disputed_records(r: u32) -> DisputedRecordNames {
	let names = (0..r).map(|i| {
		let mut name = alloc::vec![b'x'; MAX_RECORD_NAME_LEN as usize];
		name[0] = b'a' + (i / 26) as u8;
		name[1] = b'a' + (i % 26) as u8;
		RecordName::truncate_from(name)
	});
	BoundedVec::truncate_from(names.collect())
}

/// Match 0 in mediation; a `WrongResults` rejection names the most records, so a close
/// out of it also removes the longest list.
fn in_mediation<T: Config>(reason: RejectReason) -> Parties<T> {
	let p = result_posted::<T>();
	if reason == RejectReason::WrongResults {
		let records = disputed_records(MAX_DISPUTED_RECORDS);
		Pallet::<T>::do_reject_records(p.job_creator.clone(), 0, records).expect("valid names");
	} else {
		Pallet::<T>::do_reject_result(p.job_creator.clone(), 0, reason).expect("within the window");
	}
	p
}

/// A registered RP like the parties' own, with a resource offer; returns its offer id.
fn replica_provider<T: Config>(p: &Parties<T>, who: &T::AccountId) -> OfferId {
	if !ResourceProviders::<T>::contains_key(who) {
		let endowment = balance::<T>(1 << 40).max(T::Currency::minimum_balance());
		T::Currency::set_balance(who, endowment);
		Pallet::<T>::do_register_resource_provider(who.clone(), Architecture::Amd64, 1_000_000)
			.expect("funded");
		fill_trust::<T>(who, Some(&p.mediator), Some(&p.directory));
		fill_layers::<T>(who, Some(LAYER));
	}
	let resource = resource_terms::<T>();
	let deposit =
		Pallet::<T>::quote_resource_deposit(&resource, Some(&p.mediator), Some(&p.directory))
			.expect("quotable");
	let id = crate::pallet::NextOfferId::<T>::get();
	Pallet::<T>::do_post_resource_offer(
		who.clone(),
		resource,
		balance::<T>(deposit),
		START + HOUR,
		&mut Effects::Now,
	)
	.expect("valid offer");
	id
}

/// A job posted as `r` replicas (offers `0..r`), the excluded list full, each replica
/// matched to its own RP (match `i` runs replica `i`); returns the RPs.
fn replicas_matched<T: Config>(r: u32) -> (Parties<T>, alloc::vec::Vec<T::AccountId>) {
	let p = market::<T>();
	let job = job_terms::<T>(&p.directory);
	let deposit = Pallet::<T>::quote_job_deposit(&job, Some(&p.mediator)).expect("quotable");
	let excluded =
		full_list::<_, ConstU32<MAX_EXCLUDED_PROVIDERS>>(|i| account("excluded", i, 3), None);
	Pallet::<T>::do_post_replicated_job_offer(
		p.job_creator.clone(),
		job,
		r,
		excluded,
		balance::<T>(deposit),
		START + HOUR,
	)
	.expect("valid replicas");
	let providers: alloc::vec::Vec<T::AccountId> = (0..r)
		.map(|i| if i == 0 { p.provider.clone() } else { account("replica", i, 4) })
		.collect();
	for (i, who) in providers.iter().enumerate() {
		let offer = replica_provider::<T>(&p, who);
		Pallet::<T>::do_post_match(
			p.solver.clone(),
			i as OfferId,
			offer,
			p.mediator.clone(),
			&mut Effects::Now,
		)
		.expect("feasible");
	}
	(p, providers)
}

/// Replica `i` (match `i`, run by `who`) commits to a result with root `hash`.
fn commit<T: Config>(who: &T::AccountId, i: usize, hash: u8) {
	let commitment = Pallet::<T>::result_commitment(
		i as MatchId,
		ResultStatus::Completed,
		&replica_result(hash).hash,
	);
	Pallet::<T>::do_commit_result(who.clone(), i as MatchId, commitment).expect("in time");
}

/// Replica `i` reveals the result it committed to.
fn reveal<T: Config>(who: &T::AccountId, i: usize, hash: u8) {
	Pallet::<T>::do_reveal_result(who.clone(), i as MatchId, replica_result(hash))
		.expect("committed, and no replica still committing");
}

/// `r` replicas matched, every one committed to root `0x11`, all but the last
/// revealed; returns the parties and the RPs.
fn all_but_last_revealed<T: Config>(r: u32) -> (Parties<T>, alloc::vec::Vec<T::AccountId>) {
	let (p, providers) = replicas_matched::<T>(r);
	let last = providers.len() - 1;
	for (i, who) in providers.iter().enumerate() {
		commit::<T>(who, i, 0x11);
	}
	for (i, who) in providers.iter().enumerate().take(last) {
		reveal::<T>(who, i, 0x11);
	}
	(p, providers)
}

fn replica_result(hash: u8) -> PostedResult {
	PostedResult {
		status: ResultStatus::Completed,
		reference: long_reference(),
		hash: [hash; 32],
		instruction_count: 800,
		bandwidth_used: 300,
	}
}

/// `shared` matches of group 0's parties, then `own` more, each of a group of its own
/// (groups `1..=own`), all posted by group 0's solver; returns the groups.
fn matched_in_groups<T: Config>(shared: u32, own: u32) -> alloc::vec::Vec<Parties<T>> {
	set_up_parameters::<T>();
	let groups: alloc::vec::Vec<Parties<T>> = (0..=own).map(registered_group::<T>).collect();
	let solver = groups[0].solver.clone();
	for i in 0..shared + own {
		let p = &groups[group_of_item(i, shared)];
		let (job, resource) = offers::<T>(p);
		Pallet::<T>::do_post_match(
			solver.clone(),
			job,
			resource,
			p.mediator.clone(),
			&mut Effects::Now,
		)
		.expect("feasible");
	}
	groups
}

/// The group of item `i` of a batch whose first `shared` items are group 0's and whose
/// others each have a group of their own.
fn group_of_item(i: u32, shared: u32) -> usize {
	i.saturating_sub(shared).saturating_add(u32::from(i >= shared)) as usize
}

/// What an RP posts as a completed job's result.
fn completed_result() -> PostedResult {
	PostedResult {
		status: ResultStatus::Completed,
		reference: long_reference(),
		hash: [0x11; 32],
		instruction_count: 800,
		bandwidth_used: 300,
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_resource_provider() {
		set_up_parameters::<T>();
		let who = funded::<T>("provider");
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), Architecture::Amd64, 1_000_000);
		assert!(ResourceProviders::<T>::contains_key(&who));
	}

	#[benchmark]
	fn register_job_creator() {
		set_up_parameters::<T>();
		let who = funded::<T>("job-creator");
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()));
		assert!(JobCreators::<T>::contains_key(&who));
	}

	#[benchmark]
	fn register_mediator() {
		set_up_parameters::<T>();
		let who = funded::<T>("mediator");
		#[extrinsic_call]
		_(
			RawOrigin::Signed(who.clone()),
			Architecture::Amd64,
			1_000_000,
			balance::<T>(1),
			balance::<T>(1),
			balance::<T>(7),
		);
		assert!(Mediators::<T>::contains_key(&who));
	}

	#[benchmark]
	fn register_directory() {
		set_up_parameters::<T>();
		let who = funded::<T>("directory");
		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), long_reference(), balance::<T>(5));
		assert!(Directories::<T>::contains_key(&who));
	}

	#[benchmark]
	fn deregister() {
		let p = market::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(p.provider.clone()), Role::ResourceProvider);
		assert!(!ResourceProviders::<T>::contains_key(&p.provider));
	}

	#[benchmark]
	fn trust_mediator() {
		let p = market::<T>();
		TrustedMediators::<T>::insert(
			&p.job_creator,
			full_list::<_, T::MaxTrustedMediators>(
				|i| account("filler", i, 1),
				None::<T::AccountId>,
			),
		);
		TrustedMediators::<T>::mutate(&p.job_creator, |list| {
			list.pop();
		});
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), p.mediator.clone());
		assert!(TrustedMediators::<T>::get(&p.job_creator).contains(&p.mediator));
	}

	#[benchmark]
	fn distrust_mediator() {
		let p = market::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), p.mediator.clone());
		assert!(!TrustedMediators::<T>::get(&p.job_creator).contains(&p.mediator));
	}

	#[benchmark]
	fn trust_directory() {
		let p = market::<T>();
		TrustedDirectories::<T>::mutate(&p.provider, |list| {
			list.pop();
		});
		#[extrinsic_call]
		_(RawOrigin::Signed(p.provider.clone()), p.directory.clone());
		assert!(TrustedDirectories::<T>::get(&p.provider).contains(&p.directory));
	}

	#[benchmark]
	fn distrust_directory() {
		let p = market::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(p.provider.clone()), p.directory.clone());
		assert!(!TrustedDirectories::<T>::get(&p.provider).contains(&p.directory));
	}

	#[benchmark]
	fn add_base_layer() {
		let p = market::<T>();
		SupportedBaseLayers::<T>::mutate(&p.provider, |list| {
			list.pop();
		});
		#[extrinsic_call]
		_(RawOrigin::Signed(p.provider.clone()), LAYER);
		assert!(SupportedBaseLayers::<T>::get(&p.provider).contains(&LAYER));
	}

	#[benchmark]
	fn remove_base_layer() {
		let p = market::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(p.provider.clone()), LAYER);
		assert!(!SupportedBaseLayers::<T>::get(&p.provider).contains(&LAYER));
	}

	#[benchmark]
	fn post_resource_offer() {
		let p = market::<T>();
		let terms = resource_terms::<T>();
		let deposit = Pallet::<T>::quote_resource_deposit(&terms, None, None).expect("quotable");
		#[extrinsic_call]
		_(RawOrigin::Signed(p.provider.clone()), terms, balance::<T>(deposit), START + HOUR);
		assert!(ResourceOffers::<T>::contains_key(0));
	}

	#[benchmark]
	fn post_job_offer() {
		let p = market::<T>();
		let terms = job_terms::<T>(&p.directory);
		let deposit = Pallet::<T>::quote_job_deposit(&terms, None).expect("quotable");
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), terms, balance::<T>(deposit), START + HOUR);
		assert!(JobOffers::<T>::contains_key(0));
	}

	#[benchmark]
	fn cancel_offer() {
		let p = market::<T>();
		offers::<T>(&p);
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), OfferRef::Job(0));
		assert!(!JobOffers::<T>::contains_key(0));
	}

	#[benchmark]
	fn clear_expired_offer() {
		let p = market::<T>();
		offers::<T>(&p);
		T::BenchmarkHelper::set_time(START + HOUR + 1);
		#[extrinsic_call]
		_(RawOrigin::Signed(p.solver.clone()), OfferRef::Job(0));
		assert!(!JobOffers::<T>::contains_key(0));
	}

	#[benchmark]
	fn post_match() {
		let p = market::<T>();
		offers::<T>(&p);
		#[extrinsic_call]
		_(RawOrigin::Signed(p.solver.clone()), 0, 1, p.mediator.clone());
		assert!(Matches::<T>::contains_key(0));
	}

	#[benchmark]
	fn post_result() {
		let p = matched::<T>();
		#[extrinsic_call]
		_(
			RawOrigin::Signed(p.provider.clone()),
			0,
			ResultStatus::Completed,
			long_reference(),
			[0x11; 32],
			800,
			300,
		);
		assert!(matches!(
			Matches::<T>::get(0).map(|m| m.state),
			Some(MatchState::ResultPosted { .. })
		));
	}

	#[benchmark]
	fn accept_result() {
		let p = result_posted::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), 0);
		assert!(!Matches::<T>::contains_key(0));
	}

	#[benchmark]
	fn reject_result() {
		let p = result_posted::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), 0, RejectReason::WrongResults);
		assert!(matches!(
			Matches::<T>::get(0).map(|m| m.state),
			Some(MatchState::InMediation { .. })
		));
	}

	#[benchmark]
	fn reject_records(r: Linear<1, MAX_DISPUTED_RECORDS>) {
		let p = result_posted::<T>();
		let records = disputed_records(r);
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), 0, records);
		assert_eq!(DisputedRecords::<T>::get(0).map(|names| names.len() as u32), Some(r));
	}

	#[benchmark]
	fn timeout() {
		let p = matched::<T>();
		// A stranger closing an abandoned match after the grace period.
		let grace = Parameters::<T>::get().settlement_grace;
		T::BenchmarkHelper::set_time(START + HOUR + grace + 1);
		#[extrinsic_call]
		_(RawOrigin::Signed(p.solver.clone()), 0);
		assert!(!Matches::<T>::contains_key(0));
	}

	#[benchmark]
	fn post_mediation_result() {
		let p = in_mediation::<T>(RejectReason::WrongResults);
		#[extrinsic_call]
		_(
			RawOrigin::Signed(p.mediator.clone()),
			0,
			Verdict::WrongResults,
			FaultyParty::ResourceProvider,
			700,
			300,
			[0x22; 32],
		);
		assert!(!Matches::<T>::contains_key(0));
	}

	/// The other verdict path: the directory at fault pays the mediator from its bond,
	/// within its liability, and a short payment is announced.
	#[benchmark]
	fn post_mediation_result_directory_fault() {
		let p = in_mediation::<T>(RejectReason::DirectoryUnavailable);
		#[extrinsic_call]
		post_mediation_result(
			RawOrigin::Signed(p.mediator.clone()),
			0,
			Verdict::DirectoryUnavailable,
			FaultyParty::Directory,
			1_000,
			500,
			[0x22; 32],
		);
		assert!(!Matches::<T>::contains_key(0));
	}

	#[benchmark]
	fn mediation_timeout() {
		let p = in_mediation::<T>(RejectReason::WrongResults);
		T::BenchmarkHelper::set_time(START + HOUR);
		#[extrinsic_call]
		_(RawOrigin::Signed(p.solver.clone()), 0);
		assert!(!Matches::<T>::contains_key(0));
	}

	#[benchmark]
	fn set_parameters() {
		let parameters = MarketParameters { verification_count: 3, ..Default::default() };
		#[extrinsic_call]
		_(RawOrigin::Root, parameters.clone());
		assert_eq!(Parameters::<T>::get(), parameters);
	}

	#[benchmark]
	fn post_replicated_job_offer(r: Linear<2, MAX_REPLICAS>) {
		let p = market::<T>();
		let terms = job_terms::<T>(&p.directory);
		let deposit = Pallet::<T>::quote_job_deposit(&terms, None).expect("quotable");
		let excluded =
			full_list::<_, ConstU32<MAX_EXCLUDED_PROVIDERS>>(|i| account("excluded", i, 3), None);
		#[extrinsic_call]
		_(
			RawOrigin::Signed(p.job_creator.clone()),
			terms,
			r,
			excluded,
			balance::<T>(deposit),
			START + HOUR,
		);
		assert!(ReplicaGroups::<T>::contains_key(0));
	}

	/// The last replica's reveal: every replica agrees, so all r matches close.
	#[benchmark]
	fn reveal_result(r: Linear<2, MAX_REPLICAS>) {
		let (_, providers) = all_but_last_revealed::<T>(r);
		let last = providers.len() - 1;
		#[extrinsic_call]
		_(
			RawOrigin::Signed(providers[last].clone()),
			last as MatchId,
			ResultStatus::Completed,
			long_reference(),
			[0x11; 32],
			800,
			300,
		);
		assert!(!ReplicaGroups::<T>::contains_key(0));
		assert!(!Matches::<T>::contains_key(0));
	}

	/// After the deadline, with one replica silent, the r − 1 that posted agree and close.
	/// From three replicas up: of two, the one that posted only opens its reaction window,
	/// which costs less than the line through the closes gives, and touches no balance,
	/// so the analysis could not fit a slope to the balances' storage.
	#[benchmark]
	fn settle_replicas(r: Linear<3, MAX_REPLICAS>) {
		let (p, providers) = all_but_last_revealed::<T>(r);
		let last = providers.len() - 1;
		// The last replica committed but let its reveal deadline pass.
		let reveal_window = Matches::<T>::get(last as MatchId).expect("matched").reaction_window;
		T::BenchmarkHelper::set_time(START + HOUR + reveal_window + 1);
		#[extrinsic_call]
		_(RawOrigin::Signed(p.solver.clone()), 0);
		assert!(!ReplicaGroups::<T>::contains_key(0));
	}

	/// Every replica posted something else and the mediator finds all of them wrong:
	/// r fines.
	#[benchmark]
	fn post_replica_verdict(r: Linear<2, MAX_REPLICAS>) {
		let (p, providers) = replicas_matched::<T>(r);
		for (i, who) in providers.iter().enumerate() {
			commit::<T>(who, i, i as u8);
		}
		for (i, who) in providers.iter().enumerate() {
			reveal::<T>(who, i, i as u8);
		}
		let verdict = ReplicaVerdict::Deterministic {
			status: ResultStatus::Completed,
			result_hash: [0xee; 32],
		};
		#[extrinsic_call]
		_(RawOrigin::Signed(p.mediator.clone()), 0, verdict, 700, 300);
		assert!(!ReplicaGroups::<T>::contains_key(0));
		assert!(!Matches::<T>::contains_key(0));
	}

	#[benchmark]
	fn commit_result() {
		let (_, providers) = replicas_matched::<T>(MAX_REPLICAS);
		let commitment = Pallet::<T>::result_commitment(0, ResultStatus::Completed, &[0x11; 32]);
		#[extrinsic_call]
		_(RawOrigin::Signed(providers[0].clone()), 0, commitment);
		assert!(matches!(
			Matches::<T>::get(0).map(|m| m.state),
			Some(MatchState::Committed { .. })
		));
	}

	/// One JC posts `n` job offers, each naming a directory of its own (so no item
	/// reads what an earlier one read).
	#[benchmark]
	fn post_job_offers(n: Linear<1, MAX_BATCH_ITEMS>) {
		let p = market::<T>();
		let offers: alloc::vec::Vec<_> = (0..n)
			.map(|i| {
				let directory = if i == 0 {
					p.directory.clone()
				} else {
					let d = funded_at::<T>("directory", i);
					Pallet::<T>::do_register_directory(
						d.clone(),
						long_reference(),
						balance::<T>(5),
					)
					.expect("funded");
					d
				};
				let job = job_terms::<T>(&directory);
				let deposit = Pallet::<T>::quote_job_deposit(&job, None).expect("quotable");
				(job, balance::<T>(deposit), START + HOUR)
			})
			.collect();
		#[extrinsic_call]
		_(RawOrigin::Signed(p.job_creator.clone()), BoundedVec::truncate_from(offers));
		assert_eq!(JobOffers::<T>::iter().count() as u32, n);
	}

	#[benchmark]
	fn post_resource_offers(n: Linear<1, MAX_BATCH_ITEMS>) {
		let p = market::<T>();
		let resource = resource_terms::<T>();
		let deposit =
			Pallet::<T>::quote_resource_deposit(&resource, Some(&p.mediator), Some(&p.directory))
				.expect("quotable");
		let offers = alloc::vec![(resource, balance::<T>(deposit), START + HOUR); n as usize];
		#[extrinsic_call]
		_(RawOrigin::Signed(p.provider.clone()), BoundedVec::truncate_from(offers));
		assert_eq!(ResourceOffers::<T>::iter().count() as u32, n);
	}

	/// A solver posts `s` matches of one group's parties and `e` more, each of a group of
	/// four accounts of its own.
	#[benchmark]
	fn post_matches(s: Linear<1, HALF_BATCH>, e: Linear<0, HALF_BATCH>) {
		set_up_parameters::<T>();
		let groups: alloc::vec::Vec<Parties<T>> = (0..=e).map(registered_group::<T>).collect();
		let matches: alloc::vec::Vec<_> = (0..s + e)
			.map(|i| {
				let p = &groups[group_of_item(i, s)];
				let (job, resource) = offers::<T>(p);
				(job, resource, p.mediator.clone())
			})
			.collect();
		#[extrinsic_call]
		_(RawOrigin::Signed(groups[0].solver.clone()), BoundedVec::truncate_from(matches));
		assert_eq!(Matches::<T>::iter().count() as u32, s + e);
	}

	#[benchmark]
	fn post_results(n: Linear<1, MAX_BATCH_ITEMS>) {
		let groups = matched_in_groups::<T>(n, 0);
		let results: alloc::vec::Vec<_> =
			(0..n).map(|i| (MatchId::from(i), completed_result())).collect();
		#[extrinsic_call]
		_(RawOrigin::Signed(groups[0].provider.clone()), BoundedVec::truncate_from(results));
		assert!(
			Matches::<T>::iter().all(|(_, m)| matches!(m.state, MatchState::ResultPosted { .. }))
		);
	}

	/// A stranger closes `s` matches of one group's parties and `e` more, each of a group
	/// of its own, once their settlement grace has passed (the JC's own accepts skip that
	/// check).
	#[benchmark]
	fn accept_results(s: Linear<1, HALF_BATCH>, e: Linear<0, HALF_BATCH>) {
		let groups = matched_in_groups::<T>(s, e);
		for i in 0..s + e {
			let p = &groups[group_of_item(i, s)];
			Pallet::<T>::do_post_result(p.provider.clone(), MatchId::from(i), completed_result())
				.expect("valid result");
		}
		let record = Matches::<T>::get(0).expect("posted");
		let MatchState::ResultPosted { reaction_deadline, .. } = record.state else {
			panic!("result posted")
		};
		T::BenchmarkHelper::set_time(reaction_deadline + record.settlement_grace + 1);
		let stranger = funded::<T>("stranger");
		let ids: alloc::vec::Vec<MatchId> = (0..s + e).map(MatchId::from).collect();
		#[extrinsic_call]
		_(RawOrigin::Signed(stranger), BoundedVec::truncate_from(ids));
		assert_eq!(Matches::<T>::iter().count(), 0);
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_bench_ext(), crate::mock::Test);
}
