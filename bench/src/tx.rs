//! Many transactions at once: sign offline with explicit nonces, submit without
//! waiting for each, and watch finalized (or best) blocks for what they did. The client library
//! submits one transaction per connection and waits for it, which is right for a
//! daemon and far too slow to load a chain.

use anyhow::{bail, Context, Result};
use futures::{stream, StreamExt, TryStreamExt};
use modicum_client::{
	blocks::{Blocks, Followed},
	chain::{AtBlock, Head},
	keys, runtime, AccountId, Chain, Keypair, ModicumConfig,
};
use std::{
	collections::BTreeMap,
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};
use subxt::{config::PolkadotExtrinsicParamsBuilder, transactions::Payload};
use subxt_rpcs::rpc_params;
use tokio::sync::mpsc;

/// A runtime event as the generated API decodes it.
pub type Event = runtime::Event;
type SystemEvent = runtime::runtime_types::frame_system::pallet::Event;

/// Requests (or senders, in order) in flight at once.
const IN_FLIGHT: usize = 64;

/// A signing account with its next nonce, kept locally so that many transactions can
/// be signed before any is included.
pub struct Account {
	/// Its key.
	pub key: Keypair,
	/// Its account id.
	pub id: AccountId,
	nonce: u64,
}

impl Account {
	/// The next nonce to sign with.
	pub fn next_nonce(&mut self) -> u64 {
		self.nonce += 1;
		self.nonce - 1
	}
}

/// A node connection for bulk transactions.
pub struct Bulk {
	chain: Chain,
	at: AtBlock,
}

impl Bulk {
	/// Connects to the node at `url` the way the daemons do (see [`Chain::connect`]).
	pub async fn connect(url: &str) -> Result<Bulk> {
		let chain = Chain::connect(url).await?;
		let at = chain.at().await?;
		Ok(Bulk { chain, at })
	}

	/// The account of secret URI `uri` (e.g. `//Alice`), with its next nonce from the
	/// node: the pool's transactions counted, so that signing goes on after calls the
	/// account sent by other means (a daemon's batches) that are not final yet.
	pub async fn account(&self, uri: &str) -> Result<Account> {
		let key = keys::from_uri(uri)?;
		let id = keys::account_of(&key);
		let nonce: u64 = self
			.chain
			.rpc()
			.request("system_accountNextIndex", rpc_params![id.to_string()])
			.await
			.context("system_accountNextIndex")?;
		Ok(Account { key, id, nonce })
	}

	/// Signs `call` by `account` with its next nonce; immortal, so it stays valid however
	/// long it waits in the pool.
	pub fn sign(&self, call: &impl Payload, account: &mut Account) -> Result<Signed> {
		let params = PolkadotExtrinsicParamsBuilder::<ModicumConfig>::new()
			.immortal()
			.nonce(account.next_nonce())
			.build();
		let mut signable = self.at.transactions().create_signable_offline(call, params)?;
		Ok(Signed { sender: account.id, bytes: signable.sign(&account.key)?.into_encoded() })
	}

	/// Hands every transaction to the node's pool (`author_submitExtrinsic`) at once,
	/// [`IN_FLIGHT`] requests at a time in any order, without waiting for inclusion;
	/// fails on the first one the pool refuses. Needs a node run with
	/// `--pool-type single-state`: the default fork-aware pool silently drops most of a
	/// burst whose nonces arrive out of order.
	pub async fn submit_burst(&self, transactions: Vec<Signed>) -> Result<()> {
		stream::iter(transactions)
			.map(|tx| self.submit_one(tx.bytes))
			.buffer_unordered(IN_FLIGHT)
			.try_for_each(|_| async { Ok(()) })
			.await
	}

	/// Hands every transaction to the pool, each sender's in nonce order one after the
	/// other (senders in parallel), as clients do; safe with any pool.
	pub async fn submit_in_order(&self, transactions: Vec<Signed>) -> Result<()> {
		let mut lanes: BTreeMap<AccountId, Vec<Vec<u8>>> = BTreeMap::new();
		for tx in transactions {
			lanes.entry(tx.sender).or_default().push(tx.bytes);
		}
		stream::iter(lanes.into_values())
			.map(|lane| async move {
				for tx in lane {
					self.submit_one(tx).await?;
				}
				anyhow::Ok(())
			})
			.buffer_unordered(IN_FLIGHT)
			.try_for_each(|_| async { Ok(()) })
			.await
	}

	async fn submit_one(&self, tx: Vec<u8>) -> Result<()> {
		let hex = format!("0x{}", hex::encode(&tx));
		self.chain
			.rpc()
			.request::<serde_json::Value>("author_submitExtrinsic", rpc_params![hex])
			.await
			// The pool's reason is in the error's data, which only Debug shows.
			.map_err(|e| anyhow::anyhow!("the pool refused a transaction: {e:?}"))?;
		Ok(())
	}

