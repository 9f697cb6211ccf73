//! `modicum research …`: the paper's equilibrium analysis and parameter sweeps, with
//! θ and n taken from the running chain when one answers.

use crate::{output, Global};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use modicum_research::{analysis, simulate, sweep, Inputs};
use std::{path::PathBuf, time::Duration};

#[derive(Subcommand)]
pub enum ResearchCommand {
	/// The JC's optimal p_a, Theorem 2's condition, p_v (eq. 4), p_e (eq. 5), the
	/// mediation rate and each side's minimum deposit (eq. 2).
	Analyze(InputArgs),
	/// Figure 5 (∂U_JC/∂p_a against p_a for several n) and heat maps of the optimal
	/// p_a and of p_v over a grid of (n, θ), as SVG and PNG.
	Sweep {
		#[command(flatten)]
		inputs: InputArgs,
		/// Where to write the plots.
		#[arg(long, default_value = "plots")]
		out: PathBuf,
		/// The n values of the Figure 5 curves.
		#[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
		figure_ns: Vec<u32>,
		/// Largest n of the heat maps (from 1).
		#[arg(long, default_value_t = 6)]
		n_max: u32,
		/// The θ values of the heat maps.
		#[arg(long, value_delimiter = ',', default_value = "0,1,5,10,25,50,100")]
		thetas: Vec<f64>,
	},
	/// Runs thousands of jobs between Byzantine, Altruistic and Rational agents against the
	/// real compute-market pallet (in memory, no node) and writes a markdown report with
	/// plots: utility, cheating caught, mediation rate and fines per agent type beside the
	/// analytic predictions, the claims checked, and a sweep over (n, θ).
	Simulate(SimulateArgs),
	/// Replicated jobs against the real pallet: each job run as k replicas on distinct
	/// RPs of every type, compared by the chain and mediated when they differ; per RP
	/// type the replicas paid, fined and timed out, the mean utility, and the forged
	/// results that slipped through.
	Replicas(ReplicaArgs),
	/// Spot checks of map jobs: the chance that re-computing a random fraction f of N
	/// records catches a fault that corrupted c of them (exact, and the large-N
	/// approximation), the sample a target probability needs, and a plot.
	SpotCheck(SpotCheckArgs),
	/// Spot-checked record jobs against the real pallet: JCs re-compute a sample of
	/// each result's records; a rational RP corrupts c of N, a byzantine one all; per
	/// RP type the results caught, slipped through and fined, the mean utility, and the
	/// detection rate and expected utility of corrupting beside the model.
	SpotChecked(SpotCheckedArgs),
	/// A sybil RP against record requirements, on the real pallet: it works honestly
	/// until its record passes demanding JCs, forges until fined, then re-registers
	/// under a new account. The same jobs with and without the requirement: forged
	/// results paid for, fines, accounts burnt, and each side's utility.
	Sybil(SybilArgs),
}

/// The market of the replicated and spot-checked runs; the rest as `research
/// simulate`'s defaults.
#[derive(Args)]
pub struct SmallMarketArgs {
	/// Jobs to run.
	#[arg(long, default_value_t = 2_000)]
	jobs: usize,
	/// Seed of the random choices (same seed, same run).
	#[arg(long, default_value_t = 3)]
	seed: u64,
	/// θ, the penalty rate.
	#[arg(long, default_value_t = 50.0)]
	theta: f64,
	/// n, the mediator's re-runs.
	#[arg(long, default_value_t = 2)]
	n: u32,
	/// p_a of a byzantine non-deterministic JC's job (1: every job deterministic).
	#[arg(long, default_value_t = 0.5)]
	byzantine_p_a: f64,
	/// Resource Providers per type.
	#[arg(long, default_value_t = 3)]
	rps_per_type: usize,
}

impl SmallMarketArgs {
	fn config(&self) -> simulate::SimConfig {
		simulate::SimConfig {
			jobs: self.jobs,
			seed: self.seed,
			theta: self.theta,
			n: self.n,
			byzantine_p_a: self.byzantine_p_a,
			population: simulate::Population {
				rps_per_type: self.rps_per_type,
				..Default::default()
			},
			..Default::default()
		}
	}
}

