//! `modicum jc submit --dry-run` and `modicum jc explain <offer>`: the deposit a job
//! holds and why (eq. 2 with the numbers), and for each open resource offer whether the
//! job fits it, with which mediator, or the first rule that rules it out.

use super::{
	jobfile::JobRequest,
	submit::{job_terms, sanitize},
	Session,
};
use crate::output;
use anyhow::{anyhow, Context, Result};
use modicum_client::{
	chain::{JobOffer, JobTerms},
	keys,
	units::{format_amount, format_bytes},
	AccountId, Chain,
};
use modicum_offchain::{
	job::package,
	matchmaker::{Matchmaker, SolverSettings},
	solver::{
		explain::OfferVerdict,
		stakes::{self, PENALTY_RATE_PARTS_PER_UNIT},
	},
};
use serde::Serialize;

/// The deposit and how it comes about.
#[derive(Serialize)]
struct DepositWhy {
	/// What the offer holds (or would).
	deposit: u128,
	/// π̂_c: the job's limits at its maximum prices.
	estimate: u128,
	/// θ as text.
	penalty_rate: String,
	/// n.
	verification_count: u32,
	/// π̂_c · θ, rounded up as the chain does.
	penalty: u128,
	/// π̂_c · n.
	mediation: u128,
	/// π_a without a mediator: the match incentive and the JC's half of the
	/// directory's availability price.
	availability: u128,
	/// The chain's deposit floor.
	floor: u128,
	/// What posting needs: max(eq. 2, floor), as the chain quotes it.
	posting_minimum: u128,
	/// What a match with each mediator can take from the JC, as the chain quotes it.
	per_mediator: Vec<MediatorQuote>,
}

#[derive(Serialize)]
struct MediatorQuote {
	mediator: String,
	quote: Option<u128>,
}

/// What `--dry-run` and `explain` print.
#[derive(Serialize)]
struct Explanation {
	offer_id: Option<u64>,
	deposit: DepositWhy,
	offers: Vec<ShownVerdict>,
}

#[derive(Serialize)]
struct ShownVerdict {
	resource_offer: u64,
	provider: String,
	fits: bool,
	mediator: Option<String>,
	cost: Option<u128>,
	rule: Option<u8>,
	check: Option<String>,
	explanation: String,
}

/// The deposit to hold: the chain's quote for the dearest of `mediators` (a match
/// with any of them then passes).
pub async fn quoted_deposit(
	chain: &Chain,
	terms: &JobTerms,
	mediators: &[AccountId],
) -> Result<u128> {
	let mut deposit = chain.quote_job_deposit(terms, None).await?;
	for mediator in mediators {
		if let Ok(quote) = chain.quote_job_deposit(terms, Some(*mediator)).await {
			deposit = deposit.max(quote);
		}
	}
	Ok(deposit)
}

/// `submit --dry-run`: nothing is built, pushed or posted.
pub async fn dry_run(s: &Session, request: &JobRequest, json: bool) -> Result<()> {
	let directory = keys::parse_account(&request.directory)?;
	if s.chain.directory(&directory).await?.is_none() {
		return Err(anyhow!("{directory} is not a registered directory"));
	}
	let docker = modicum_offchain::docker::connect().await?;
	let first_layer = modicum_offchain::docker::image_first_layer(&docker, &request.image)
		.await
		.with_context(|| format!("reading the local image {}", request.image))?;
	let (input_bytes, input_files) = package::input_size(&request.additions.inputs)?;
	let now = s.chain.now_ms().await?;
	let reference = format!("jobs/{}@sha256:{}", sanitize(&request.image), "0".repeat(64));
	let terms = job_terms(request, directory, now, first_layer, &reference, [0; 32])?;
	let mut mediators = Vec::new();
	for text in &request.mediators {
		mediators.push(keys::parse_account(text)?);
	}
	let assume_trusted = mediators.clone();
	if mediators.is_empty() {
		mediators = s.chain.trusted_mediators(&s.me).await?;
	}
	let deposit = match request.deposit {
		Some(amount) => amount,
		None => quoted_deposit(&s.chain, &terms, &mediators).await?,
	};
	let offer = JobOffer {
		owner: s.me,
		terms,
		deposit,
		expires_at: now.saturating_add(request.lifetime_secs.saturating_mul(1000)),
	};
	let explanation = explain_offer(s, None, &offer, &mediators, &assume_trusted, now).await?;
	output::print(json, &explanation, || {
		let inputs = if request.additions.inputs.is_empty() {
			String::new()
		} else {
			format!(", inputs {} in {input_files} file(s)", format_bytes(input_bytes))
		};
		format!(
			"dry run: nothing was pushed or posted\njob: {}{inputs}\n{}",
			request.image,
			describe(&explanation)
		)
	});
	Ok(())
}

