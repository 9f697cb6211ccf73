//! A connection to a Modicum node: sign and submit transactions (one at a time per
//! connection, so nonces never collide), read market storage and call the market's
//! runtime API at the head the connection follows: the latest finalized block (the
//! default) or the best block ([`Head`]).

use crate::{
	guard::MatchGuard,
	runtime::{self, runtime_types::pallet_compute_market::types as market},
	AccountId, ClientError, Keypair, ModicumConfig,
};
use std::sync::Arc;
use subxt::{
	backend::{BlockRef, LegacyBackend},
	client::{ClientAtBlock, OnlineClientAtBlockImpl},
	config::{HashFor, PolkadotExtrinsicParamsBuilder},
	error::{DispatchError, TransactionEventsError},
	extrinsics::ExtrinsicEvents,
	rpcs::{rpc_params, RpcClient},
	storage::{Address, PrefixOf},
	transactions::{Payload, TransactionProgress, TransactionStatus},
	OnlineClient,
};
use tokio::sync::Mutex;

/// Balances are u128 planck.
pub type Balance = u128;
/// A match as the runtime API returns it.
pub type MatchInfo = market::Match<AccountId, Balance>;
/// An open job offer.
pub type JobOffer = market::JobOffer<AccountId, Balance>;
/// An open resource offer.
pub type ResourceOffer = market::ResourceOffer<AccountId, Balance>;
/// A job offer's terms.
pub type JobTerms = market::JobOfferTerms<AccountId, Balance>;
/// A resource offer's terms.
pub type ResourceTerms = market::ResourceOfferTerms<Balance>;
/// The market's parameters.
pub type Parameters = market::MarketParameters<Balance>;
/// A replicated job's group of replicas.
pub type ReplicaGroup = market::ReplicaGroup<AccountId>;

/// A client reading at one block.
pub type AtBlock = ClientAtBlock<ModicumConfig, OnlineClientAtBlockImpl<ModicumConfig>>;

/// Which block a connection reads at, follows, and waits for its transactions to reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
	/// The latest finalized block: what is read never changes, but each step waits for
	/// finality (on a network, a slot plus the finality lag).
	#[default]
	Finalized,
	/// The node's best block: a step is seen one slot after it is sent. A block seen
	/// may later be retracted; every transaction is anchored to the block it was
	/// decided at (it is mortal from that block, so invalid on any chain without it),
	/// calls that carry what was seen of a match are sent only if the match is still
	/// the same ([`MatchGuard`]), and followers are told of a retraction.
	Best,
}

/// A live connection to a node. Clones share it, and [`Chain::reconnect`] replaces it
/// for all of them, so a daemon's tasks carry on after the node restarts.
#[derive(Clone)]
pub struct Chain {
	connection: Arc<std::sync::RwLock<Connection>>,
	url: String,
	head: Head,
	// One submission at a time per connection, held while it is handed to the pool: the
	// fork-aware pool's `system_accountNextIndex` may not yet count a transaction it just
	// took, so a second submission meanwhile could reuse its nonce (seen as `1010` in a
	// bench run).
	submit_lock: Arc<Mutex<()>>,
	// The block last read at. Setting up reads at a block costs the node a runtime call
	// (subxt asks for the block's runtime version); reads at the same block,
	// as a daemon's handling of one block makes, share it.
	last_at: Arc<std::sync::Mutex<Option<AtBlock>>>,
}

/// One websocket to the node and the subxt client over it.
struct Connection {
	api: OnlineClient<ModicumConfig>,
	rpc: RpcClient,
}

impl Connection {
	async fn open(url: &str) -> Result<Connection, ClientError> {
		let connect_error = |e: &dyn std::fmt::Display| ClientError::Connect {
			url: url.into(),
			reason: e.to_string(),
		};
		let rpc = RpcClient::from_insecure_url(url).await.map_err(|e| connect_error(&e))?;
		// The legacy JSON-RPC methods answer each read in one round trip. subxt's default
		// backend tries the archive methods, then follows the chain with `chainHead_v1`
		// and gets each answer back as a notification: measured on a dev node, about
		// 90 ms for every block-pinned read, which made a daemon handling a busy block
		// fall seconds behind the chain.
		let backend = LegacyBackend::<ModicumConfig>::builder().build(rpc.clone());
		let api = OnlineClient::<ModicumConfig>::from_backend(Arc::new(backend))
			.await
			.map_err(|e| connect_error(&e))?;
		Ok(Connection { api, rpc })
	}
}

