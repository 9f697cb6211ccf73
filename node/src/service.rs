//! Builds the node's components and starts block production and finality in the chosen mode.

use crate::cli::{Consensus, SealTiming};
use futures::{
	channel::{mpsc, oneshot},
	FutureExt, StreamExt,
};
use modicum_runtime::{opaque::Block, RuntimeApi};
use sc_client_api::Backend as _;
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_consensus_manual_seal::{
	consensus::aura::AuraConsensusDataProvider, rpc::EngineCommand, ConsensusDataProvider,
	CreatedBlock, Error as SealError,
};
use sc_network::{NotificationService, ProtocolName};
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::{OffchainTransactionPoolFactory, TransactionPool as _};
use sp_blockchain::HeaderBackend as _;
use sp_consensus_aura::sr25519::{AuthorityId as AuraId, AuthorityPair as AuraPair};
use sp_inherents::CreateInherentDataProviders;
use sp_runtime::traits::Block as BlockT;
use std::{
	marker::PhantomData,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc,
	},
	time::Duration,
};

/// Host functions the runtime may import. Benchmarking runtimes import extra ones.
#[cfg(not(feature = "runtime-benchmarks"))]
pub type HostFunctions = sp_io::SubstrateHostFunctions;
/// Host functions the runtime may import. Benchmarking runtimes import extra ones.
#[cfg(feature = "runtime-benchmarks")]
pub type HostFunctions =
	(sp_io::SubstrateHostFunctions, frame_benchmarking::benchmarking::HostFunctions);

/// The full client.
pub type FullClient =
	sc_service::TFullClient<Block, RuntimeApi, sc_executor::WasmExecutor<HostFunctions>>;
/// The full (database) backend.
pub type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;
/// The transaction pool (single-state or fork-aware, as `--pool-type` says).
pub type FullPool = sc_transaction_pool::TransactionPoolHandle<Block, FullClient>;
type Hash = <Block as BlockT>::Hash;
type GrandpaBlockImport =
	sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>;
type GrandpaLink = sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>;
type Proposer = sc_basic_authorship::ProposerFactory<FullPool, FullClient>;

/// GRANDPA imports (and generates) justifications at least this often, in blocks.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// Consensus parts built with the import queue and needed again to start the node.
// Built once per node start; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ConsensusParts {
	/// Instant seal imports through the client directly; only its settings are kept.
	InstantSeal(SealTiming),
	/// Aura authoring imports through GRANDPA's block import, which feeds the voter.
	AuraGrandpa {
		/// GRANDPA's wrapper around the client's block import.
		block_import: GrandpaBlockImport,
		/// The voter's end of the block import.
		link: GrandpaLink,
	},
}

/// Components shared by the node and the chain-ops subcommands.
pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	FullPool,
	(ConsensusParts, Option<Telemetry>),
>;

/// Builds the client, backend, pool and the import queue matching `consensus`.
pub fn new_partial(config: &Configuration, consensus: Consensus) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|endpoints| !endpoints.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
	// Blocks carrying GRANDPA justifications are kept when pruning: warp sync proofs need them.
	let pruning_filters: Vec<Arc<dyn sc_service::PruningFilter>> =
		vec![Arc::new(sc_consensus_grandpa::GrandpaPruningFilter)];
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			pruning_filters,
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::new(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (import_queue, consensus_parts) = match consensus {
		Consensus::InstantSeal(timing) => {
			// Sealed blocks carry no signature to check; peers' blocks are taken as they are
			// (this mode is for single-node development chains).
			let import_queue = sc_consensus_manual_seal::import_queue(
				Box::new(client.clone()),
				&task_manager.spawn_essential_handle(),
				config.prometheus_registry(),
			);
			(import_queue, ConsensusParts::InstantSeal(timing))
		},
		Consensus::AuraGrandpa => {
			let (block_import, link) = sc_consensus_grandpa::block_import(
				client.clone(),
				GRANDPA_JUSTIFICATION_PERIOD,
				&client,
				select_chain.clone(),
				telemetry.as_ref().map(|x| x.handle()),
			)?;

			let cidp_client = client.clone();
			let import_queue = sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(
				ImportQueueParams {
					block_import: block_import.clone(),
					justification_import: Some(Box::new(block_import.clone())),
					client: client.clone(),
					create_inherent_data_providers: move |parent_hash, _| {
						let client = cidp_client.clone();
						async move {
							let slot_duration = sc_consensus_aura::standalone::slot_duration_at::<
								AuraId,
								_,
								_,
							>(&*client, parent_hash)?;
							let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
							let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
								*timestamp,
								slot_duration,
							);
							Ok::<_, Box<dyn std::error::Error + Send + Sync>>((slot, timestamp))
						}
					},
					spawner: &task_manager.spawn_essential_handle(),
					registry: config.prometheus_registry(),
					check_for_equivocation: Default::default(),
					telemetry: telemetry.as_ref().map(|x| x.handle()),
					compatibility_mode: Default::default(),
				},
			)?;
			(import_queue, ConsensusParts::AuraGrandpa { block_import, link })
		},
	};

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (consensus_parts, telemetry),
	})
}

