//! `modicum research …`: the paper's equilibrium analysis and parameter sweeps, with
//! θ and n taken from the running chain when one answers.

use crate::{output, Global};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use modicum_research::{analysis, sweep, Inputs};
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
	}
	Ok(())
}