/// `Pallet::call`, for error messages.
fn call_name(call: &impl Payload) -> String {
	format!("{}::{}", call.pallet_name(), call.call_name())
}

/// A submitted transaction's progress through the pool and the chain.
type Progress = TransactionProgress<ModicumConfig, OnlineClientAtBlockImpl<ModicumConfig>>;

/// Waits until a submitted transaction is in a block of `head` (the best block, or a
/// finalized one) and succeeded; a pallet error becomes [`ClientError::Refused`] naming
/// the error.
async fn included(
	mut progress: Progress,
	name: &str,
	head: Head,
) -> Result<ExtrinsicEvents<ModicumConfig>, ClientError> {
	let failed = |reason: String| ClientError::Transaction { call: name.into(), reason };
	while let Some(status) = progress.next().await {
		let in_block = match status.map_err(|e| failed(e.to_string()))? {
			TransactionStatus::InBestBlock(in_block) if head == Head::Best => in_block,
			TransactionStatus::InFinalizedBlock(in_block) => in_block,
			TransactionStatus::Error { message } => return Err(failed(message)),
			TransactionStatus::Invalid { message } => {
				return Err(failed(format!("invalid: {message}")))
			},
			TransactionStatus::Dropped { message } => {
				return Err(failed(format!("dropped: {message}")))
			},
			_ => continue,
		};
		return in_block.wait_for_success().await.map_err(|e| match e {
			TransactionEventsError::ExtrinsicFailed(DispatchError::Module(module)) => {
				match module.details() {
					Ok(details) => ClientError::Refused {
						call: name.into(),
						pallet: details.pallet.name().to_string(),
						error: details.variant.name.clone(),
						docs: details.variant.docs.join(" "),
					},
					Err(_) => failed(module.to_string()),
				}
			},
			other => failed(other.to_string()),
		});
	}
	Err(failed("the node stopped reporting on the transaction".into()))
}

/// How many blocks a transaction stays valid after the block it is anchored to: long
/// enough to wait out a busy pool, short enough that the node keeps that block's hash.
const ANCHORED_FOR_BLOCKS: u64 = 64;

/// The error for a call that was not sent (or not included) for `reason`.
fn not_sent<Call: Payload>(call: &Call, reason: String) -> ClientError {
	ClientError::Transaction { call: call_name(call), reason }
}

pub(crate) fn read_error(what: &str, e: impl std::fmt::Display) -> ClientError {
	ClientError::Read { what: what.into(), reason: e.to_string() }
}

impl Chain {
	/// Connects to the node at `url` (`ws://` on loopback or private networks).
	pub async fn connect(url: &str) -> Result<Chain, ClientError> {
		let connection = Connection::open(url).await?;
		Ok(Chain {
			connection: Arc::new(std::sync::RwLock::new(connection)),
			url: url.into(),
			head: Head::Finalized,
			submit_lock: Arc::new(Mutex::new(())),
			last_at: Arc::new(std::sync::Mutex::new(None)),
		})
	}

	/// Opens a fresh connection to the same node and makes every clone of this `Chain`
	/// use it: after the node restarted or the websocket dropped.
	pub async fn reconnect(&self) -> Result<(), ClientError> {
		let fresh = Connection::open(&self.url).await?;
		// A poisoned lock only means a panic elsewhere; the new connection is whole.
		let mut connection = self.connection.write().unwrap_or_else(|p| p.into_inner());
		*connection = fresh;
		if let Ok(mut last) = self.last_at.lock() {
			*last = None;
		}
		Ok(())
	}

	/// This connection, reading at, following and waiting for `head` instead.
	pub fn following(mut self, head: Head) -> Chain {
		self.head = head;
		self
	}

	/// The head this connection reads at, follows and waits for.
	pub fn head(&self) -> Head {
		self.head
	}

	/// The node's address.
	pub fn url(&self) -> &str {
		&self.url
	}

	/// The underlying subxt client, for what this wrapper does not cover.
	pub fn api(&self) -> OnlineClient<ModicumConfig> {
		self.connection.read().unwrap_or_else(|p| p.into_inner()).api.clone()
	}

	/// The connection's raw JSON-RPC client, for node methods subxt does not wrap.
	pub fn rpc(&self) -> RpcClient {
		self.connection.read().unwrap_or_else(|p| p.into_inner()).rpc.clone()
	}

