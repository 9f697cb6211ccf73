//! Figure 5, lifecycle weight: what the chain charges a block for each of the five
//! lifecycle extrinsics (`TransactionPaymentApi_query_info`: the call's declared weight
//! plus the extrinsic base weight), summed, as a share of the block's maximum
//! (`System::BlockWeights`); both weight dimensions, ref time and proof size. Baseline:
//! one balance transfer.

use crate::{
	chain_rate::{dev_node, job_terms, resource_terms},
	market::MDC,
	row::{Quantity, Row},
	tx::{self, Bulk},
	Ctx,
};
use anyhow::Result;
use modicum_client::{keys, reference, runtime, types::ResultStatus};

/// The figure's row.
pub async fn run(ctx: &Ctx) -> Vec<Row> {
	let mut row = Row::new(
		"weight",
		"weight of one full job lifecycle as a share of the block's maximum",
		"≈6% of a block (592k gas)",
		"≤ 0.5%",
	);
	let measured = measure(ctx, &mut row).await;
	vec![row.finished(measured)]
}

async fn measure(_ctx: &Ctx, row: &mut Row) -> Result<()> {
	let (_dir, node) = dev_node("weight", &["--dev"]).await?;
	let bulk = Bulk::connect(&node.url()).await?;
	// Weights depend on the call, not on the state: any ids and any signer will do.
	let mut alice = bulk.account("//Alice").await?;
	let bob = keys::parse_account("//Bob")?;
	let market = || runtime::transactions().compute_market();
	let result_ref = reference(&format!("results/bench@sha256:{}", "cd".repeat(32)))?;
	let calls = [
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
	];
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

	let limits = bulk.block_weights()?;
	let (max_rt, max_ps) = (limits.max_block.ref_time as f64, limits.max_block.proof_size as f64);
	let share = |rt: u64, ps: u64| (rt as f64 / max_rt, ps as f64 / max_ps);
	let (share_rt, share_ps) = share(ref_time, proof_size);
	let (transfer_share_rt, transfer_share_ps) = share(transfer_rt, transfer_ps);
	let worst = share_rt.max(share_ps);
	row.measured = Some(Quantity::new(
		worst * 100.0,
		"%",
		format!("{:.3}% ref time, {:.3}% proof size", share_rt * 100.0, share_ps * 100.0),
	));
	row.baseline = Some(Quantity::new(
		transfer_share_rt.max(transfer_share_ps) * 100.0,
		"%",
		format!(
			"one transfer: {:.3}% ref time, {:.3}% proof size",
			transfer_share_rt * 100.0,
			transfer_share_ps * 100.0
		),
	));
	let ratio = ref_time as f64 / transfer_rt as f64;
	row.comparison = Some(Quantity::new(ratio, "×", format!("{ratio:.1}× a transfer's ref time")));
	row.met = Some(worst <= 0.005);
	row.notes.push(format!(
		"block maximum: {:.0} ms ref time, {:.1} MiB proof size; a lifecycle: {:.2} ms, {:.1} KiB; i.e. {:.0} lifecycles fit a block",
		max_rt / 1e9,
		max_ps / (1 << 20) as f64,
		ref_time as f64 / 1e9,
		proof_size as f64 / 1024.0,
		1.0 / worst,
	));
	row.details = serde_json::json!({
		"per_call": per_call,
		"lifecycle": {"ref_time": ref_time, "proof_size": proof_size},
		"transfer": {"ref_time": transfer_rt, "proof_size": transfer_ps},
		"block_max": {"ref_time": limits.max_block.ref_time, "proof_size": limits.max_block.proof_size},
		"share": {"ref_time": share_rt, "proof_size": share_ps},
	});
	Ok(())
}