/// Consensus parts once the networking for them has been set up.
#[allow(clippy::large_enum_variant)]
enum NetworkedConsensus {
	InstantSeal(SealTiming),
	AuraGrandpa {
		block_import: GrandpaBlockImport,
		link: GrandpaLink,
		protocol_name: ProtocolName,
		notification_service: Box<dyn NotificationService>,
	},
}

/// Builds and starts a full node.
pub fn new_full<N: sc_network::NetworkBackend<Block, Hash>>(
	config: Configuration,
	consensus: Consensus,
) -> Result<TaskManager, ServiceError> {
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (consensus_parts, mut telemetry),
	} = new_partial(&config, consensus)?;

	let mut net_config = sc_network::config::FullNetworkConfiguration::<Block, Hash, N>::new(
		&config.network,
		config.prometheus_registry().cloned(),
	);
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	// GRANDPA gossips on its own notification protocol and serves warp sync proofs; neither
	// exists in instant-seal mode.
	let (consensus, warp_sync_config) = match consensus_parts {
		ConsensusParts::InstantSeal(timing) => {
			let off_or_ms = |ms: u64| if ms == 0 { "off".to_string() } else { format!("{ms} ms") };
			log::info!(
				"Consensus: instant seal (idle seal interval: {}, batch window: {})",
				off_or_ms(timing.interval_ms),
				off_or_ms(timing.batch_ms),
			);
			(NetworkedConsensus::InstantSeal(timing), None)
		},
		ConsensusParts::AuraGrandpa { block_import, link } => {
			log::info!("Consensus: aura + GRANDPA");
			let protocol_name = sc_consensus_grandpa::protocol_standard_name(
				&client.info().genesis_hash,
				&config.chain_spec,
			);
			let (protocol_config, notification_service) =
				sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
					protocol_name.clone(),
					metrics.clone(),
					net_config.peer_store_handle(),
				);
			net_config.add_notification_protocol(protocol_config);

			let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
				backend.clone(),
				link.shared_authority_set().clone(),
				Vec::default(),
			));
			(
				NetworkedConsensus::AuraGrandpa {
					block_import,
					link,
					protocol_name,
					notification_service,
				},
				Some(WarpSyncConfig::<Block>::WithProvider(warp_sync)),
			)
		},
	};

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config,
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	if config.offchain_worker.enabled {
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: true,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let role = config.role;
	let force_authoring = config.force_authoring;
	let name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let prometheus_registry = config.prometheus_registry().cloned();

	// Only a sealing node answers `engine_*`: the channel is its command queue.
	let (seal_commands_tx, seal_commands_rx) =
		if matches!(consensus, NetworkedConsensus::InstantSeal { .. }) && role.is_authority() {
			let (tx, rx) = mpsc::channel::<EngineCommand<Hash>>(1024);
			(Some(tx), Some(rx))
		} else {
			(None, None)
		};

	let rpc_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		Box::new(move |_| {
			let deps = crate::rpc::FullDeps {
				client: client.clone(),
				pool: pool.clone(),
				manual_seal: seal_commands_tx.clone(),
			};
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: network.clone(),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	// Both authoring modes build blocks from the pool the same way.
	let proposer = || {
		sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		)
	};
	match consensus {
		NetworkedConsensus::InstantSeal(timing) => {
			let Some(commands) = seal_commands_rx else {
				log::warn!(
					"Instant-seal mode on a non-validator node: it seals nothing and only imports \
					 blocks from peers. Pass --validator (or --dev / --alice) to seal blocks."
				);
				return Ok(task_manager);
			};
			let proposer = proposer();
			// The aura pre-digest makes sealed blocks look like aura blocks to the runtime.
			let slot_duration = sc_consensus_aura::slot_duration::<AuraId, _, _>(&*client)?;
			let clock = MonotonicClock::default();
			let sealer = InstantSeal {
				client,
				pool: transaction_pool,
				select_chain,
				proposer,
				consensus_data_provider: AuraConsensusDataProvider::new_with_slot_duration(
					slot_duration,
				),
				create_inherent_data_providers: move |_: Hash, ()| {
					let timestamp = clock.next();
					async move {
						Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
							sp_timestamp::InherentDataProvider::new(timestamp.into()),
						)
					}
				},
				commands,
				seal_interval: (timing.interval_ms > 0)
					.then(|| Duration::from_millis(timing.interval_ms)),
				batch_window: Duration::from_millis(timing.batch_ms),
			};
			task_manager.spawn_essential_handle().spawn_blocking(
				"instant-seal",
				Some("block-authoring"),
				sealer.run(),
			);
		},
		NetworkedConsensus::AuraGrandpa {
			block_import,
			link,
			protocol_name,
			notification_service,
		} => {
			if role.is_authority() {
				let proposer_factory = proposer();
				let slot_duration = sc_consensus_aura::slot_duration::<AuraId, _, _>(&*client)?;

				let aura = sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(
					StartAuraParams {
						slot_duration,
						client: client.clone(),
						select_chain,
						block_import,
						proposer_factory,
						create_inherent_data_providers: move |_, ()| async move {
							let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
							let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
								*timestamp,
								slot_duration,
							);
							Ok::<_, Box<dyn std::error::Error + Send + Sync>>((slot, timestamp))
						},
						force_authoring,
						backoff_authoring_blocks: Option::<()>::None,
						keystore: keystore_container.keystore(),
						sync_oracle: sync_service.clone(),
						justification_sync_link: sync_service.clone(),
						block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
						max_block_proposal_slot_portion: None,
						telemetry: telemetry.as_ref().map(|x| x.handle()),
						compatibility_mode: Default::default(),
					},
				)?;
				// Essential: a validator that stopped authoring should stop altogether.
				task_manager.spawn_essential_handle().spawn_blocking(
					"aura",
					Some("block-authoring"),
					aura,
				);
			}

			if enable_grandpa {
				let config = sc_consensus_grandpa::Config {
					gossip_duration: Duration::from_millis(333),
					justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
					name: Some(name),
					observer_enabled: false,
					// Non-authorities run the voter without keys, just to follow finality.
					keystore: role.is_authority().then(|| keystore_container.keystore()),
					local_role: role,
					telemetry: telemetry.as_ref().map(|x| x.handle()),
					protocol_name,
				};
				let voter =
					sc_consensus_grandpa::run_grandpa_voter(sc_consensus_grandpa::GrandpaParams {
						config,
						link,
						network,
						sync: sync_service,
						notification_service,
						voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
						prometheus_registry,
						shared_voter_state: SharedVoterState::empty(),
						telemetry: telemetry.as_ref().map(|x| x.handle()),
						offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(
							transaction_pool,
						),
					})?;
				// Essential: without the voter this node neither votes nor follows finality.
				task_manager.spawn_essential_handle().spawn_blocking("grandpa-voter", None, voter);
			}
		},
	}

	Ok(task_manager)
}