/// `explain <offer>`: a posted offer, as the solver sees it now.
pub async fn explain(s: &Session, offer_id: u64, json: bool) -> Result<()> {
	let offer = s
		.chain
		.job_offers()
		.await?
		.into_iter()
		.find_map(|(id, offer)| (id == offer_id).then_some(offer))
		.ok_or_else(|| {
			anyhow!(
				"job offer {offer_id} is not open (it was matched, cancelled or expired): \
				 `modicum jc list` shows your matches"
			)
		})?;
	let mediators = s.chain.trusted_mediators(&offer.owner).await?;
	let now = s.chain.now_ms().await?;
	let explanation = explain_offer(s, Some(offer_id), &offer, &mediators, &[], now).await?;
	output::print(json, &explanation, || {
		format!("job offer {offer_id}\n{}", describe(&explanation))
	});
	Ok(())
}

async fn explain_offer(
	s: &Session,
	offer_id: Option<u64>,
	offer: &JobOffer,
	mediators: &[AccountId],
	assume_trusted: &[AccountId],
	now: u64,
) -> Result<Explanation> {
	let deposit = deposit_why(&s.chain, offer, mediators).await?;
	let mut matchmaker =
		Matchmaker::load(s.chain.clone(), s.signer.clone(), SolverSettings::default()).await?;
	let trusted: Vec<[u8; 32]> = assume_trusted.iter().map(|m| m.0).collect();
	let verdicts = matchmaker.explain(offer, now, &trusted).await?;
	Ok(Explanation { offer_id, deposit, offers: verdicts.into_iter().map(shown).collect() })
}

fn shown(verdict: OfferVerdict) -> ShownVerdict {
	let account = |bytes: [u8; 32]| AccountId(bytes).to_string();
	ShownVerdict {
		resource_offer: verdict.resource_offer,
		provider: account(verdict.provider),
		fits: verdict.fit.is_some(),
		mediator: verdict.fit.as_ref().map(|f| account(f.mediator)),
		cost: verdict.fit.as_ref().map(|f| f.cost),
		rule: verdict.refusal.as_ref().and_then(|r| r.rule),
		check: verdict.refusal.as_ref().map(|r| r.check.clone()),
		explanation: match (&verdict.fit, &verdict.refusal) {
			(Some(fit), _) => format!(
				"fits, with mediator {} (cost {})",
				account(fit.mediator),
				format_amount(fit.cost)
			),
			(None, Some(refusal)) => refusal.explanation.clone(),
			(None, None) => "no verdict".into(),
		},
	}
}

