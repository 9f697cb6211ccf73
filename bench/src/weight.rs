//! Figure 5, lifecycle weight: what the chain charges a block for each of the five
//! lifecycle extrinsics (`TransactionPaymentApi_query_info`: the call's declared weight
//! plus the extrinsic base weight), summed, as a share of the block's maximum
//! (`System::BlockWeights`); both weight dimensions where the runtime bounds them.
//! Baseline: one balance transfer.

use crate::{
	chain_rate::{dev_node, job_terms, resource_terms},
	market::MDC,
	row::{Quantity, Row},
	tx::{self, Bulk},
	Ctx,
};
use anyhow::Result;
use modicum_client::{keys, reference, runtime, types::ResultStatus};

/// A relay chain's cap on a parachain block's proof of validity (5 MiB).
const PARACHAIN_POV_BYTES: f64 = 5.0 * 1024.0 * 1024.0;

/// The figure's row.
pub async fn run(ctx: &Ctx) -> Vec<Row> {
	let mut row = Row::new(
		"weight",
		"weight of one full job lifecycle as a share of the block's maximum",
		"≈6% of a block (592k gas)",
		"≤ 0.5%",
	);
	let measured = measure(ctx, &mut row).await;
	vec![row.finished(measured), crate::flatness::run(ctx)]
}

/// The five lifecycle extrinsics, signed by //Alice: weights depend on the call, not on
/// the state, so any ids and any signer will do.
async fn lifecycle_calls(bulk: &Bulk) -> Result<Vec<(&'static str, tx::Signed)>> {
	let mut alice = bulk.account("//Alice").await?;
	let bob = keys::parse_account("//Bob")?;
	let market = || runtime::transactions().compute_market();
	let result_ref = reference(&format!("results/bench@sha256:{}", "cd".repeat(32)))?;
	Ok(vec![
		(
			"post_job_offer",
			bulk.sign(&market().post_job_offer(job_terms(bob, 0)?, MDC, 1), &mut alice)?,
		),
		(
			"post_resource_offer",
			bulk.sign(&market().post_resource_offer(resource_terms(), MDC, 1), &mut alice)?,
		),
		("post_match", bulk.sign(&market().post_match(1, 2, bob), &mut alice)?),
		(
			"post_result",
			bulk.sign(
				&market().post_result(1, ResultStatus::Completed, result_ref, [0; 32], 500, 1024),
				&mut alice,
			)?,
		),
		("accept_result", bulk.sign(&market().accept_result(1), &mut alice)?),
	])
}

/// How many whole lifecycles the ref time of one block holds for normal extrinsics
/// (what signed calls may fill): the chain's ceiling per block.
pub async fn lifecycles_per_block(bulk: &Bulk) -> Result<f64> {
	let mut ref_time = 0u64;
	for (_, signed) in lifecycle_calls(bulk).await? {
		ref_time += bulk.query_weight(&signed).await?.0;
	}
	let limits = bulk.block_weights()?;
	let normal =
		limits.per_class.normal.max_total.map_or(limits.max_block.ref_time, |w| w.ref_time);
	Ok((normal as f64 / ref_time.max(1) as f64).floor())
}

async fn measure(_ctx: &Ctx, row: &mut Row) -> Result<()> {
	let (_dir, node) = dev_node("weight", &["--dev"]).await?;
	let bulk = Bulk::connect(&node.url()).await?;
	let calls = lifecycle_calls(&bulk).await?;
	let mut alice = bulk.account("//Alice").await?;
	let bob = keys::parse_account("//Bob")?;
	let mut per_call = serde_json::Map::new();
	let (mut ref_time, mut proof_size) = (0u64, 0u64);
	for (name, signed) in &calls {
		let (rt, ps) = bulk.query_weight(signed).await?;
		ref_time += rt;
		proof_size += ps;
		per_call.insert((*name).into(), serde_json::json!({"ref_time": rt, "proof_size": ps}));
	}
	let transfer = bulk.sign(&tx::transfer(&bob, MDC), &mut alice)?;
	let (transfer_rt, transfer_ps) = bulk.query_weight(&transfer).await?;
	// A remark reads no storage: its proof is what every signed extrinsic declares.
	let remark = bulk.sign(&runtime::transactions().system().remark(Vec::new()), &mut alice)?;
	let (_, floor_ps) = bulk.query_weight(&remark).await?;

	let limits = bulk.block_weights()?;
	let max_rt = limits.max_block.ref_time as f64;
	// A solochain's runtime may leave proof size unbounded (no proof of validity ships);
	// then only ref time fills a block, and the proof is set against a parachain's PoV
	// for reference.
	let proof_bounded = limits.max_block.proof_size < u64::MAX;
	let max_ps = limits.max_block.proof_size as f64;
	let rt_share = |rt: u64| rt as f64 / max_rt;
	let ps_share = |ps: u64| if proof_bounded { ps as f64 / max_ps } else { 0.0 };
	let (share_rt, share_ps) = (rt_share(ref_time), ps_share(proof_size));
	let (transfer_share_rt, transfer_share_ps) = (rt_share(transfer_rt), ps_share(transfer_ps));
	let worst = share_rt.max(share_ps);
	let describe = |rt: f64, ps: f64| {
		if proof_bounded {
			format!("{:.3}% ref time, {:.3}% proof size", rt * 100.0, ps * 100.0)
		} else {
			format!("{:.3}% ref time (proof size unbounded)", rt * 100.0)
		}
	};
	row.measured = Some(Quantity::new(worst * 100.0, "%", describe(share_rt, share_ps)));
	row.baseline = Some(Quantity::new(
		transfer_share_rt.max(transfer_share_ps) * 100.0,
		"%",
		format!("one transfer: {}", describe(transfer_share_rt, transfer_share_ps)),
	));
	let ratio = ref_time as f64 / transfer_rt as f64;
	row.comparison = Some(Quantity::new(ratio, "×", format!("{ratio:.1}× a transfer's ref time")));
	row.met = Some(worst <= 0.005);
	let proof_limit = if proof_bounded {
		format!("{:.1} MiB proof size", max_ps / (1 << 20) as f64)
	} else {
		"unbounded proof size".to_string()
	};
	row.notes.push(format!(
		"block maximum: {:.0} ms ref time, {proof_limit}; a lifecycle: {:.2} ms, {:.1} KiB of declared proof; i.e. {:.0} lifecycles fit a block",
		max_rt / 1e9,
		ref_time as f64 / 1e9,
		proof_size as f64 / 1024.0,
		1.0 / worst,
	));
	if !proof_bounded {
		row.notes.push(format!(
			"as a parachain (5 MiB proof of validity) the lifecycle's declared proof would be {:.2}% of a block, {:.2}% of it the floor every signed extrinsic declares ({floor_ps} B: the transaction extensions' worst-case reads)",
			proof_size as f64 / PARACHAIN_POV_BYTES * 100.0,
			(floor_ps * 5) as f64 / PARACHAIN_POV_BYTES * 100.0,
		));
	}
	row.details = serde_json::json!({
		"per_call": per_call,
		"lifecycle": {"ref_time": ref_time, "proof_size": proof_size},
		"transfer": {"ref_time": transfer_rt, "proof_size": transfer_ps},
		"signed_extrinsic_proof_floor": floor_ps,
		"block_max": {
			"ref_time": limits.max_block.ref_time,
			"proof_size": proof_bounded.then_some(limits.max_block.proof_size),
		},
		"share": {"ref_time": share_rt, "proof_size": share_ps},
	});
	Ok(())
}