/// `research replicas` settings.
#[derive(Args)]
pub struct ReplicaArgs {
	/// k, the replicas per job (2 to 5).
	#[arg(long, default_value_t = 2)]
	replicas: u32,
	#[command(flatten)]
	market: SmallMarketArgs,
}

/// `research spot-checked` settings.
#[derive(Args)]
pub struct SpotCheckedArgs {
	/// Records per job, N.
	#[arg(long, default_value_t = 10_000)]
	records: u64,
	/// The fraction f of each result's records the JC re-computes.
	#[arg(long, default_value_t = 0.01)]
	fraction: f64,
	/// Records a rational RP corrupts, c [default: 5 % of N].
	#[arg(long)]
	corrupted: Option<u64>,
	#[command(flatten)]
	market: SmallMarketArgs,
}

/// `research sybil` settings.
#[derive(Args)]
pub struct SybilArgs {
	/// Honest RPs beside the attacker.
	#[arg(long, default_value_t = 4)]
	honest_rps: usize,
	/// Share of JCs whose offers ask nothing of the RP (where newcomers start).
	#[arg(long, default_value_t = 0.2)]
	open_share: f64,
	/// What the other JCs require: at least this many accepted jobs ...
	#[arg(long, default_value_t = 10)]
	min_accepted: u32,
	/// ... and at most this percentage of faults.
	#[arg(long, default_value_t = 5.0)]
	max_faults: f64,
	/// p_v: the chance a JC checks a result.
	#[arg(long, default_value_t = 0.1)]
	check_probability: f64,
	#[command(flatten)]
	market: SmallMarketArgs,
}

/// `research spot-check` settings.
#[derive(Args)]
pub struct SpotCheckArgs {
	/// Records in the job, N.
	#[arg(long, default_value_t = 10_000_000_000)]
	records: u64,
	/// Corrupted records, c (repeat or comma-separate for several) [default: 1, 10,
	/// 100, 1000, 10000, 1000000].
	#[arg(long, value_delimiter = ',')]
	corrupted: Vec<u64>,
	/// The sample fraction f.
	#[arg(long, default_value_t = 0.01)]
	fraction: f64,
	/// The detection probability to size a sample for.
	#[arg(long, default_value_t = 0.999)]
	target: f64,
	/// Write spot-check.svg and .png here.
	#[arg(long)]
	plot: Option<PathBuf>,
}