	/// Signs `call` with `signer`, submits it and waits until it is in a block of the
	/// connection's [`Head`] and succeeded; a pallet error becomes
	/// [`ClientError::Refused`] naming the error.
	pub async fn submit<Call: Payload>(
		&self,
		call: &Call,
		signer: &Keypair,
	) -> Result<ExtrinsicEvents<ModicumConfig>, ClientError> {
		let mut outcomes = self.submit_all(std::slice::from_ref(call), signer).await;
		outcomes.pop().unwrap_or_else(|| {
			Err(ClientError::Transaction { call: call_name(call), reason: "not sent".into() })
		})
	}

	/// Signs every call with `signer` (consecutive nonces), hands them to the node in
	/// nonce order without waiting for any to be included, then waits until each is in
	/// a block of the connection's [`Head`]: one result per call, in order, each as
	/// [`Chain::submit`] gives it. A refused call does not stop the others; if the
	/// node's pool rejects one, the calls after it are not sent (their nonces could
	/// never be used) and fail too.
	pub async fn submit_all<Call: Payload>(
		&self,
		calls: &[Call],
		signer: &Keypair,
	) -> Vec<Result<ExtrinsicEvents<ModicumConfig>, ClientError>> {
		match self.at().await {
			Ok(at) => self.submit_all_at(&at, calls, signer).await,
			Err(e) => calls.iter().map(|c| Err(not_sent(c, e.to_string()))).collect(),
		}
	}

	/// Signs `call` anchored at the head block, but only if that block still shows
	/// `guard`'s match as it was seen; then as [`Chain::submit`].
	pub async fn submit_guarded<Call: Payload>(
		&self,
		call: &Call,
		signer: &Keypair,
		guard: &MatchGuard,
	) -> Result<ExtrinsicEvents<ModicumConfig>, ClientError> {
		let at = self.at().await?;
		guard.check_at(&at, &call_name(call)).await?;
		let mut outcomes = self.submit_all_at(&at, std::slice::from_ref(call), signer).await;
		outcomes.pop().unwrap_or_else(|| Err(not_sent(call, "not sent".into())))
	}

	/// [`Chain::submit_all`] with every call anchored at `at`: each is mortal from that
	/// block, so it is invalid on any chain that does not hold it, and a call decided
	/// on what `at` showed cannot land on a chain that shows otherwise.
	pub(crate) async fn submit_all_at<Call: Payload>(
		&self,
		at: &AtBlock,
		calls: &[Call],
		signer: &Keypair,
	) -> Vec<Result<ExtrinsicEvents<ModicumConfig>, ClientError>> {
		// The lock covers choosing nonces and handing the calls to the pool, not the wait
		// for inclusion: on a network that wait is at least a slot (plus the finality lag
		// when following finalized blocks), and a daemon's next call (an RP's result after
		// its offer) must not queue behind it. Once a call is in the pool, the node's next
		// nonce counts it.
		let watched = {
			let _one_at_a_time = self.submit_lock.lock().await;
			match self.send_in_order(at, calls, signer).await {
				Ok(watched) => watched,
				Err(e) => return calls.iter().map(|c| Err(not_sent(c, e.clone()))).collect(),
			}
		};
		let head = self.head;
		futures::future::join_all(watched.into_iter().map(|sent| async move {
			let (progress, name) = sent?;
			included(progress, &name, head).await
		}))
		.await
	}

