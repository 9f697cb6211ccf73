//! The loop every daemon (RP, mediator, solver) runs: follow the market events of the
//! head its connection follows (finalized or best blocks), wake on a tick for
//! deadlines, and when the node goes away reconnect with backoff and catch up instead
//! of exiting. A daemon plugs in what it does on a block and on a tick; which of its
//! errors are worth a reconnect it says through [`Retry`].

use modicum_client::{
	calls::Market,
	chain::Head,
	events::{BlockEvents, MarketEvents},
	keys, AccountId, Chain, ClientError, Keypair,
};
use std::{
	future::Future,
	time::{Duration, Instant},
};

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long the node may stay unreachable before the daemon gives up and exits with
/// the error: a daemon never loops forever on a node that is gone.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(600);

/// What every Docker-running daemon (RP, mediator) opens at start.
pub struct Opened<T> {
	/// The node.
	pub chain: Chain,
	/// Its signing key.
	pub signer: Keypair,
	/// Its account.
	pub me: AccountId,
	/// The Docker engine.
	pub docker: bollard::Docker,
	/// Its persisted state, `<work_dir>/<state_file>`.
	pub state: crate::state::StateFile<T>,
}

/// Why a daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
	/// The node or the key.
	#[error(transparent)]
	Chain(#[from] ClientError),
	/// The Docker engine.
	#[error(transparent)]
	Docker(#[from] crate::docker::DockerError),
	/// The work directory.
	#[error("cannot create {path}: {source}")]
	WorkDir {
		/// The directory.
		path: std::path::PathBuf,
		/// Why.
		source: std::io::Error,
	},
	/// The state file.
	#[error(transparent)]
	State(#[from] crate::state::StateError),
}

/// Connects to the node and the Docker engine, and opens the state file in `work_dir`.
pub async fn open<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
	settings: &modicum_client::settings::ChainSettings,
	work_dir: &std::path::Path,
	state_file: &str,
) -> Result<Opened<T>, OpenError> {
	let chain = Chain::connect(settings.url()).await?;
	let signer = settings.keypair()?;
	let me = keys::account_of(&signer);
	let docker = crate::docker::connect().await?;
	std::fs::create_dir_all(work_dir)
		.map_err(|source| OpenError::WorkDir { path: work_dir.to_path_buf(), source })?;
	let state = crate::state::StateFile::open(&work_dir.join(state_file))?;
	Ok(Opened { chain, signer, me, docker, state })
}

/// What an RP or a mediator declares on chain before it runs: whom it trusts and the
/// base layers it supports (as hashes, or local images whose first layer to declare).
pub struct Declarations<'a> {
	/// Mediators to trust (an RP's; a mediator trusts none).
	pub trusted_mediators: &'a [String],
	/// Directories to trust.
	pub trusted_directories: &'a [String],
	/// Base layers as 0x hex.
	pub base_layers: &'a [String],
	/// Local images whose first layer to declare.
	pub base_images: &'a [String],
}

/// Brings `me`'s trust lists and base layers in line with `wanted`, adding only what
/// is missing, so a restart posts nothing twice.
pub async fn declare(
	chain: &Chain,
	signer: &Keypair,
	docker: &bollard::Docker,
	wanted: Declarations<'_>,
) -> Result<(), ClientError> {
	let market = Market::new(chain, signer);
	let me: AccountId = keys::account_of(signer);
	let trusted = chain.trusted_mediators(&me).await?;
	for mediator in wanted.trusted_mediators {
		let mediator = keys::parse_account(mediator)?;
		if !trusted.contains(&mediator) {
			market.trust_mediator(mediator).await?;
		}
	}
	let trusted = chain.trusted_directories(&me).await?;
	for directory in wanted.trusted_directories {
		let directory = keys::parse_account(directory)?;
		if !trusted.contains(&directory) {
			market.trust_directory(directory).await?;
		}
	}
	let declared = chain.base_layers(&me).await?;
	let layers = declared_layers(docker, wanted.base_layers, wanted.base_images).await.map_err(
		|reason| ClientError::Config { path: "base_layers / base_images".into(), reason },
	)?;
	for layer in layers {
		if !declared.contains(&layer) {
			market.add_base_layer(layer).await?;
		}
	}
	Ok(())
}

/// The base layers to declare: given as hex, or read from local images.
async fn declared_layers(
	docker: &bollard::Docker,
	hashes: &[String],
	images: &[String],
) -> Result<Vec<[u8; 32]>, String> {
	let mut layers = Vec::new();
	for text in hashes {
		layers.push(crate::rp::parse_hash(text)?);
	}
	for image in images {
		layers.push(
			crate::docker::image_first_layer(docker, image).await.map_err(|e| e.to_string())?,
		);
	}
	Ok(layers)
}

/// Why a daemon woke.
#[derive(Debug)]
pub enum Wake {
	/// A block's market events.
	Block(BlockEvents),
	/// Best blocks delivered earlier, above this number, were retracted: whatever the
	/// daemon learnt from their events may not hold. Read the chain again. The blocks
	/// that replaced them follow as [`Wake::Block`].
	Retracted {
		/// The last block the retracted ones and their replacements share.
		above: u64,
	},
	/// The tick: re-check what deadlines may have passed. Also the first wake after
	/// (re)connecting, to catch up on whatever happened meanwhile.
	Tick,
}