	/// Submits every transaction and waits until each is in a finalized block and
	/// succeeded, for setup steps whose successors depend on them. Counts successful
	/// signed extrinsics in new blocks, so nobody else may be sending meanwhile.
	pub async fn submit_and_wait(&self, transactions: Vec<Signed>) -> Result<()> {
		use runtime::runtime_types::frame_support::dispatch::DispatchClass;
		let count = transactions.len();
		let mut events = self.watch().await?;
		self.submit_in_order(transactions).await?;
		collect(&mut events, count, Duration::from_secs(120), |event| match event {
			// Inherents (the timestamp) succeed as `Mandatory`; transactions as `Normal`.
			Event::System(SystemEvent::ExtrinsicSuccess { dispatch_info })
				if matches!(dispatch_info.class, DispatchClass::Normal) =>
			{
				Some(())
			},
			_ => None,
		})
		.await
		.with_context(|| format!("waiting for {count} setup transactions"))?;
		Ok(())
	}

	/// A `TransactionPaymentApi_query_info` answer: the weight (ref time, proof size) the
	/// chain charges `transaction` in a block.
	pub async fn query_weight(&self, transaction: &Signed) -> Result<(u64, u64)> {
		let transaction = &transaction.bytes;
		use codec::{Compact, Decode, Encode};
		let mut input = transaction.to_vec();
		(transaction.len() as u32).encode_to(&mut input);
		let answer: String = self
			.chain
			.rpc()
			.request(
				"state_call",
				rpc_params![
					"TransactionPaymentApi_query_info",
					format!("0x{}", hex::encode(input))
				],
			)
			.await
			.context("TransactionPaymentApi_query_info")?;
		let bytes = hex::decode(answer.trim_start_matches("0x"))?;
		// RuntimeDispatchInfo { weight: { compact ref_time, compact proof_size }, class, fee }
		let (ref_time, proof_size, _class, _fee) =
			<(Compact<u64>, Compact<u64>, u8, u128)>::decode(&mut &bytes[..])?;
		Ok((ref_time.0, proof_size.0))
	}

	/// The runtime's `System::BlockWeights`.
	pub fn block_weights(
		&self,
	) -> Result<runtime::runtime_types::frame_system::limits::BlockWeights> {
		Ok(self.at.constants().entry(runtime::constants().system().block_weights())?)
	}

	/// Follows the blocks finalized after now, none skipped: every runtime event,
	/// stamped with when the benchmark saw it. The block finalized now is left out: it
	/// holds what an earlier step already counted (counting it again let a setup step
	/// go on before its transactions were in). The watcher stops when the receiver is
	/// dropped, and on a failed read (the receiver then sees the channel end).
	pub async fn watch(&self) -> Result<mpsc::UnboundedReceiver<Seen>> {
		Ok(self.watch_head(Head::Finalized).await?.0)
	}

	/// [`Bulk::watch`] on the best head, with a flag raised once a block it delivered is
	/// retracted. Its events were sent already, and transactions signed from them (ids
	/// the replacing blocks may give out differently) may no longer hold: a reader that
	/// sees the flag cannot trust what it counted.
	pub async fn watch_best(&self) -> Result<(mpsc::UnboundedReceiver<Seen>, Arc<AtomicBool>)> {
		self.watch_head(Head::Best).await
	}

	async fn watch_head(
		&self,
		head: Head,
	) -> Result<(mpsc::UnboundedReceiver<Seen>, Arc<AtomicBool>)> {
		let mut blocks = Blocks::follow(&self.chain.clone().following(head)).await?;
		let metadata = self.at.metadata();
		let (send, receive) = mpsc::unbounded_channel();
		let retracted = Arc::new(AtomicBool::new(false));
		let raise = retracted.clone();
		tokio::spawn(async move {
			let mut already_final = None;
			while let Some(block) = blocks.next().await {
				let (number, at) = match block {
					Ok(Followed::Block(number, at)) => (number, at),
					// Finalized blocks are never retracted; best ones raise the flag.
					Ok(Followed::Retracted { above }) => {
						eprintln!("watching blocks: the blocks above {above} were retracted");
						raise.store(true, Ordering::Relaxed);
						continue;
					},
					Err(e) => {
						eprintln!("watching blocks: {e}");
						break;
					},
				};
				if *already_final.get_or_insert(number) == number {
					continue;
				}
				let events = match at.events().fetch().await {
					Ok(events) => events,
					Err(e) => {
						eprintln!("watching blocks: events of block {number}: {e}");
						break;
					},
				};
				let seen_at = Instant::now();
				let (block_ms, normal_ref_time) =
					match futures::try_join!(block_time_ms(&at), normal_ref_time(&at)) {
						Ok(read) => read,
						Err(e) => {
							eprintln!("watching blocks: the time or weight of block {number}: {e}");
							break;
						},
					};
				for event in events.iter().flatten() {
					let Ok(event) = event.decode_as::<Event>() else { continue };
					let failure = failure(&metadata, &event);
					let seen = Seen {
						at: seen_at,
						block: number,
						block_ms,
						normal_ref_time,
						event,
						failure,
					};
					if send.send(seen).is_err() {
						return;
					}
				}
			}
		});
		Ok((receive, retracted))
	}
}