/// Timestamps for instant seal: wall-clock time, but strictly increasing, since two blocks may
/// be sealed within the same millisecond.
#[derive(Clone, Default)]
struct MonotonicClock(Arc<AtomicU64>);

impl MonotonicClock {
	/// Returns `max(now, last + 1)` and remembers it.
	fn next(&self) -> u64 {
		let now = sp_timestamp::Timestamp::current().as_millis();
		let step = |last: u64| now.max(last.saturating_add(1));
		match self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(step(last))) {
			Ok(last) | Err(last) => step(last),
		}
	}
}

/// How long instant seal waits for the pool to catch up with a block it sealed before
/// counting what is still ready (the pool prunes a block's transactions on its import
/// notification).
const READY_AFTER_SEAL_TIMEOUT: Duration = Duration::from_millis(500);

/// The instant-seal authoring task.
struct InstantSeal<CIDP> {
	client: Arc<FullClient>,
	pool: Arc<FullPool>,
	select_chain: FullSelectChain,
	proposer: Proposer,
	consensus_data_provider: AuraConsensusDataProvider<Block>,
	create_inherent_data_providers: CIDP,
	/// `engine_createBlock` / `engine_finalizeBlock` requests.
	commands: mpsc::Receiver<EngineCommand<Hash>>,
	/// Seal an empty block after this long without one.
	seal_interval: Option<Duration>,
	/// Gather transactions for this long after the first arrives, then seal them together.
	batch_window: Duration,
}

/// Why the instant-seal task seals a block.
enum Trigger {
	/// An RPC request, answered by manual seal itself.
	Rpc(EngineCommand<Hash>),
	/// Transactions entered the pool: seal them, but no empty block.
	Transactions,
	/// Nothing was sealed for `seal_interval`: seal even an empty block so time moves.
	Idle,
}

