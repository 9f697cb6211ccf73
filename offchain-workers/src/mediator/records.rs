//! Mediation of disputed records (README, "Mediation of disputed records"): a JC that
//! rejected a record job's result with `reject_records` named the records it found
//! wrong. The mediator fetches the RP's outputs of just those records with a Merkle
//! proof against the posted root, re-runs the job `n` times on just those records
//! through the RP's pipeline, and rules by [`ruling::rule_on_records`]: the records can
//! clear the RP, or show the job non-deterministic. Anything else — above all, outputs
//! that differ from the posted ones — goes to the caller's whole runs.

use super::{Mediator, MediatorError, Ruling};
use crate::{
	directory,
	job::{
		records::{self, RecordRun, RECORDS_OUT},
		ruling::{self, RecordRerun},
		Schedule,
	},
};
use modicum_client::{chain::MatchInfo, reference_text, types::PostedResult};

impl Mediator {
	/// The ruling on the disputed `names` of `result`; `None` when the records cannot
	/// decide (their outputs are not proven, a run failed, too little time is left).
	pub(super) async fn rule_by_records(
		&self,
		match_id: u64,
		info: &MatchInfo,
		result: &PostedResult,
		names: &[String],
		mediation_deadline: u64,
	) -> Result<Option<Ruling>, MediatorError> {
		let Some((deadline, endpoint)) = self.run_window(info, mediation_deadline).await? else {
			return Ok(None);
		};
		let Some(posted) = fetch_posted(&endpoint.registry, result, names).await? else {
			tracing::info!(match_id, "the directory does not prove the disputed records' outputs");
			return Ok(None);
		};
		let (runner, terms) = self.runner_and_terms(info, &endpoint).await?;
		let image = self.images.hold(&format!("{}/{}", endpoint.registry, terms.reference));
		let mut runs = Vec::new();
		for run in 0..info.verification_count.max(1) {
			let work = self.settings.work_dir.join(format!("match-{match_id}/records-{run}"));
			let tag = crate::executor::owner_tag(&self.me.0);
			let name = format!("mediator-{tag}-{match_id}-r{run}");
			let schedule = Schedule::Mediator { deadline };
			let ran = records::run_records(&runner, &terms, &work, &name, schedule, names).await;
			let _ = std::fs::remove_dir_all(&work);
			runs.push(match ran? {
				RecordRun::NotARecord(missing) => RecordRerun::NotARecord(missing),
				RecordRun::Ran { outcome, outputs } => {
					RecordRerun::Ran { status: outcome.status, outputs }
				},
			});
			// A name that is no record decides at once; a run that cannot clear the RP
			// sends the dispute to whole runs at once, so the records cost the
			// mediation window at most one short run.
			let not_a_record = matches!(runs.last(), Some(RecordRerun::NotARecord(_)));
			if not_a_record || ruling::rule_on_records(&posted, &runs).is_none() {
				break;
			}
		}
		drop(image);
		let Some((verdict, faulty)) = ruling::rule_on_records(&posted, &runs) else {
			return Ok(None);
		};
		tracing::info!(match_id, %verdict, %faulty, records = names.len(), runs = runs.len(), "ruled on the disputed records");
		// The verdict says nothing about cost (the JC disputed outputs), so settlement
		// uses the usage the RP claimed, as a whole re-run that confirmed it would.
		Ok(Some(Ruling {
			verdict,
			faulty,
			instruction_count: result.instruction_count,
			bandwidth_used: result.bandwidth_used,
			result_hash: result.hash,
			posted: false,
		}))
	}
}

/// The RP's outputs of records `names`, each proven against the posted root; `None` if
/// the directory does not prove them all.
async fn fetch_posted(
	registry: &str,
	result: &PostedResult,
	names: &[String],
) -> Result<Option<Vec<(String, Vec<u8>)>>, MediatorError> {
	let posted = reference_text(&result.reference);
	let Some((repository, digest)) = posted.split_once('@') else { return Ok(None) };
	let paths: Vec<String> = names.iter().map(|name| format!("{RECORDS_OUT}/{name}")).collect();
	let (registry, repository, digest, root) =
		(registry.to_string(), repository.to_string(), digest.to_string(), result.hash);
	let wanted = paths.clone();
	let proven = tokio::task::spawn_blocking(move || {
		directory::fetch_proven_files(&registry, &repository, &digest, &root, &wanted)
	})
	.await
	.map_err(|e| MediatorError::Evidence(e.to_string()))?;
	let Ok(files) = proven else { return Ok(None) };
	let by_name = names
		.iter()
		.zip(&paths)
		.map(|(name, path)| {
			files.iter().find(|(p, _)| p == path).map(|(_, bytes)| (name.clone(), bytes.clone()))
		})
		.collect();
	Ok(by_name)
}