/// `research simulate` settings. Amounts are in currency units (π_c's unit); θ and n
/// default to the chain's genesis defaults.
#[derive(Args)]
pub struct SimulateArgs {
	/// Jobs in the main run.
	#[arg(long, default_value_t = 5_000)]
	jobs: usize,
	/// Seed of the random choices (same seed, same run).
	#[arg(long, default_value_t = 3)]
	seed: u64,
	/// θ, the penalty rate.
	#[arg(long, default_value_t = 50.0)]
	theta: f64,
	/// n, the mediator's re-runs.
	#[arg(long, default_value_t = 2)]
	n: u32,
	/// π_c, every job's price.
	#[arg(long, default_value_t = 2.0)]
	pi_c: f64,
	/// b, a JC's benefit from a job that was run.
	#[arg(long, default_value_t = 4.0)]
	b: f64,
	/// c_e, an RP's cost of running a job.
	#[arg(long, default_value_t = 1.0)]
	c_e: f64,
	/// c_d, an RP's cost of forging a result.
	#[arg(long, default_value_t = 0.1)]
	c_d: f64,
	/// c_v, a JC's cost of checking a result.
	#[arg(long, default_value_t = 1.0)]
	c_v: f64,
	/// Each side's match incentive to the solver.
	#[arg(long, default_value_t = 0.01)]
	match_incentive: f64,
	/// The mediator's availability price.
	#[arg(long, default_value_t = 0.02)]
	mediator_availability: f64,
	/// The directory's availability price.
	#[arg(long, default_value_t = 0.02)]
	directory_availability: f64,
	/// p_a of a byzantine non-deterministic JC's job.
	#[arg(long, default_value_t = 0.5)]
	byzantine_p_a: f64,
	/// Job Creators per type.
	#[arg(long, default_value_t = 3)]
	jcs_per_type: usize,
	/// Resource Providers per type.
	#[arg(long, default_value_t = 3)]
	rps_per_type: usize,
	/// Rounds the hostile agents play after the jobs: a self-dealer ruling against
	/// the directory, a griefer holding the mediator's slots (at most 32).
	#[arg(long, default_value_t = 20)]
	adversary_rounds: usize,
	/// An altruistic RP's determinism probe: extra runs of each job before posting;
	/// runs that differ make it decline the job rather than risk a fine (at most 8).
	#[arg(long, default_value_t = 0)]
	probe_runs: u32,
	/// Where to write report.md, report.json and the plots.
	#[arg(long, default_value = "simulation")]
	out: PathBuf,
	/// The sweep's n values.
	#[arg(long, value_delimiter = ',', default_value = "1,2,4")]
	sweep_ns: Vec<u32>,
	/// The sweep's θ values.
	#[arg(long, value_delimiter = ',', default_value = "0,1,5,50")]
	sweep_thetas: Vec<f64>,
	/// Jobs per sweep point (0: no sweep).
	#[arg(long, default_value_t = 1_500)]
	sweep_jobs: usize,
	/// Fail (non-zero exit) when a claim fails at the main run's parameters.
	#[arg(long)]
	check: bool,
}

impl SimulateArgs {
	fn config(&self) -> simulate::SimConfig {
		simulate::SimConfig {
			jobs: self.jobs,
			seed: self.seed,
			theta: self.theta,
			n: self.n,
			pi_c: self.pi_c,
			b: self.b,
			c_e: self.c_e,
			c_d: self.c_d,
			c_v: self.c_v,
			match_incentive: self.match_incentive,
			mediator_availability: self.mediator_availability,
			directory_availability: self.directory_availability,
			byzantine_p_a: self.byzantine_p_a,
			population: simulate::Population {
				jcs_per_type: self.jcs_per_type,
				rps_per_type: self.rps_per_type,
			},
			adversary_rounds: self.adversary_rounds,
			probe_runs: self.probe_runs,
		}
	}
}

/// The model's inputs. θ and n default to the chain's parameters (if a node answers
/// at --url), everything else to the paper's Figure 5 values.
#[derive(Args)]
pub struct InputArgs {
	/// θ, the penalty rate.
	#[arg(long)]
	theta: Option<f64>,
	/// n, the mediator's verification runs.
	#[arg(long)]
	n: Option<u32>,
	/// π_c, the job's price.
	#[arg(long)]
	pi_c: Option<f64>,
	/// π_d, the damages paid to the wronged party.
	#[arg(long)]
	pi_d: Option<f64>,
	/// c_e, the RP's cost of executing.
	#[arg(long)]
	c_e: Option<f64>,
	/// c_d, the RP's cost of deceiving.
	#[arg(long)]
	c_d: Option<f64>,
	/// c_v, the JC's cost of verifying.
	#[arg(long)]
	c_v: Option<f64>,
	/// b, the JC's benefit from a correct result.
	#[arg(long)]
	b: Option<f64>,
	/// g_j, the JC's platform cost.
	#[arg(long)]
	g_j: Option<f64>,
	/// g_r, the RP's platform cost.
	#[arg(long)]
	g_r: Option<f64>,
	/// g_m, the JC's cost of a mediation.
	#[arg(long)]
	g_m: Option<f64>,
	/// π_a, the availability payments.
	#[arg(long)]
	pi_a: Option<f64>,
	/// p_e, the chance the RP executes honestly (as the JC assumes).
	#[arg(long)]
	p_e: Option<f64>,
	/// Ignore the chain: θ and n from the paper's recommendation (θ = 50, n = 2).
	#[arg(long)]
	offline: bool,
}