impl<CIDP> InstantSeal<CIDP>
where
	CIDP: CreateInherentDataProviders<Block, ()> + Send + Sync + 'static,
{
	async fn run(mut self) {
		let mut pool_imports = self.pool.import_notification_stream();
		let mut rpc_open = true;
		let idle = tokio::time::sleep(self.seal_interval.unwrap_or_default());
		let mut idle = std::pin::pin!(idle);

		loop {
			let trigger = tokio::select! {
				// RPC first, so a test's engine_createBlock does not queue behind the timer.
				biased;
				command = self.commands.next(), if rpc_open => match command {
					Some(command) => Trigger::Rpc(command),
					None => {
						rpc_open = false;
						continue;
					},
				},
				imported = pool_imports.next() => match imported {
					Some(_) => {
						// One block for a burst of transactions rather than one per transaction.
						if !self.batch_window.is_zero() {
							tokio::time::sleep(self.batch_window).await;
						}
						while let Some(Some(_)) = pool_imports.next().now_or_never() {}
						Trigger::Transactions
					},
					None => {
						log::info!("Transaction pool closed; instant seal stops.");
						return;
					},
				},
				() = &mut idle, if self.seal_interval.is_some() => Trigger::Idle,
			};

			let was_idle = matches!(trigger, Trigger::Idle);
			let sealed = match trigger {
				Trigger::Rpc(EngineCommand::SealNewBlock {
					create_empty,
					finalize,
					parent_hash,
					sender,
				}) => {
					self.seal(create_empty, finalize, parent_hash, sender).await;
					// The RPC caller gets the outcome; assume a block was made.
					true
				},
				Trigger::Rpc(EngineCommand::FinalizeBlock { hash, sender, justification }) => {
					sc_consensus_manual_seal::finalize_block(
						sc_consensus_manual_seal::FinalizeBlockParams::<
							Block,
							FullClient,
							FullBackend,
						> {
							hash,
							sender,
							justification: justification
								.map(|j| (sc_consensus_manual_seal::MANUAL_SEAL_ENGINE_ID, j)),
							finalizer: self.client.clone(),
							_phantom: PhantomData,
						},
					)
					.await;
					false
				},
				Trigger::Transactions => self.seal_own_until_drained(false).await,
				Trigger::Idle => self.seal_own_until_drained(true).await,
			};

			// Restart the idle countdown after each block; also after a failed idle seal, as
			// an elapsed timer would otherwise fire again at once.
			if let Some(interval) = self.seal_interval {
				if sealed || was_idle {
					idle.as_mut().reset(tokio::time::Instant::now() + interval);
				}
			}
		}
	}

	/// Seals a block for the node's own trigger, then more at once while each one takes
	/// transactions the pool still had ready: a block full by weight leaves them behind,
	/// and no arrival announces them, so they would wait out the idle interval (a batch
	/// of calls waited a second per block). Stops once a block takes none of them (one
	/// that can never fit waits for the next trigger). True if a block was made.
	async fn seal_own_until_drained(&mut self, create_empty: bool) -> bool {
		let Some(first) = self.seal_own(create_empty).await else { return false };
		let mut ready = self.ready_after(first).await;
		while ready > 0 {
			let Some(next) = self.seal_own(false).await else { break };
			let left = self.ready_after(next).await;
			if left >= ready {
				break;
			}
			ready = left;
		}
		true
	}

	/// How many transactions the pool holds ready on top of block `at`.
	async fn ready_after(&self, at: Hash) -> usize {
		self.pool.ready_at_with_timeout(at, READY_AFTER_SEAL_TIMEOUT).await.count()
	}

	/// Seals a block for the node's own triggers and logs the outcome; its hash if one
	/// was made.
	async fn seal_own(&mut self, create_empty: bool) -> Option<Hash> {
		let (sender, receiver) = oneshot::channel();
		// Finalize at once: there is no finality gadget in this mode.
		self.seal(create_empty, true, None, Some(sender)).await;
		match receiver.await {
			Ok(Ok(CreatedBlock { hash, .. })) => {
				log::debug!("Instant seal: sealed block {hash:?}");
				Some(hash)
			},
			// A pool notification for transactions already sealed, or none ready.
			Ok(Err(SealError::EmptyTransactionPool)) => None,
			Ok(Err(err)) => {
				log::warn!("Instant seal: could not seal a block: {err}");
				None
			},
			Err(_) => None,
		}
	}

	async fn seal(
		&mut self,
		create_empty: bool,
		finalize: bool,
		parent_hash: Option<Hash>,
		sender: sc_consensus_manual_seal::rpc::Sender<CreatedBlock<Hash>>,
	) {
		let mut block_import = self.client.clone();
		sc_consensus_manual_seal::seal_block(sc_consensus_manual_seal::SealBlockParams {
			create_empty,
			finalize,
			parent_hash,
			sender,
			pool: self.pool.clone(),
			client: self.client.clone(),
			env: &mut self.proposer,
			select_chain: &self.select_chain,
			consensus_data_provider: Some(
				&self.consensus_data_provider as &dyn ConsensusDataProvider<Block>,
			),
			block_import: &mut block_import,
			create_inherent_data_providers: &self.create_inherent_data_providers,
		})
		.await;
	}
}