	/// Signs `calls` with consecutive nonces from the node's next one and submits them
	/// in order; each entry is the call's progress to watch, or why it was not sent. The
	/// `Err` is a failure before any call was signed.
	async fn send_in_order<Call: Payload>(
		&self,
		at: &AtBlock,
		calls: &[Call],
		signer: &Keypair,
	) -> Result<Vec<Result<(Progress, String), ClientError>>, String> {
		let failed = not_sent;
		let mut transactions = at.transactions();
		let account = crate::keys::account_of(signer);
		// The node's next nonce for the account counts its transactions still in the pool;
		// the finalized state's would not, and a transaction of ours that the pool
		// reported lost but then included would make the next one stale.
		let rpc = self.rpc();
		let next_index =
			rpc.request::<u64>("system_accountNextIndex", rpc_params![account.to_string()]);
		let first_nonce = match next_index.await {
			Ok(nonce) => nonce,
			Err(e) => return Err(e.to_string()),
		};
		let mut watched = Vec::with_capacity(calls.len());
		let mut blocked: Option<String> = None;
		for (nonce, call) in (first_nonce..).zip(calls) {
			if let Some(reason) = &blocked {
				watched.push(Err(failed(call, format!("not sent: {reason}"))));
				continue;
			}
			// Mortal from `at` (the block the call was decided at): see `submit_all_at`.
			let params = PolkadotExtrinsicParamsBuilder::<ModicumConfig>::new()
				.nonce(nonce)
				.mortal(ANCHORED_FOR_BLOCKS)
				.build();
			let sent = match transactions.create_signed(call, signer, params).await {
				Ok(signed) => signed.submit_and_watch().await,
				Err(e) => Err(e),
			};
			match sent {
				Ok(progress) => watched.push(Ok((progress, call_name(call)))),
				Err(e) => {
					blocked = Some(format!("an earlier call was refused by the pool: {e}"));
					watched.push(Err(failed(call, e.to_string())));
				},
			}
		}
		Ok(watched)
	}

	/// Reads at the head the connection follows: the latest finalized block, or the
	/// best block.
	pub async fn at(&self) -> Result<AtBlock, ClientError> {
		let (method, what) = match self.head {
			Head::Finalized => ("chain_getFinalizedHead", "the latest finalized block"),
			// With no number, the node answers with its best block's hash.
			Head::Best => ("chain_getBlockHash", "the best block"),
		};
		let hash =
			self.rpc().request(method, rpc_params![]).await.map_err(|e| read_error(what, e))?;
		self.at_hash(hash, what).await
	}

	/// The hash of the latest finalized block: a value nobody could know before it was
	/// finalized (spot checks seed their sample with it).
	pub async fn finalized_hash(&self) -> Result<[u8; 32], ClientError> {
		let hash: String = self
			.rpc()
			.request("chain_getFinalizedHead", rpc_params![])
			.await
			.map_err(|e| read_error("the latest finalized block", e))?;
		let bytes = hex::decode(hash.trim_start_matches("0x")).ok();
		bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| ClientError::Read {
			what: "the latest finalized block".into(),
			reason: format!("{hash:?} is not a 32-byte hash"),
		})
	}

	/// Reads at block `number` of the chain (the node's best chain).
	pub async fn at_number(&self, number: u64) -> Result<AtBlock, ClientError> {
		let what = || format!("block {number}");
		let hash = self.hash_at(number).await?;
		let hash = hash.ok_or_else(|| read_error(&what(), "the node does not have it"))?;
		self.at_hash(hash, &what()).await
	}

	/// The hash of block `number` on the node's best chain, if it has one.
	pub(crate) async fn hash_at(
		&self,
		number: u64,
	) -> Result<Option<HashFor<ModicumConfig>>, ClientError> {
		self.rpc()
			.request("chain_getBlockHash", rpc_params![number])
			.await
			.map_err(|e| read_error(&format!("block {number}"), e))
	}

	/// The parent of block `hash`.
	pub(crate) async fn parent_of(
		&self,
		hash: HashFor<ModicumConfig>,
	) -> Result<HashFor<ModicumConfig>, ClientError> {
		#[derive(serde::Deserialize)]
		#[serde(rename_all = "camelCase")]
		struct Header {
			parent_hash: HashFor<ModicumConfig>,
		}
		let header: Option<Header> = self
			.rpc()
			.request("chain_getHeader", rpc_params![hash])
			.await
			.map_err(|e| read_error("a block header", e))?;
		header
			.map(|h| h.parent_hash)
			.ok_or_else(|| read_error("a block header", format!("the node does not have {hash:?}")))
	}

	/// Reads at block `hash`; `what` names it in errors.
	pub(crate) async fn at_hash(
		&self,
		hash: HashFor<ModicumConfig>,
		what: &str,
	) -> Result<AtBlock, ClientError> {
		let cached = self.last_at.lock().ok().and_then(|last| last.clone());
		if let Some(at) = cached.filter(|at| at.block_hash() == hash) {
			return Ok(at);
		}
		let at = self
			.api()
			.at_block(BlockRef::from_hash(hash))
			.await
			.map_err(|e| read_error(what, e))?;
		if let Ok(mut last) = self.last_at.lock() {
			*last = Some(at.clone());
		}
		Ok(at)
	}

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