/// Whether an error means the node connection failed (reconnect and carry on) rather
/// than something a retry cannot fix (exit).
pub trait Retry {
	/// The connection failed; a reconnect may fix it.
	fn is_connection_lost(&self) -> bool;
}

impl Retry for ClientError {
	fn is_connection_lost(&self) -> bool {
		matches!(self, ClientError::Connect { .. } | ClientError::Read { .. })
	}
}

/// Follows `chain` until `handle` fails for good or the node stays away for
/// [`GIVE_UP_AFTER`]; `handle` is called for every block and every `tick`.
pub async fn follow<E, F, Fut>(chain: &Chain, tick: Duration, mut handle: F) -> Result<(), E>
where
	E: From<ClientError> + Retry + std::fmt::Display,
	F: FnMut(Wake) -> Fut,
	Fut: Future<Output = Result<(), E>>,
{
	let mut backoff = Backoff::default();
	// The last block handled, across reconnects.
	let mut handled: Option<u64> = None;
	loop {
		let lost = match session(chain, tick, &mut handle, &mut backoff, &mut handled).await {
			Err(e) if e.is_connection_lost() => e,
			other => return other,
		};
		tracing::warn!("lost the node: {lost}; reconnecting");
		loop {
			let Some(wait) = backoff.next_wait() else {
				tracing::error!("the node stayed unreachable for {GIVE_UP_AFTER:?}; giving up");
				return Err(lost);
			};
			tokio::time::sleep(wait).await;
			match chain.reconnect().await {
				Ok(()) => {
					tracing::info!("reconnected to {}", chain.url());
					break;
				},
				Err(e) => {
					tracing::warn!("reconnecting failed (retrying in {:?}): {e}", backoff.wait)
				},
			}
		}
	}
}

/// One connection's life: subscribe, catch up, then blocks and ticks until an error.
/// Following best blocks, the catch-up after a reconnect is [`Wake::Retracted`] above
/// the last block handled: blocks handled before may have been retracted meanwhile, and
/// a retraction the lost connection was about to report is not lost.
async fn session<E, F, Fut>(
	chain: &Chain,
	tick: Duration,
	handle: &mut F,
	backoff: &mut Backoff,
	handled: &mut Option<u64>,
) -> Result<(), E>
where
	E: From<ClientError>,
	F: FnMut(Wake) -> Fut,
	Fut: Future<Output = Result<(), E>>,
{
	let mut events = MarketEvents::subscribe(chain).await?;
	match *handled {
		Some(above) if chain.head() == Head::Best => handle(Wake::Retracted { above }).await?,
		_ => handle(Wake::Tick).await?,
	}
	backoff.reset();
	let mut ticks = tokio::time::interval(tick.max(Duration::from_millis(100)));
	ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
	loop {
		tokio::select! {
			block = events.next() => match block {
				Some(Ok(block)) => {
					if let Some(above) = block.retracted_above {
						tracing::warn!(above, "best blocks were retracted; reading the chain again");
						handle(Wake::Retracted { above }).await?;
					}
					let number = block.number;
					handle(Wake::Block(block)).await?;
					*handled = Some(number);
				},
				Some(Err(e)) => return Err(e.into()),
				None => return Err(ClientError::Read {
					what: "the chain's blocks".into(),
					reason: "the node closed the subscription".into(),
				}.into()),
			},
			_ = ticks.tick() => handle(Wake::Tick).await?,
		}
	}
}

/// Exponential backoff that gives up once the outage lasts [`GIVE_UP_AFTER`].
#[derive(Debug)]
struct Backoff {
	wait: Duration,
	since: Option<Instant>,
	give_up_after: Duration,
}

impl Default for Backoff {
	fn default() -> Self {
		Backoff { wait: FIRST_BACKOFF, since: None, give_up_after: GIVE_UP_AFTER }
	}
}

impl Backoff {
	/// The wait before the next attempt, or `None` once the outage is too long.
	fn next_wait(&mut self) -> Option<Duration> {
		let since = *self.since.get_or_insert_with(Instant::now);
		if since.elapsed() >= self.give_up_after {
			return None;
		}
		let wait = self.wait;
		self.wait = (self.wait * 2).min(MAX_BACKOFF);
		Some(wait)
	}

	fn reset(&mut self) {
		*self = Backoff::default();
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn backoff_doubles_to_a_cap_and_resets() {
		let mut backoff = Backoff::default();
		let waits: Vec<_> = (0..8).map(|_| backoff.next_wait().unwrap()).collect();
		assert_eq!(waits[0], FIRST_BACKOFF);
		assert_eq!(waits[1], FIRST_BACKOFF * 2);
		assert_eq!(*waits.last().unwrap(), MAX_BACKOFF);
		backoff.reset();
		assert_eq!(backoff.next_wait(), Some(FIRST_BACKOFF));
	}

	#[test]
	fn backoff_gives_up_after_a_long_outage() {
		let mut backoff = Backoff { give_up_after: Duration::ZERO, ..Backoff::default() };
		assert_eq!(backoff.next_wait(), None);
	}

	#[test]
	fn only_connection_failures_are_worth_a_reconnect() {
		let read = ClientError::Read { what: "x".into(), reason: "gone".into() };
		assert!(read.is_connection_lost());
		let refused = ClientError::Refused {
			call: "c".into(),
			pallet: "p".into(),
			error: "e".into(),
			docs: String::new(),
		};
		assert!(!refused.is_connection_lost());
	}
}
