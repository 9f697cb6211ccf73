//! Every block of the head a connection follows (finalized, or best: [`Head`]), in
//! order, however fast the chain goes.
//!
//! A task of its own only drains the node's heads subscription and records the highest
//! number announced; the reader then walks the chain by number.
//! So a reader that is slow to handle a block never backs up the subscription (the
//! node drops a subscription whose client falls behind a burst of blocks), a block the
//! node announces only as part of a jump is still read, and a dropped subscription is
//! opened again without losing a block.
//!
//! Best blocks may be retracted. Each best block's parent is checked against the block
//! delivered before it; when they differ, the reader walks back to the last block both
//! chains share, reports the retraction ([`Followed::Retracted`]) and goes on along the
//! chain that replaced them.

use crate::{
	chain::{AtBlock, Head},
	Chain, ClientError, ModicumConfig,
};
use serde::Deserialize;
use std::{collections::VecDeque, time::Duration};
use subxt::{
	config::HashFor,
	rpcs::{client::RpcSubscription, rpc_params, RpcClient},
};
use tokio::{sync::watch, task::JoinHandle};

/// How long the follower keeps trying to subscribe again before it decides the node
/// is gone and ends the stream.
const RESUBSCRIBE_FOR: Duration = Duration::from_secs(30);
/// Pause between attempts to subscribe again.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);
/// How many delivered blocks are remembered to find where a retraction began; a
/// retraction deeper than this is reported from the oldest one remembered.
const REMEMBERED_BLOCKS: usize = 256;
/// Pause while the best chain is shorter than a number announced (after a retraction).
const SHORTER_CHAIN_PAUSE: Duration = Duration::from_millis(100);

type Hash = HashFor<ModicumConfig>;

/// What following the chain yields next.
pub enum Followed {
	/// The next block on the chain followed: its number and a reader at it.
	Block(u64, AtBlock),
	/// Blocks delivered earlier above this number were retracted: what they showed
	/// may not hold. The blocks that replace them follow.
	Retracted {
		/// The last block the retracted ones and their replacements share.
		above: u64,
	},
}

/// Blocks of a chain's followed head, from the one at its head when following began.
pub struct Blocks {
	chain: Chain,
	/// The highest number announced; the channel closes when the node is gone.
	announced: watch::Receiver<u64>,
	next: u64,
	delivered: Delivered,
	follower: JoinHandle<()>,
}

impl Drop for Blocks {
	fn drop(&mut self) {
		self.follower.abort();
	}
}

impl Blocks {
	/// Starts following the head `chain` follows; the first block yielded is the one at
	/// that head now.
	pub async fn follow(chain: &Chain) -> Result<Blocks, ClientError> {
		let head = chain.head();
		let (heads, first) = subscribe(&chain.rpc(), head).await?;
		let (publish, announced) = watch::channel(first);
		let follower = tokio::spawn(follow_heads(chain.rpc(), head, heads, publish));
		Ok(Blocks {
			chain: chain.clone(),
			announced,
			next: first,
			delivered: Delivered::default(),
			follower,
		})
	}

	/// The next block, or a retraction; `None` once the node is gone. A failed read is
	/// returned as an error and the same block is tried again on the next call.
	pub async fn next(&mut self) -> Option<Result<Followed, ClientError>> {
		let next = self.next;
		if self.announced.wait_for(|&latest| latest >= next).await.is_err() {
			return None;
		}
		let hash = loop {
			match self.chain.hash_at(next).await {
				Ok(Some(hash)) => break hash,
				// The best chain is shorter than announced: a retraction to a shorter
				// chain. Its next block comes.
				Ok(None) if self.chain.head() == Head::Best => {
					if self.announced.has_changed().is_err() {
						return None;
					}
					tokio::time::sleep(SHORTER_CHAIN_PAUSE).await;
				},
				Ok(None) => {
					return Some(Err(crate::chain::read_error(
						&format!("block {next}"),
						"the node does not have it",
					)))
				},
				Err(e) => return Some(Err(e)),
			}
		};
		if self.chain.head() == Head::Best {
			match self.retraction(next, hash).await {
				Ok(None) => {},
				Ok(Some(above)) => {
					self.delivered.forget_above(above);
					self.next = above.saturating_add(1);
					return Some(Ok(Followed::Retracted { above }));
				},
				Err(e) => return Some(Err(e)),
			}
		}
		let at = self.chain.at_hash(hash, &format!("block {next}")).await;
		if at.is_ok() {
			self.delivered.push(next, hash);
			self.next = next.saturating_add(1);
		}
		Some(at.map(|at| Followed::Block(next, at)))
	}

