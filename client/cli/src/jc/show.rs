//! What a JC reads about its jobs: one match in full (`status`), and every open offer
//! and unsettled match with the next action each awaits (`list`).

use super::{posted_result, Session};
use crate::output;
use anyhow::Result;
use modicum_client::{
	chain::MatchInfo,
	reference_text,
	types::MatchState,
	units::{format_amount, format_moment, format_moment_at},
};

/// `modicum jc list`: open offers and unsettled matches, each with its image, price,
/// deadline and the next action it awaits.
pub async fn list(s: &Session, json: bool) -> Result<()> {
	let now = s.chain.now_ms().await?;
	let offers: Vec<_> =
		s.chain.job_offers().await?.into_iter().filter(|(_, o)| o.owner == s.me).collect();
	let matches: Vec<_> =
		s.chain.matches().await?.into_iter().filter(|(_, m)| m.job_creator == s.me).collect();
	let value = serde_json::json!({
		"offers": offers.iter().map(|(id, o)| serde_json::json!({
			"offer_id": id,
			"image": image_name(&reference_text(&o.terms.job_reference)),
			"max_price": max_price(o.terms.instruction_limit, o.terms.instruction_max_price, o.terms.bandwidth_limit, o.terms.bandwidth_max_price),
			"deposit": o.deposit,
			"completion_deadline": o.terms.completion_deadline,
			"expires_at": o.expires_at,
			"next": format!("waiting for a match; `modicum jc explain {id}` says why it is not"),
		})).collect::<Vec<_>>(),
		"matches": matches.iter().map(|(id, m)| {
			let mut value = match_json(*id, m);
			value["image"] = image_name(&reference_text(&m.job.job_reference)).into();
			value["next"] = next_action(*id, m, now).into();
			value
		}).collect::<Vec<_>>(),
	});
	output::print(json, &value, || {
		let mut text =
			format!("{} open job offer(s), {} unsettled match(es)", offers.len(), matches.len());
		for (id, o) in &offers {
			let t = &o.terms;
			text.push_str(&format!(
				"\n  offer {id}: {}, at most {}, deposit {}, expires {}\n    next: waiting for a match (`modicum jc explain {id}` says why it is not)",
				image_name(&reference_text(&t.job_reference)),
				format_amount(max_price(t.instruction_limit, t.instruction_max_price, t.bandwidth_limit, t.bandwidth_max_price)),
				format_amount(o.deposit),
				format_moment_at(o.expires_at, now),
			));
		}
		for (id, m) in &matches {
			text.push_str(&format!(
				"\n  match {id}: {}, {}, RP {}, due {}\n    next: {}",
				modicum_client::vocab::state_name(&m.state),
				image_name(&reference_text(&m.job.job_reference)),
				m.resource_provider,
				format_moment_at(m.job.completion_deadline, now),
				next_action(*id, m, now),
			));
		}
		text
	});
	Ok(())
}

/// `jobs/wordcount@sha256:…` → `jobs/wordcount`.
fn image_name(reference: &str) -> String {
	reference.split('@').next().unwrap_or(reference).to_string()
}

fn max_price(
	instructions: u64,
	instruction_price: u128,
	bandwidth: u64,
	bandwidth_price: u128,
) -> u128 {
	instruction_price
		.saturating_mul(instructions.into())
		.saturating_add(bandwidth_price.saturating_mul(bandwidth.into()))
}

