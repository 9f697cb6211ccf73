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
	transactions::{Payload, TransactionProgress, TransactionStatus},
	OnlineClient,
};
use tokio::sync::Mutex;

mod reads;
pub(crate) use reads::read_at;

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

/// How many blocks a transaction anchored at the best block stays valid: long enough
/// to wait out a busy pool.
const ANCHORED_TO_BEST_FOR_BLOCKS: u64 = 64;

/// How many blocks a transaction stays valid after the block it is anchored to (its
/// mortality period). At the best block, [`ANCHORED_TO_BEST_FOR_BLOCKS`]. At the
/// latest finalized block, which may be far behind the best one while finality stalls,
/// the longest period whose birth block the chain still keeps the hash of (the largest
/// power of two up to `block_hash_count`, since a period is one, and at most 4,096):
/// with 64 blocks, a finality stall of 64 blocks made every transaction outdated before
/// it was sent. The price: a transaction the pool holds but never includes (its nonce
/// behind a gap) keeps its sender waiting until the period ends.
pub(crate) fn anchored_for_blocks(head: Head, block_hash_count: u32) -> u64 {
	match head {
		Head::Best => ANCHORED_TO_BEST_FOR_BLOCKS,
		// Above 4,096 blocks an era rounds its birth down to a multiple of `period >> 12`,
		// which would no longer be the anchor the transaction is signed against.
		Head::Finalized => 1u64 << u64::from(block_hash_count).clamp(4, 4_096).ilog2(),
	}
}

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
		let block_hash_count = at
			.constants()
			.entry(runtime::constants().system().block_hash_count())
			.map_err(|e| format!("reading System::BlockHashCount: {e}"))?;
		let period = anchored_for_blocks(self.head, block_hash_count);
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
				.mortal(period)
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
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_transaction_anchored_at_finality_outlives_a_long_finality_stall() {
		// The runtime keeps 2,400 block hashes: the longest power-of-two period is 2,048.
		assert_eq!(anchored_for_blocks(Head::Finalized, 2_400), 2_048);
		assert_eq!(anchored_for_blocks(Head::Finalized, 4_096), 4_096);
		// Longer periods would move the era's birth off the anchor.
		assert_eq!(anchored_for_blocks(Head::Finalized, 100_000), 4_096);
		// Never longer than the chain keeps hashes for.
		assert_eq!(anchored_for_blocks(Head::Finalized, 10), 8);
		assert_eq!(anchored_for_blocks(Head::Best, 2_400), 64);
	}
}