	/// Whether block `number` (`hash`) does not build on the block delivered before it:
	/// then the last number the delivered blocks and the chain now share.
	async fn retraction(&self, number: u64, hash: Hash) -> Result<Option<u64>, ClientError> {
		let Some(before) = number.checked_sub(1) else { return Ok(None) };
		let Some(delivered) = self.delivered.hash_of(before) else { return Ok(None) };
		if self.chain.parent_of(hash).await? == delivered {
			return Ok(None);
		}
		let chain = &self.chain;
		shared_block(&self.delivered, before, |n| chain.hash_at(n)).await.map(Some)
	}
}

/// Walking down from `from`, the first delivered block the chain (`canonical`: its
/// block hash at a number) still holds; past what is remembered, the parent of the
/// oldest block remembered (all of them count as retracted).
async fn shared_block<F, Fut>(
	delivered: &Delivered,
	from: u64,
	mut canonical: F,
) -> Result<u64, ClientError>
where
	F: FnMut(u64) -> Fut,
	Fut: std::future::Future<Output = Result<Option<Hash>, ClientError>>,
{
	let mut shared = from;
	loop {
		let Some(remembered) = delivered.hash_of(shared) else {
			return Ok(delivered.oldest().map_or(shared, |n| n.saturating_sub(1)));
		};
		if canonical(shared).await? == Some(remembered) || shared == 0 {
			return Ok(shared);
		}
		shared -= 1;
	}
}

/// The recent blocks delivered, by number, oldest first.
#[derive(Default)]
struct Delivered(VecDeque<(u64, Hash)>);

impl Delivered {
	fn push(&mut self, number: u64, hash: Hash) {
		if self.0.len() == REMEMBERED_BLOCKS {
			self.0.pop_front();
		}
		self.0.push_back((number, hash));
	}

	fn hash_of(&self, number: u64) -> Option<Hash> {
		self.0.iter().rev().find(|(n, _)| *n == number).map(|(_, hash)| *hash)
	}

	fn forget_above(&mut self, number: u64) {
		self.0.retain(|(n, _)| *n <= number);
	}

	fn oldest(&self) -> Option<u64> {
		self.0.front().map(|(n, _)| *n)
	}
}

/// The part of a header this needs.
#[derive(Deserialize)]
struct HeadNumber {
	/// Hex, as the node's JSON gives it.
	number: String,
}

type Heads = RpcSubscription<HeadNumber>;

fn head_number(head: &HeadNumber) -> Option<u64> {
	u64::from_str_radix(head.number.trim_start_matches("0x"), 16).ok()
}

/// Subscribes to `head`'s heads; returns the subscription and the number at that head
/// now (the node's first notification).
async fn subscribe(rpc: &RpcClient, head: Head) -> Result<(Heads, u64), ClientError> {
	let (what, method, unsubscribe) = match head {
		Head::Finalized => {
			("finalized heads", "chain_subscribeFinalizedHeads", "chain_unsubscribeFinalizedHeads")
		},
		Head::Best => ("best heads", "chain_subscribeNewHeads", "chain_unsubscribeNewHeads"),
	};
	let failed = |reason: String| ClientError::Read { what: what.into(), reason };
	let mut heads: Heads = rpc
		.subscribe(method, rpc_params![], unsubscribe)
		.await
		.map_err(|e| failed(e.to_string()))?;
	match heads.next().await {
		Some(Ok(head)) => match head_number(&head) {
			Some(number) => Ok((heads, number)),
			None => Err(failed(format!("unreadable block number {:?}", head.number))),
		},
		Some(Err(e)) => Err(failed(e.to_string())),
		None => Err(failed("the node ended the subscription at once".into())),
	}
}

