//! The market's storage and runtime API, read at the head a [`Chain`] follows.

use super::{
	read_error, AtBlock, Balance, Chain, JobOffer, JobTerms, MatchInfo, Parameters, ReplicaGroup,
	ResourceOffer, ResourceTerms,
};
use crate::{
	runtime::{self, runtime_types::pallet_compute_market::types as market},
	AccountId, ClientError,
};
use subxt::storage::{Address, PrefixOf};

impl Chain {
	/// The chain's time (ms) at the followed head block; deadlines use it.
	pub async fn now_ms(&self) -> Result<u64, ClientError> {
		let at = self.at().await?;
		let value = at
			.storage()
			.fetch(runtime::storage().timestamp().now(), ())
			.await
			.map_err(|e| read_error("Timestamp::Now", e))?;
		value.decode().map_err(|e| read_error("Timestamp::Now", e))
	}

	/// The market's parameters.
	pub async fn parameters(&self) -> Result<Parameters, ClientError> {
		let at = self.at().await?;
		at.runtime_apis()
			.call(runtime::runtime_apis().compute_market_api().parameters())
			.await
			.map_err(|e| read_error("the market parameters", e))
	}

	/// The free balance of `who`.
	pub async fn free_balance(&self, who: &AccountId) -> Result<Balance, ClientError> {
		let account =
			self.read_or_default(runtime::storage().system().account(), (*who,), "System::Account");
		Ok(account.await?.data.free)
	}

	/// The smallest deposit a job offer with `terms` needs (with `mediator`: the
	/// smallest that also passes matching with it).
	pub async fn quote_job_deposit(
		&self,
		terms: &JobTerms,
		mediator: Option<AccountId>,
	) -> Result<Balance, ClientError> {
		let at = self.at().await?;
		let call = runtime::runtime_apis()
			.compute_market_api()
			.quote_job_offer_deposit(terms.clone(), mediator);
		at.runtime_apis()
			.call(call)
			.await
			.map_err(|e| read_error("a job deposit quote", e))?
			.map_err(|e| ClientError::Quote {
				what: "the job offer's deposit".into(),
				reason: format!("{e:?}"),
			})
	}

	/// The smallest deposit a resource offer with `terms` needs (with a mediator and a
	/// directory: the smallest that also passes matching with them).
	pub async fn quote_resource_deposit(
		&self,
		terms: &ResourceTerms,
		mediator: Option<AccountId>,
		directory: Option<AccountId>,
	) -> Result<Balance, ClientError> {
		let at = self.at().await?;
		let call = runtime::runtime_apis().compute_market_api().quote_resource_offer_deposit(
			terms.clone(),
			mediator,
			directory,
		);
		at.runtime_apis()
			.call(call)
			.await
			.map_err(|e| read_error("a resource deposit quote", e))?
			.map_err(|e| ClientError::Quote {
				what: "the resource offer's deposit".into(),
				reason: format!("{e:?}"),
			})
	}

	/// Every open job offer, paged through the runtime API.
	pub async fn job_offers(&self) -> Result<Vec<(u64, JobOffer)>, ClientError> {
		let at = self.at().await?;
		let mut all = Vec::new();
		let mut after = None;
		loop {
			let page = at
				.runtime_apis()
				.call(runtime::runtime_apis().compute_market_api().job_offers(after, PAGE))
				.await
				.map_err(|e| read_error("open job offers", e))?;
			let done = page.len() < PAGE as usize;
			after = page.last().map(|(id, _)| *id);
			all.extend(page);
			if done {
				return Ok(all);
			}
		}
	}

	/// Every open resource offer, paged through the runtime API.
	pub async fn resource_offers(&self) -> Result<Vec<(u64, ResourceOffer)>, ClientError> {
		let at = self.at().await?;
		let mut all = Vec::new();
		let mut after = None;
		loop {
			let page = at
				.runtime_apis()
				.call(runtime::runtime_apis().compute_market_api().resource_offers(after, PAGE))
				.await
				.map_err(|e| read_error("open resource offers", e))?;
			let done = page.len() < PAGE as usize;
			after = page.last().map(|(id, _)| *id);
			all.extend(page);
			if done {
				return Ok(all);
			}
		}
	}

	/// An unsettled match, or `None` once it closed (or never existed).
	pub async fn match_info(&self, match_id: u64) -> Result<Option<MatchInfo>, ClientError> {
		let at = self.at().await?;
		at.runtime_apis()
			.call(runtime::runtime_apis().compute_market_api().match_info(match_id))
			.await
			.map_err(|e| read_error("a match", e))
	}