impl InputArgs {
	async fn inputs(&self, global: &Global) -> Inputs {
		let mut inputs = Inputs::default();
		if !self.offline {
			let url = global
				.url
				.clone()
				.unwrap_or_else(|| modicum_client::settings::DEFAULT_NODE_URL.into());
			let chain =
				tokio::time::timeout(Duration::from_secs(3), modicum_client::Chain::connect(&url))
					.await;
			match chain {
				Ok(Ok(chain)) => match chain.parameters().await {
					Ok(p) => {
						// θ is a FixedU128: 10^18 parts per unit.
						inputs.theta = p.penalty_rate.0 as f64 / 1e18;
						inputs.n = p.verification_count;
						tracing::info!(
							theta = inputs.theta,
							n = inputs.n,
							"θ and n from the chain at {url}"
						);
					},
					Err(e) => tracing::warn!("no parameters from {url} ({e}); using θ = 50, n = 2"),
				},
				_ => tracing::info!(
					"no node at {url}; using θ = 50, n = 2 (pass --offline to skip the lookup)"
				),
			}
		}
		let set = |field: &mut f64, value: Option<f64>| {
			if let Some(v) = value {
				*field = v;
			}
		};
		set(&mut inputs.theta, self.theta);
		if let Some(n) = self.n {
			inputs.n = n;
		}
		set(&mut inputs.pi_c, self.pi_c);
		set(&mut inputs.pi_d, self.pi_d);
		set(&mut inputs.c_e, self.c_e);
		set(&mut inputs.c_d, self.c_d);
		set(&mut inputs.c_v, self.c_v);
		set(&mut inputs.b, self.b);
		set(&mut inputs.g_j, self.g_j);
		set(&mut inputs.g_r, self.g_r);
		set(&mut inputs.g_m, self.g_m);
		set(&mut inputs.pi_a, self.pi_a);
		set(&mut inputs.p_e, self.p_e);
		inputs
	}
}

pub async fn run(global: &Global, command: ResearchCommand) -> Result<()> {
	match command {
		ResearchCommand::Analyze(args) => {
			let inputs = args.inputs(global).await;
			let analysis = analysis::analyze(&inputs)?;
			output::print(global.json, &analysis, || analysis.to_table());
		},
		ResearchCommand::Sweep { inputs, out, figure_ns, n_max, thetas } => {
			let inputs = inputs.inputs(global).await;
			let mut files =
				sweep::figure5(&inputs, &figure_ns, &out).context("plotting Figure 5")?;
			let heat = sweep::heatmaps(&inputs, 1..=n_max.max(1), &thetas, &out)
				.context("plotting heat maps")?;
			files.extend(heat.files.iter().cloned());
			output::print(
				global.json,
				&serde_json::json!({"files": files, "grid": heat.grid}),
				|| {
					let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
					format!("wrote:\n  {}", list.join("\n  "))
				},
			);
		},
		ResearchCommand::Simulate(args) => simulate_and_report(global, &args)?,
		ResearchCommand::SpotCheck(args) => spot_check(global, &args)?,
		ResearchCommand::Replicas(args) => {
			let summary =
				simulate::replicated::simulate_replicated(&args.market.config(), args.replicas)
					.context("simulating replicated jobs")?;
			output::print(global.json, &summary, || simulate::replicated::markdown(&summary));
		},
		ResearchCommand::SpotChecked(args) => {
			use simulate::spot_checked::{markdown, simulate_spot_checked, RecordJobs};
			let shape = RecordJobs {
				records: args.records,
				fraction: args.fraction,
				corrupted: args.corrupted.unwrap_or((args.records / 20).max(1)),
			};
			let summary = simulate_spot_checked(&args.market.config(), shape)
				.context("simulating spot-checked record jobs")?;
			output::print(global.json, &summary, || markdown(&summary));
		},
		ResearchCommand::Sybil(args) => {
			use simulate::sybil::{markdown, simulate_sybil, SybilSetup};
			let setup = SybilSetup {
				honest_rps: args.honest_rps,
				open_share: args.open_share,
				min_accepted: args.min_accepted,
				max_fault_percent: args.max_faults,
				check_probability: args.check_probability,
			};
			let summary =
				simulate_sybil(&args.market.config(), setup).context("simulating a sybil RP")?;
			output::print(global.json, &summary, || markdown(&summary));
		},
	}
	Ok(())
}