/// What a match waits for, and the command that moves it on where the JC can.
pub fn next_action(id: u64, m: &MatchInfo, now: u64) -> String {
	match &m.state {
		MatchState::Matched if now > m.job.completion_deadline => {
			format!("overdue: the RP posted nothing by the deadline; `modicum jc timeout {id}`")
		},
		MatchState::Matched => {
			format!("running at the RP; result due {}", format_moment_at(m.job.completion_deadline, now))
		},
		MatchState::ResultPosted { reaction_deadline, result, .. } if now <= *reaction_deadline => format!(
			"{} posted: check it (`modicum jc result {id}`), then `modicum jc accept {id}` or `modicum jc reject {id} --reason …` before {}",
			result.status,
			format_moment_at(*reaction_deadline, now)
		),
		MatchState::ResultPosted { .. } => {
			"your reaction window is over: the RP is paid as if you had accepted".into()
		},
		MatchState::InMediation { mediation_deadline, .. } if now <= *mediation_deadline => {
			format!("the mediator re-runs the job; verdict due {}", format_moment_at(*mediation_deadline, now))
		},
		MatchState::InMediation { .. } => format!(
			"overdue: the mediator gave no verdict by its deadline; `modicum jc timeout {id}` closes it as a failed mediation (the RP is paid half the estimate)"
		),
		MatchState::Committed { .. } => format!(
			"this replica committed to its result; it reveals it once no other replica can commit (by {})",
			format_moment_at(m.job.completion_deadline.saturating_add(m.reaction_window), now)
		),
		MatchState::AwaitingReplicas { result } => format!(
			"{} posted by this replica; the chain compares it with the others' once all posted or the deadline {} passed",
			result.status,
			format_moment_at(m.job.completion_deadline, now)
		),
	}
}

pub fn match_json(match_id: u64, info: &MatchInfo) -> serde_json::Value {
	let (reaction_deadline, mediation_deadline) = match &info.state {
		MatchState::ResultPosted { reaction_deadline, .. } => (Some(*reaction_deadline), None),
		MatchState::InMediation { mediation_deadline, .. } => (None, Some(*mediation_deadline)),
		MatchState::Matched
		| MatchState::Committed { .. }
		| MatchState::AwaitingReplicas { .. } => (None, None),
	};
	let result = posted_result(info).map(|r| {
		serde_json::json!({
			"status": r.status.name(),
			"reference": reference_text(&r.reference),
			"hash": format!("0x{}", hex::encode(r.hash)),
			"instruction_count": r.instruction_count,
			"bandwidth_used": r.bandwidth_used,
		})
	});
	serde_json::json!({
		"match_id": match_id,
		"state": modicum_client::vocab::state_name(&info.state),
		"job_offer_id": info.job_offer_id,
		"resource_offer_id": info.resource_offer_id,
		"job_creator": info.job_creator.to_string(),
		"resource_provider": info.resource_provider.to_string(),
		"mediator": info.mediator.to_string(),
		"directory": info.job.directory.to_string(),
		"completion_deadline": info.job.completion_deadline,
		"reaction_deadline": reaction_deadline,
		"mediation_deadline": mediation_deadline,
		"job_creator_deposit": info.job_creator_deposit,
		"resource_provider_deposit": info.resource_provider_deposit,
		"result": result,
	})
}

pub fn describe_match(match_id: u64, info: &MatchInfo) -> String {
	let mut text = format!(
		"match {match_id}: {}\n  job offer {} ↔ resource offer {}\n  RP {}\n  mediator {}\n  completion deadline {}",
		modicum_client::vocab::state_name(&info.state),
		info.job_offer_id,
		info.resource_offer_id,
		info.resource_provider,
		info.mediator,
		format_moment(info.job.completion_deadline),
	);
	if let Some(r) = posted_result(info) {
		text.push_str(&format!(
			"\n  result: {} (root 0x{}), {} CPU ms, {} bytes",
			r.status,
			hex::encode(r.hash),
			r.instruction_count,
			r.bandwidth_used
		));
	}
	match &info.state {
		MatchState::ResultPosted { reaction_deadline, .. } => {
			let by = format_moment(*reaction_deadline);
			text.push_str(&format!("\n  react (accept/reject) before {by}"))
		},
		MatchState::InMediation { mediation_deadline, reason, .. } => text.push_str(&format!(
			"\n  disputed ({reason}); mediator rules before {}",
			format_moment(*mediation_deadline)
		)),
		MatchState::AwaitingReplicas { .. } | MatchState::Committed { .. } => {
			text.push_str("\n  a replica: compared with the others' results before anyone reacts")
		},
		MatchState::Matched => {},
	}
	text
}