async fn deposit_why(
	chain: &Chain,
	offer: &JobOffer,
	mediators: &[AccountId],
) -> Result<DepositWhy> {
	let parameters = chain.parameters().await?;
	let terms = &offer.terms;
	let directory = chain
		.directory(&terms.directory)
		.await?
		.ok_or_else(|| anyhow!("the job's directory is not registered"))?;
	let overflow = || anyhow!("the job's limits and prices overflow the chain's arithmetic");
	let estimate = terms
		.instruction_max_price
		.checked_mul(terms.instruction_limit.into())
		.and_then(|i| {
			i.checked_add(terms.bandwidth_max_price.checked_mul(terms.bandwidth_limit.into())?)
		})
		.ok_or_else(overflow)?;
	let theta = parameters.penalty_rate.0;
	let n = parameters.verification_count;
	let penalty = stakes::penalty(estimate, theta).ok_or_else(overflow)?;
	let mediation = estimate.checked_mul(n.into()).ok_or_else(overflow)?;
	let availability = terms
		.match_incentive
		.saturating_add(stakes::job_creator_share(directory.availability_price));
	let mut per_mediator = Vec::new();
	for mediator in mediators {
		let quote = chain.quote_job_deposit(terms, Some(*mediator)).await.ok();
		per_mediator.push(MediatorQuote { mediator: mediator.to_string(), quote });
	}
	Ok(DepositWhy {
		deposit: offer.deposit,
		estimate,
		penalty_rate: rate_text(theta),
		verification_count: n,
		penalty,
		mediation,
		availability,
		floor: parameters.deposit_floor,
		posting_minimum: chain.quote_job_deposit(terms, None).await?,
		per_mediator,
	})
}

/// θ's parts per 10^18 as a decimal: `50`, `0.5`.
fn rate_text(parts: u128) -> String {
	let whole = parts / PENALTY_RATE_PARTS_PER_UNIT;
	let fraction = parts % PENALTY_RATE_PARTS_PER_UNIT;
	if fraction == 0 {
		whole.to_string()
	} else {
		format!("{whole}.{}", format!("{fraction:018}").trim_end_matches('0'))
	}
}

fn describe(e: &Explanation) -> String {
	let d = &e.deposit;
	let mut text = format!(
		"deposit {}\n  eq. 2: π̂_c·θ + π̂_c·n + π_a = {}·{} + {}·{} + {} = {}\n    \
		 π̂_c: the job's limits at its maximum prices; π_a: the match incentive and your half \
		 of the directory's availability price\n  posting needs max(eq. 2, floor {}) = {}",
		format_amount(d.deposit),
		format_amount(d.estimate),
		d.penalty_rate,
		format_amount(d.estimate),
		d.verification_count,
		format_amount(d.availability),
		format_amount(d.penalty.saturating_add(d.mediation).saturating_add(d.availability)),
		format_amount(d.floor),
		format_amount(d.posting_minimum),
	);
	for quote in &d.per_mediator {
		text.push_str(&match quote.quote {
			Some(q) => format!(
				"\n  a match with mediator {} needs {}{}",
				quote.mediator,
				format_amount(q),
				if q > d.deposit {
					" — more than the deposit: it cannot be matched with it"
				} else {
					""
				}
			),
			None => format!("\n  mediator {}: no quote (not registered?)", quote.mediator),
		});
	}
	let fits = e.offers.iter().filter(|o| o.fits).count();
	text.push_str(&format!("\n{} open resource offer(s), {fits} fit(s):", e.offers.len()));
	let cheapest = e.offers.iter().filter(|o| o.fits).min_by_key(|o| (o.cost, o.resource_offer));
	for offer in &e.offers {
		let mark = if cheapest.is_some_and(|c| c.resource_offer == offer.resource_offer) {
			"  ← the solver's pick (cheapest)"
		} else {
			""
		};
		text.push_str(&format!(
			"\n  offer {} (RP {}): {}{mark}",
			offer.resource_offer, offer.provider, offer.explanation
		));
	}
	if e.offers.is_empty() {
		text.push_str("\n  none: no RP offers capacity right now");
	}
	text
}

#[cfg(test)]
mod tests {
	use super::rate_text;

	#[test]
	fn penalty_rates_read_as_decimals() {
		assert_eq!(rate_text(50 * 1_000_000_000_000_000_000), "50");
		assert_eq!(rate_text(500_000_000_000_000_000), "0.5");
		assert_eq!(rate_text(2_250_000_000_000_000_000), "2.25");
	}
}