/// A signed transaction and who signed it.
pub struct Signed {
	/// The signer.
	pub sender: AccountId,
	/// The encoded extrinsic.
	pub bytes: Vec<u8>,
}

/// An event and when it was seen.
pub struct Seen {
	/// When the benchmark saw its block.
	pub at: Instant,
	/// The block's number.
	pub block: u64,
	/// The block's timestamp (ms since the Unix epoch): when its author made it, so
	/// rates over many blocks do not depend on when finality reached the benchmark.
	pub block_ms: u64,
	/// The ref time (ps) the block's normal-class extrinsics used, refunds deducted.
	pub normal_ref_time: u64,
	/// The event.
	pub event: Event,
	/// For `ExtrinsicFailed`: the error's name.
	pub failure: Option<String>,
}

/// The ref time the block's normal-class extrinsics used (`System::BlockWeight`).
async fn normal_ref_time(at: &AtBlock) -> Result<u64> {
	let value = at.storage().fetch(runtime::storage().system().block_weight(), ()).await?;
	Ok(value.decode()?.normal.ref_time)
}

/// The timestamp the block's author set (`Timestamp::Now` at the block).
async fn block_time_ms(at: &AtBlock) -> Result<u64> {
	let value = at.storage().fetch(runtime::storage().timestamp().now(), ()).await?;
	Ok(value.decode()?)
}

/// Why a failed extrinsic, or a refused item of a batched call, failed.
fn failure(metadata: &subxt::metadata::Metadata, event: &Event) -> Option<String> {
	use runtime::runtime_types::pallet_compute_market::pallet::Event as MarketEvent;
	match event {
		Event::System(SystemEvent::ExtrinsicFailed { dispatch_error, .. }) => {
			Some(error_name(metadata, dispatch_error))
		},
		Event::ComputeMarket(MarketEvent::BatchItemFailed { index, error }) => {
			Some(format!("batch item {index}: {}", error_name(metadata, error)))
		},
		_ => None,
	}
}

fn error_name(
	metadata: &subxt::metadata::Metadata,
	error: &runtime::runtime_types::sp_runtime::DispatchError,
) -> String {
	use runtime::runtime_types::sp_runtime::DispatchError;
	match error {
		DispatchError::Module(module) => metadata
			.pallet_by_error_index(module.index)
			.and_then(|p| {
				p.error_variant_by_index(module.error[0])
					.map(|v| format!("{}::{}", p.name(), v.name))
			})
			.unwrap_or_else(|| format!("{module:?}")),
		other => format!("{other:?}"),
	}
}

/// Reads events until `take` has accepted `count` of them, failing on any failed
/// extrinsic or after `timeout`; returns what `take` produced, in order, with the time
/// the last one was seen.
pub async fn collect<T>(
	events: &mut mpsc::UnboundedReceiver<Seen>,
	count: usize,
	timeout: Duration,
	take: impl FnMut(&Event) -> Option<T>,
) -> Result<(Vec<T>, Instant)> {
	collect_in_blocks(events, count, timeout, &mut BTreeMap::new(), take).await
}

/// [`collect`], noting in `blocks` the normal-class ref time of each block it saw.
pub async fn collect_in_blocks<T>(
	events: &mut mpsc::UnboundedReceiver<Seen>,
	count: usize,
	timeout: Duration,
	blocks: &mut BTreeMap<u64, u64>,
	mut take: impl FnMut(&Event) -> Option<T>,
) -> Result<(Vec<T>, Instant)> {
	let deadline = tokio::time::Instant::now() + timeout;
	let mut taken = Vec::with_capacity(count);
	let mut last = Instant::now();
	while taken.len() < count {
		let Ok(seen) = tokio::time::timeout_at(deadline, events.recv()).await else {
			bail!("saw {} of {count} expected events within {timeout:?}", taken.len());
		};
		let seen = seen.context("the block subscription ended")?;
		if let Some(error) = seen.failure {
			bail!("an extrinsic failed in block {}: {error}", seen.block);
		}
		blocks.insert(seen.block, seen.normal_ref_time);
		if let Some(item) = take(&seen.event) {
			taken.push(item);
			last = seen.at;
		}
	}
	Ok((taken, last))
}

/// A transfer of `amount` planck to `to`, keeping the sender alive.
pub fn transfer(to: &AccountId, amount: u128) -> impl Payload {
	runtime::transactions().balances().transfer_keep_alive((*to).into(), amount)
}

/// Funds each of `accounts` with `amount` planck from `from`, and waits.
pub async fn fund(
	bulk: &Bulk,
	from: &mut Account,
	accounts: &[AccountId],
	amount: u128,
) -> Result<()> {
	let mut transactions = Vec::new();
	for to in accounts {
		transactions.push(bulk.sign(&transfer(to, amount), from)?);
	}
	bulk.submit_and_wait(transactions).await.context("funding the benchmark's accounts")
}
