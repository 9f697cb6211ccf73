//! `modicum market …`: read-only views of the market for everyone.

use crate::{jc, output, Global};
use anyhow::Result;
use clap::Subcommand;
use modicum_client::{
	keys, reference_text,
	types::{Reputation, Role},
	units::{format_amount, format_duration_ms},
	Chain,
};

#[derive(Subcommand)]
pub enum MarketCommand {
	/// The platform parameters: θ, n, windows, bond, deposit floor.
	Params,
	/// Open job and resource offers.
	Offers,
	/// Unsettled matches.
	Matches,
	/// An account: its balance, roles, trust lists and base layers.
	Actor {
		/// The account (SS58, 0x hex or //Name).
		account: String,
	},
}

pub async fn run(global: &Global, command: MarketCommand) -> Result<()> {
	let url =
		global.url.clone().unwrap_or_else(|| modicum_client::settings::DEFAULT_NODE_URL.into());
	let chain = Chain::connect(&url).await?;
	let json = global.json;
	match command {
		MarketCommand::Params => {
			let p = chain.parameters().await?;
			// θ is a FixedU128: 10^18 parts per unit.
			let theta = p.penalty_rate.0 as f64 / 1e18;
			let value = serde_json::json!({
				"penalty_rate": theta,
				"verification_count": p.verification_count,
				"reaction_window_ms": p.reaction_window,
				"mediation_window_ms": p.mediation_window,
				"registration_bond": p.registration_bond,
				"deposit_floor": p.deposit_floor,
				"max_offer_lifetime_ms": p.max_offer_lifetime,
				"max_completion_horizon_ms": p.max_completion_horizon,
				"settlement_grace_ms": p.settlement_grace,
			});
			output::print(json, &value, || {
				let span = format_duration_ms;
				format!(
					"θ (penalty rate)        {theta}\nn (verification runs)   {}\nreaction window         {} + the RP's run time\nmediation window        {} + n mediator runs\nregistration bond       {}\ndeposit floor           {}\nmax offer lifetime      {}\nmax completion horizon  {}\nsettlement grace        {}",
					p.verification_count,
					span(p.reaction_window),
					span(p.mediation_window),
					format_amount(p.registration_bond),
					format_amount(p.deposit_floor),
					span(p.max_offer_lifetime),
					span(p.max_completion_horizon),
					span(p.settlement_grace),
				)
			});
		},
		MarketCommand::Offers => {
			let jobs = chain.job_offers().await?;
			let resources = chain.resource_offers().await?;
			let value = serde_json::json!({
				"job_offers": jobs.iter().map(|(id, o)| serde_json::json!({
					"offer_id": id, "owner": o.owner.to_string(), "deposit": o.deposit, "expires_at": o.expires_at,
					"instruction_limit": o.terms.instruction_limit, "instruction_max_price": o.terms.instruction_max_price,
				})).collect::<Vec<_>>(),
				"resource_offers": resources.iter().map(|(id, o)| serde_json::json!({
					"offer_id": id, "owner": o.owner.to_string(), "deposit": o.deposit, "expires_at": o.expires_at,
					"instruction_cap": o.terms.instruction_cap, "instruction_price": o.terms.instruction_price,
				})).collect::<Vec<_>>(),
			});
			output::print(json, &value, || {
				let mut text =
					format!("{} job offer(s), {} resource offer(s)", jobs.len(), resources.len());
				for (id, o) in &jobs {
					text.push_str(&format!(
						"\n  job {id} by {}: ≤{} CPU ms at ≤{}/ms",
						o.owner,
						o.terms.instruction_limit,
						format_amount(o.terms.instruction_max_price)
					));
				}
				for (id, o) in &resources {
					text.push_str(&format!(
						"\n  resource {id} by {}: ≤{} CPU ms at {}/ms",
						o.owner,
						o.terms.instruction_cap,
						format_amount(o.terms.instruction_price)
					));
				}
				text
			});
		},
		MarketCommand::Actor { account } => {
			let who = keys::parse_account(&account)?;
			let free = chain.free_balance(&who).await?;
			let mut roles = Vec::new();
			if chain.resource_provider(&who).await?.is_some() {
				roles.push("resource-provider".to_string());
			}
			if chain.job_creator(&who).await?.is_some() {
				roles.push("job-creator".to_string());
			}
			if chain.mediator(&who).await?.is_some() {
				roles.push("mediator".to_string());
			}
			let endpoint = chain.directory(&who).await?.map(|d| reference_text(&d.endpoint));
			if endpoint.is_some() {
				roles.push("directory".to_string());
			}
			let mediators: Vec<String> =
				chain.trusted_mediators(&who).await?.iter().map(|a| a.to_string()).collect();
			let directories: Vec<String> =
				chain.trusted_directories(&who).await?.iter().map(|a| a.to_string()).collect();
			let layers: Vec<String> = chain
				.base_layers(&who)
				.await?
				.iter()
				.map(|l| format!("0x{}", hex::encode(l)))
				.collect();
			let reputation = chain.reputation(&who).await?;
			let record: serde_json::Map<String, serde_json::Value> = reputation
				.iter()
				.map(|(role, r)| (role.name().to_string(), reputation_json(r)))
				.collect();
			let value = serde_json::json!({
				"account": who.to_string(), "free": free, "roles": roles, "directory_endpoint": endpoint,
				"trusted_mediators": mediators, "trusted_directories": directories, "base_layers": layers,
				"reputation": record,
			});
			output::print(json, &value, || {
				let mut text = format!(
					"{who}\n  free balance        {}\n  roles               {}\n  trusted mediators   {}\n  trusted directories {}\n  base layers         {}",
					format_amount(free),
					if roles.is_empty() { "none".into() } else { roles.join(", ") },
					mediators.len(),
					directories.len(),
					layers.len()
				);
				if reputation.is_empty() {
					text.push_str("\n  record              no closed matches");
				}
				for (role, r) in &reputation {
					text.push_str(&format!(
						"\n  record as {:<9} {}",
						short_role(role),
						describe_record(r)
					));
				}
				text
			});
		},
		MarketCommand::Matches => {
			let matches = chain.matches().await?;
			let value: Vec<_> = matches.iter().map(|(id, m)| jc::match_json(*id, m)).collect();
			output::print(json, &value, || {
				let mut text = format!("{} unsettled match(es)", matches.len());
				for (id, m) in &matches {
					text.push_str(&format!("\n{}", jc::describe_match(*id, m)));
				}
				text
			});
		},
	}
	Ok(())
}

/// A role's name in the record lines.
fn short_role(role: &Role) -> &'static str {
	match role {
		Role::ResourceProvider => "RP",
		Role::JobCreator => "JC",
		Role::Mediator => "mediator",
		Role::Directory => "directory",
	}
}

/// Every counter of a record, for `--json`.
fn reputation_json(r: &Reputation) -> serde_json::Value {
	serde_json::json!({
		"accepted": r.accepted, "declined": r.declined, "rejections_upheld": r.rejections_upheld,
		"fined": r.fined, "timed_out": r.timed_out, "mediations_ruled": r.mediations_ruled,
		"mediations_missed": r.mediations_missed,
	})
}

/// The counters of a record that are not zero, e.g. `12 accepted, 1 fined`.
fn describe_record(r: &Reputation) -> String {
	let counts = [
		(r.accepted, "accepted"),
		(r.declined, "declined"),
		(r.rejections_upheld, "rejections upheld"),
		(r.fined, "fined"),
		(r.timed_out, "timed out"),
		(r.mediations_ruled, "mediations ruled"),
		(r.mediations_missed, "mediations missed"),
	];
	let shown: Vec<String> =
		counts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
	if shown.is_empty() {
		"nothing counted".into()
	} else {
		shown.join(", ")
	}
}
