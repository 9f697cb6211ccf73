//! Every finalized block, in order, however fast the chain goes.
//!
//! A task of its own only drains the node's finalized-heads subscription and records
//! the highest finalized number; the reader then walks the chain by number.
//! So a reader that is slow to handle a block never backs up the subscription (the
//! node drops a subscription whose client falls behind a burst of blocks), a block the
//! node announces only as part of a jump is still read, and a dropped subscription is
//! opened again without losing a block.

use crate::{chain::AtBlock, Chain, ClientError};
use serde::Deserialize;
use std::time::Duration;
use subxt::rpcs::{client::RpcSubscription, rpc_params, RpcClient};
use tokio::{sync::watch, task::JoinHandle};

/// How long the follower keeps trying to subscribe again before it decides the node
/// is gone and ends the stream.
const RESUBSCRIBE_FOR: Duration = Duration::from_secs(30);
/// Pause between attempts to subscribe again.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);

/// Finalized blocks of a chain, from the one finalized when following began.
pub struct FinalizedBlocks {
	chain: Chain,
	/// The highest finalized number seen; the channel closes when the node is gone.
	finalized: watch::Receiver<u64>,
	next: u64,
	follower: JoinHandle<()>,
}

impl Drop for FinalizedBlocks {
	fn drop(&mut self) {
		self.follower.abort();
	}
}

impl FinalizedBlocks {
	/// Starts following `chain`'s finalized blocks; the first block yielded is the one
	/// finalized now.
	pub async fn follow(chain: &Chain) -> Result<FinalizedBlocks, ClientError> {
		let (heads, first) = subscribe(&chain.rpc()).await?;
		let (publish, finalized) = watch::channel(first);
		let follower = tokio::spawn(follow_heads(chain.rpc(), heads, publish));
		Ok(FinalizedBlocks { chain: chain.clone(), finalized, next: first, follower })
	}

	/// The next finalized block and its number; `None` once the node is gone. A failed
	/// read is returned as an error and the same block is tried again on the next call.
	pub async fn next(&mut self) -> Option<Result<(u64, AtBlock), ClientError>> {
		let next = self.next;
		if self.finalized.wait_for(|&latest| latest >= next).await.is_err() {
			return None;
		}
		let at = self.chain.at_number(next).await;
		if at.is_ok() {
			self.next = next.saturating_add(1);
		}
		Some(at.map(|at| (next, at)))
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

/// Subscribes; returns the subscription and the number finalized now (the node's first
/// notification).
async fn subscribe(rpc: &RpcClient) -> Result<(Heads, u64), ClientError> {
	let failed = |reason: String| ClientError::Read { what: "finalized heads".into(), reason };
	let mut heads: Heads = rpc
		.subscribe(
			"chain_subscribeFinalizedHeads",
			rpc_params![],
			"chain_unsubscribeFinalizedHeads",
		)
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

/// Publishes each finalized number as it comes; subscribes again when the node drops
/// the subscription; gives up (closing the channel) when it cannot for
/// [`RESUBSCRIBE_FOR`], or when nobody reads any more.
async fn follow_heads(rpc: RpcClient, mut heads: Heads, publish: watch::Sender<u64>) {
	loop {
		while let Some(head) = heads.next().await {
			let Some(number) = head.ok().as_ref().and_then(head_number) else { break };
			raise(&publish, number);
		}
		if publish.is_closed() {
			return;
		}
		tracing::debug!("finalized-heads subscription ended; subscribing again");
		let started = tokio::time::Instant::now();
		heads = loop {
			match subscribe(&rpc).await {
				Ok((heads, number)) => {
					raise(&publish, number);
					break heads;
				},
				Err(e) if started.elapsed() >= RESUBSCRIBE_FOR => {
					tracing::warn!("cannot follow finalized blocks any more: {e}");
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
}