	/// `who`'s record in every role it closed a match in (README, "Reputation").
	pub async fn reputation(
		&self,
		who: &AccountId,
	) -> Result<Vec<(market::Role, market::Reputation)>, ClientError> {
		let at = self.at().await?;
		at.runtime_apis()
			.call(runtime::runtime_apis().compute_market_api().reputation(*who))
			.await
			.map_err(|e| read_error("a reputation", e))
	}

	/// The records a JC named when it rejected match `match_id` with `reject_records`
	/// (none for a whole-job dispute).
	pub async fn disputed_records(&self, match_id: u64) -> Result<Vec<String>, ClientError> {
		let names = self
			.read(
				runtime::storage().compute_market().disputed_records(),
				(match_id,),
				"ComputeMarket::DisputedRecords",
			)
			.await?;
		Ok(names
			.map(|names| {
				names.0.iter().map(|name| String::from_utf8_lossy(&name.0).into_owned()).collect()
			})
			.unwrap_or_default())
	}

	/// Every unsettled match.
	pub async fn matches(&self) -> Result<Vec<(u64, MatchInfo)>, ClientError> {
		let entries =
			self.read_all(runtime::storage().compute_market().matches(), "ComputeMarket::Matches");
		let mut all: Vec<(u64, MatchInfo)> =
			entries.await?.into_iter().map(|((match_id,), info)| (match_id, info)).collect();
		all.sort_by_key(|(id, _)| *id);
		Ok(all)
	}

	/// The replica group a match runs a replica of, while the group compares or
	/// disputes its results.
	pub async fn match_replica_group(&self, match_id: u64) -> Result<Option<u64>, ClientError> {
		let address = runtime::storage().compute_market().match_replica_group();
		self.read(address, (match_id,), "ComputeMarket::MatchReplicaGroup").await
	}

	/// An open resource offer (`None` once matched, withdrawn or cleared).
	pub async fn resource_offer(
		&self,
		offer_id: u64,
	) -> Result<Option<ResourceOffer>, ClientError> {
		let address = runtime::storage().compute_market().resource_offers();
		self.read(address, (offer_id,), "ComputeMarket::ResourceOffers").await
	}

	/// An open job offer.
	pub async fn job_offer(&self, offer_id: u64) -> Result<Option<JobOffer>, ClientError> {
		let address = runtime::storage().compute_market().job_offers();
		self.read(address, (offer_id,), "ComputeMarket::JobOffers").await
	}

	/// Whether a replica of `group` may still be matched or commit at chain time `now`
	/// (the pallet's rule for when reveals open): a reveal tried before then is refused,
	/// and a refused transaction still costs its fee.
	pub async fn replicas_still_committing(
		&self,
		group: u64,
		now: u64,
	) -> Result<bool, ClientError> {
		use market::{MatchState, ReplicaMember};
		let Some(info) = self.replica_group(group).await? else { return Ok(false) };
		for member in &info.members.0 {
			let open = match member {
				ReplicaMember::Offer(id) => self
					.job_offer(*id)
					.await?
					.is_some_and(|o| now <= o.expires_at.min(info.completion_deadline)),
				ReplicaMember::Match(id) => self.match_info(*id).await?.is_some_and(|m| {
					m.state == MatchState::Matched && now <= m.job.completion_deadline
				}),
			};
			if open {
				return Ok(true);
			}
		}
		Ok(false)
	}

	/// The replica group an open job offer belongs to.
	pub async fn offer_replica_group(&self, offer_id: u64) -> Result<Option<u64>, ClientError> {
		let address = runtime::storage().compute_market().offer_replica_group();
		self.read(address, (offer_id,), "ComputeMarket::OfferReplicaGroup").await
	}

	/// A replica group, while any of its replicas is open or unsettled.
	pub async fn replica_group(&self, group: u64) -> Result<Option<ReplicaGroup>, ClientError> {
		let address = runtime::storage().compute_market().replica_groups();
		self.read(address, (group,), "ComputeMarket::ReplicaGroups").await
	}

	/// Every replica group.
	pub async fn replica_groups(&self) -> Result<Vec<(u64, ReplicaGroup)>, ClientError> {
		let address = runtime::storage().compute_market().replica_groups();
		let entries = self.read_all(address, "ComputeMarket::ReplicaGroups").await?;
		Ok(entries.into_iter().map(|((group,), value)| (group, value)).collect())
	}

	/// A registered Resource Provider's record.
	pub async fn resource_provider(
		&self,
		who: &AccountId,
	) -> Result<Option<market::ResourceProviderInfo<Balance>>, ClientError> {
		self.read(
			runtime::storage().compute_market().resource_providers(),
			(*who,),
			"ComputeMarket::ResourceProviders",
		)
		.await
	}