fn spot_check(global: &Global, args: &SpotCheckArgs) -> Result<()> {
	use modicum_research::spot_check::{fraction_needed_approx, sample_needed, spot_check};
	let n = args.records;
	let sample = (args.fraction * n as f64).round() as u64;
	let corrupted = if args.corrupted.is_empty() {
		[1, 10, 100, 1_000, 10_000, 1_000_000].into_iter().filter(|c| *c <= n / 10).collect()
	} else {
		args.corrupted.clone()
	};
	let mut rows = Vec::new();
	for c in corrupted.into_iter().filter(|c| *c <= n) {
		let check = spot_check(n, c, sample)?;
		let needed = sample_needed(n, c, args.target)?;
		let approx = fraction_needed_approx(n, c as f64 / n as f64, args.target);
		rows.push((check, needed, approx));
	}
	let files = match &args.plot {
		Some(dir) => {
			let counts: Vec<u64> = rows.iter().map(|(check, _, _)| check.corrupted).collect();
			modicum_research::spot_check::plot(n, &counts, args.target, dir)?
		},
		None => Vec::new(),
	};
	let value = serde_json::json!({
		"records": n,
		"fraction": args.fraction,
		"sample": sample,
		"target": args.target,
		"rows": rows.iter().map(|(check, needed, approx)| serde_json::json!({
			"corrupted": check.corrupted,
			"detection_exact": check.detection_exact,
			"detection_approx": check.detection_approx,
			"sample_for_target": needed,
			"fraction_for_target": *needed as f64 / n as f64,
			"fraction_for_target_approx": approx,
		})).collect::<Vec<_>>(),
		"files": files,
	});
	output::print(global.json, &value, || {
		let mut text = format!(
			"spot check of {sample} of N = {n} records (f = {}):\n\n\
			 | corrupted c | P(caught), exact | P(caught), 1 − (1 − f)^c | sample for P ≥ {} | its fraction |\n\
			 |---|---|---|---|---|",
			args.fraction, args.target
		);
		for (check, needed, _) in &rows {
			text.push_str(&format!(
				"\n| {} | {:.6} | {:.6} | {needed} | {:.3e} |",
				check.corrupted,
				check.detection_exact,
				check.detection_approx,
				*needed as f64 / n as f64
			));
		}
		for file in &files {
			text.push_str(&format!("\nwrote {}", file.display()));
		}
		text
	});
	Ok(())
}

fn simulate_and_report(global: &Global, args: &SimulateArgs) -> Result<()> {
	let config = args.config();
	let summary = simulate::simulate(&config).context("simulating")?;
	let points = if args.sweep_jobs == 0 {
		Vec::new()
	} else {
		simulate::sweep(&config, &args.sweep_ns, &args.sweep_thetas, args.sweep_jobs)
			.context("sweeping (n, θ)")?
	};
	let files =
		simulate::write_report(&summary, &points, &args.out).context("writing the report")?;
	output::print(
		global.json,
		&serde_json::json!({"files": files, "run": summary, "sweep": points}),
		|| {
			let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
			format!(
				"{}\n{}\nwrote:\n  {}",
				simulate::report::markdown(&summary),
				simulate::report::sweep_markdown(&points),
				list.join("\n  ")
			)
		},
	);
	let claims = &summary.claims;
	if args.check
		&& !(claims.honest_never_lose()
			&& claims.gains_bounded()
			&& claims.cheating_does_not_pay()
			&& summary.adversaries.uninvolved_never_lose()
			&& summary.adversaries.attacks_do_not_pay())
	{
		anyhow::bail!("a claim fails at n = {}, θ = {}: see the report", config.n, config.theta);
	}
	Ok(())
}