/// Publishes each announced number as it comes; subscribes again when the node drops
/// the subscription; gives up (closing the channel) when it cannot for
/// [`RESUBSCRIBE_FOR`], or when nobody reads any more.
async fn follow_heads(rpc: RpcClient, head: Head, mut heads: Heads, publish: watch::Sender<u64>) {
	loop {
		while let Some(head) = heads.next().await {
			let Some(number) = head.ok().as_ref().and_then(head_number) else { break };
			raise(&publish, number);
		}
		if publish.is_closed() {
			return;
		}
		tracing::debug!(?head, "heads subscription ended; subscribing again");
		let started = tokio::time::Instant::now();
		heads = loop {
			match subscribe(&rpc, head).await {
				Ok((heads, number)) => {
					raise(&publish, number);
					break heads;
				},
				Err(e) if started.elapsed() >= RESUBSCRIBE_FOR => {
					tracing::warn!(?head, "cannot follow the chain any more: {e}");
					return;
				},
				Err(_) => tokio::time::sleep(RESUBSCRIBE_PAUSE).await,
			}
		};
	}
}

/// Publishes `number` if it is higher than the last published (readers wake only then).
fn raise(publish: &watch::Sender<u64>, number: u64) {
	publish.send_if_modified(|latest| {
		let higher = number > *latest;
		if higher {
			*latest = number;
		}
		higher
	});
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn head_numbers_are_hex() {
		let head = |n: &str| HeadNumber { number: n.into() };
		assert_eq!(head_number(&head("0x0")), Some(0));
		assert_eq!(head_number(&head("0x1a")), Some(26));
		assert_eq!(head_number(&head("0xzz")), None);
	}

	fn hash(byte: u8) -> Hash {
		Hash::from([byte; 32])
	}

	/// Blocks 10..=14 delivered as hashes 10..=14.
	fn delivered() -> Delivered {
		let mut delivered = Delivered::default();
		for n in 10..=14u8 {
			delivered.push(u64::from(n), hash(n));
		}
		delivered
	}

	fn walk(delivered: &Delivered, from: u64, chain: &[(u64, u8)]) -> u64 {
		let canonical = |n: u64| {
			let found = chain.iter().find(|(m, _)| *m == n).map(|(_, h)| hash(*h));
			async move { Ok::<_, ClientError>(found) }
		};
		futures::executor::block_on(shared_block(delivered, from, canonical)).unwrap()
	}

	#[test]
	fn a_retraction_is_reported_from_the_last_shared_block() {
		let delivered = delivered();
		// The chain now holds 10..=12 as delivered, then other blocks 13 and 14.
		let chain = [(10, 10), (11, 11), (12, 12), (13, 113), (14, 114)];
		assert_eq!(walk(&delivered, 14, &chain), 12);
		// Only the last block replaced.
		let chain = [(10, 10), (11, 11), (12, 12), (13, 13), (14, 114)];
		assert_eq!(walk(&delivered, 14, &chain), 13);
	}

	#[test]
	fn a_retraction_deeper_than_remembered_counts_every_remembered_block() {
		let delivered = delivered();
		let chain = [(10, 110), (11, 111), (12, 112), (13, 113), (14, 114)];
		assert_eq!(walk(&delivered, 14, &chain), 9);
	}

	#[test]
	fn delivered_blocks_are_remembered_up_to_a_bound_and_forgotten_above_a_retraction() {
		let mut delivered = Delivered::default();
		for n in 0..(REMEMBERED_BLOCKS as u64 + 10) {
			delivered.push(n, hash((n % 256) as u8));
		}
		assert_eq!(delivered.oldest(), Some(10));
		assert_eq!(delivered.hash_of(9), None);
		assert_eq!(delivered.hash_of(20), Some(hash(20)));
		delivered.forget_above(20);
		assert_eq!(delivered.hash_of(21), None);
		assert_eq!(delivered.hash_of(20), Some(hash(20)));
	}
}