	/// A registered Job Creator's record.
	pub async fn job_creator(
		&self,
		who: &AccountId,
	) -> Result<Option<market::JobCreatorInfo<Balance>>, ClientError> {
		self.read(
			runtime::storage().compute_market().job_creators(),
			(*who,),
			"ComputeMarket::JobCreators",
		)
		.await
	}

	/// A registered Mediator's record.
	pub async fn mediator(
		&self,
		who: &AccountId,
	) -> Result<Option<market::MediatorInfo<Balance>>, ClientError> {
		self.read(
			runtime::storage().compute_market().mediators(),
			(*who,),
			"ComputeMarket::Mediators",
		)
		.await
	}

	/// A registered Directory's record.
	pub async fn directory(
		&self,
		who: &AccountId,
	) -> Result<Option<market::DirectoryInfo<Balance>>, ClientError> {
		self.read(
			runtime::storage().compute_market().directories(),
			(*who,),
			"ComputeMarket::Directories",
		)
		.await
	}

	/// Every registered mediator.
	pub async fn mediators(
		&self,
	) -> Result<Vec<(AccountId, market::MediatorInfo<Balance>)>, ClientError> {
		let entries = self
			.read_all(runtime::storage().compute_market().mediators(), "ComputeMarket::Mediators");
		Ok(entries.await?.into_iter().map(|((who,), info)| (who, info)).collect())
	}

	/// The mediators `who` trusts.
	pub async fn trusted_mediators(&self, who: &AccountId) -> Result<Vec<AccountId>, ClientError> {
		let list = self.read_or_default(
			runtime::storage().compute_market().trusted_mediators(),
			(*who,),
			"ComputeMarket::TrustedMediators",
		);
		Ok(list.await?.0)
	}

	/// The directories `who` trusts.
	pub async fn trusted_directories(
		&self,
		who: &AccountId,
	) -> Result<Vec<AccountId>, ClientError> {
		let list = self.read_or_default(
			runtime::storage().compute_market().trusted_directories(),
			(*who,),
			"ComputeMarket::TrustedDirectories",
		);
		Ok(list.await?.0)
	}

	/// The base layers `who` declared.
	pub async fn base_layers(&self, who: &AccountId) -> Result<Vec<[u8; 32]>, ClientError> {
		let list = self.read_or_default(
			runtime::storage().compute_market().supported_base_layers(),
			(*who,),
			"ComputeMarket::SupportedBaseLayers",
		);
		Ok(list.await?.0)
	}

	/// One entry of a storage map at the followed head block; `None` if absent.
	async fn read<Addr: Address>(
		&self,
		address: Addr,
		key: Addr::KeyParts,
		what: &str,
	) -> Result<Option<Addr::Value>, ClientError> {
		read_at(&self.at().await?, address, key, what).await
	}

	/// One entry of a storage map, or the entry's default if absent.
	async fn read_or_default<Addr: Address>(
		&self,
		address: Addr,
		key: Addr::KeyParts,
		what: &str,
	) -> Result<Addr::Value, ClientError> {
		let at = self.at().await?;
		let value = at.storage().fetch(address, key).await.map_err(|e| read_error(what, e))?;
		value.decode().map_err(|e| read_error(what, e))
	}

	/// Every entry of a storage map, with its decoded key.
	async fn read_all<Addr: Address>(
		&self,
		address: Addr,
		what: &str,
	) -> Result<Vec<(Addr::KeyParts, Addr::Value)>, ClientError>
	where
		(): PrefixOf<Addr::KeyParts>,
	{
		let at = self.at().await?;
		let mut entries = at.storage().iter(address, ()).await.map_err(|e| read_error(what, e))?;
		let mut all = Vec::new();
		while let Some(entry) = entries.next().await {
			let entry = entry.map_err(|e| read_error(what, e))?;
			let key = entry.key().and_then(|k| k.decode()).map_err(|e| read_error(what, e))?;
			all.push((key, entry.value().decode().map_err(|e| read_error(what, e))?));
		}
		Ok(all)
	}
}

/// One entry of a storage map at block `at`, or `None` if absent; `what` names it in
/// errors.
pub(crate) async fn read_at<Addr: Address>(
	at: &AtBlock,
	address: Addr,
	key: Addr::KeyParts,
	what: &str,
) -> Result<Option<Addr::Value>, ClientError> {
	let value = at.storage().try_fetch(address, key).await.map_err(|e| read_error(what, e))?;
	value.map(|v| v.decode()).transpose().map_err(|e| read_error(what, e))
}

/// Offers fetched per runtime API call.
const PAGE: u32 = 256;
