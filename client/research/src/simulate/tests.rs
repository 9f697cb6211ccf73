use super::*;

fn small(jobs: usize) -> SimConfig {
	SimConfig { jobs, ..SimConfig::default() }
}

fn stats<'a>(summary: &'a SimSummary, label: &str) -> &'a TypeStats {
	summary.types.iter().find(|t| t.label == label).expect("every type is reported")
}

#[test]
fn simulated_utilities_match_the_spec_model() {
	let summary = simulate(&small(4_000)).unwrap();
	assert!(summary.claims.funds_conserved);
	for t in &summary.types {
		assert!(t.jobs > 100, "{} took part in only {} jobs", t.label, t.jobs);
		let tolerance = 5.0 * t.utility_stderr + 1e-6;
		assert!(
			(t.mean_utility - t.expected_utility).abs() <= tolerance,
			"{}: simulated {} vs spec model {} (tolerance {tolerance})",
			t.label,
			t.mean_utility,
			t.expected_utility
		);
		let rate_tolerance = 5.0
			* (t.expected_mediation_rate * (1.0 - t.expected_mediation_rate) / t.jobs as f64)
				.sqrt() + 1e-9;
		assert!(
			(t.mediation_rate - t.expected_mediation_rate).abs() <= rate_tolerance,
			"{}: mediated {} vs {}",
			t.label,
			t.mediation_rate,
			t.expected_mediation_rate
		);
	}
}

#[test]
fn honest_types_match_the_papers_tables_where_the_game_covers_them() {
	let summary = simulate(&small(4_000)).unwrap();
	for label in ["JC altruistic", "RP altruistic", "RP byzantine: wrong results"] {
		let t = stats(&summary, label);
		let (sim, paper) = (t.paper_jobs_utility.unwrap(), t.paper_utility.unwrap());
		assert!(
			(sim - paper).abs() <= 5.0 * t.utility_stderr + 0.05,
			"{label}: {sim} vs paper {paper}"
		);
	}
}

#[test]
fn funds_are_conserved_and_fines_burnt() {
	let summary = simulate(&small(1_500)).unwrap();
	let fined: f64 = summary.types.iter().map(|t| t.fined).sum();
	assert!(summary.claims.burnt > 0.0, "byzantine agents were fined");
	assert!((fined - summary.claims.burnt).abs() < 1e-6, "every fine is attributed to a type");
}

#[test]
fn honest_agents_lose_only_to_non_deterministic_jobs() {
	let summary = simulate(&small(4_000)).unwrap();
	let claims = &summary.claims;
	// An honest JC never loses; an honest RP loses only when a non-deterministic job's
	// abnormal run makes the mediator's n normal runs blame it (probability (1 − p_a)·p_a^n).
	for loss in &claims.honest_losses {
		assert_eq!(loss.honest, "RP altruistic", "{loss:?}");
		assert!(
			loss.counterpart == "JC byzantine: non-deterministic job"
				|| (loss.counterpart == "JC rational" && summary.strategies.rational_p_a < 1.0),
			"{loss:?}"
		);
	}
	assert!(
		claims.honest_losses.iter().any(|l| l.counterpart.contains("non-deterministic")),
		"with p_a = 0.5 and n = 2 a non-deterministic JC wins some disputes"
	);
}

#[test]
fn cheating_is_bounded_and_does_not_pay_at_the_recommended_setting() {
	let summary = simulate(&small(4_000)).unwrap();
	let claims = &summary.claims;
	assert!(claims.gains_bounded(), "{:?}", claims.cheat_gains);
	assert!(claims.cheating_does_not_pay(), "{:?}", claims.cheat_gains);
	let wrong = stats(&summary, "RP byzantine: wrong results");
	assert!(wrong.caught_share.unwrap() > 0.5, "most forged results meet a checking JC");
}

#[test]
fn a_silent_rp_out_earns_an_honest_one_when_n_is_1_and_jobs_are_non_deterministic() {
	// With n = 1 a non-deterministic job (p_a = 0.5) costs an honest RP its deposit on a
	// quarter of their jobs, more than a silent RP loses by never answering: the claim
	// "cheating does not pay" fails there, and the report must say so.
	let summary = simulate(&SimConfig { n: 1, theta: 50.0, ..small(1_000) }).unwrap();
	assert!(!summary.claims.cheating_does_not_pay());
	let silent =
		summary.claims.cheat_gains.iter().find(|g| g.cheater == "RP byzantine: silent").unwrap();
	assert!(silent.expected_advantage > 0.0, "{silent:?}");
	assert!(report::markdown(&summary).contains("Cheating does not pay"));
}

#[test]
fn the_same_seed_gives_the_same_run() {
	let a = simulate(&small(300)).unwrap();
	let b = simulate(&small(300)).unwrap();
	assert_eq!(a, b);
	let c = simulate(&SimConfig { seed: 4, ..small(300) }).unwrap();
	assert_ne!(a.types, c.types);
}

#[test]
fn bad_settings_are_refused() {
	for config in [
		SimConfig { n: 0, ..small(10) },
		SimConfig { theta: -1.0, ..small(10) },
		SimConfig { jobs: 0, ..small(10) },
		SimConfig { pi_c: f64::NAN, ..small(10) },
		SimConfig { byzantine_p_a: 1.5, ..small(10) },
		SimConfig { population: Population { jcs_per_type: 0, rps_per_type: 1 }, ..small(10) },
	] {
		assert!(matches!(simulate(&config), Err(SimError::InvalidConfig(_))), "{config:?}");
	}
}

#[test]
fn the_report_lists_every_type_and_claim() {
	let summary = simulate(&small(400)).unwrap();
	let points = sweep(&small(400), &[1, 2], &[0.0, 50.0], 200).unwrap();
	assert_eq!(points.len(), 4);
	let md = report::markdown(&summary);
	for t in &summary.types {
		assert!(md.contains(&t.label), "{}", t.label);
	}
	assert!(md.contains("Funds conserved"));
	let sweep_md = report::sweep_markdown(&points);
	assert!(sweep_md.contains("| 2 | 50 |"));
	// Every point where a claim fails is named, with its numbers.
	for p in &points {
		let claims = &p.summary.claims;
		if !(claims.honest_never_lose() && claims.cheating_does_not_pay()) {
			let at = format!("- n = {}, θ = {}:", p.n, p.theta);
			assert!(sweep_md.contains(&at), "{at} missing from\n{sweep_md}");
		}
	}
	if crate::ensure_font().is_err() {
		eprintln!("skipping the plot files: no font");
		return;
	}
	let dir = tempfile::tempdir().unwrap();
	let files = write_report(&summary, &points, dir.path()).unwrap();
	for name in ["report.md", "report.json", "utility.svg", "utility.png", "sweep.svg", "sweep.png"]
	{
		let path = dir.path().join(name);
		assert!(files.contains(&path) && path.metadata().unwrap().len() > 0, "{name}");
	}
	let svg = std::fs::read_to_string(dir.path().join("utility.svg")).unwrap();
	// Each group is labelled with its role and kind on two lines.
	for text in ["spec model", "paper (Tables", "altruistic", "rejects correct", "non-det. job"] {
		assert!(svg.contains(text), "{text} missing from utility.svg");
	}
}

#[test]
fn self_dealers_and_griefers_take_nothing_from_uninvolved_accounts() {
	let summary = simulate(&small(50)).unwrap();
	let a = &summary.adversaries;
	assert_eq!((a.self_dealing_rounds, a.griefing_slots), (20, 20));
	assert_eq!(a.directory_loss, 0.0, "the directory never trusted the self-dealer");
	assert!(a.self_dealer_gain <= 0.0, "{a:?}");
	// The mediator whose slots were taken was paid its availability price for each.
	let earned = 20.0 * summary.config.mediator_availability;
	assert!((a.mediator_loss + earned).abs() < 1e-6, "{a:?}");
	assert!(a.slots_freed, "{a:?}");
	// Each slot cost the griefer exactly the availability prices it paid.
	assert!((a.griefer_cost - 20.0 * a.cost_per_slot).abs() < 1e-6, "{a:?}");
	assert!(a.uninvolved_never_lose() && a.attacks_do_not_pay());
	let md = report::markdown(&summary);
	assert!(md.contains("Attacks do not pay: holds"), "{md}");
}

#[test]
fn a_determinism_probe_spares_honest_rps_the_fines_of_non_deterministic_jobs() {
	// Against a JC whose job is a coin flip (p_a = 0.5), an honest RP is fined whenever
	// its run came out abnormal and the mediator's n runs agreed: (1 − p_a)·p_aⁿ. Each
	// extra run that must agree before it posts multiplies that by (1 − p_a); a job
	// whose runs differ is declined, costing the RP its runs and nobody a fine. The
	// chain takes less from it; each run still costs it c_e, on every job.
	let without = simulate(&small(3_000)).unwrap();
	let with = simulate(&SimConfig { probe_runs: 2, ..small(3_000) }).unwrap();
	let (before, after) = (stats(&without, "RP altruistic"), stats(&with, "RP altruistic"));
	assert!(before.fined > 0.0, "{before:?}");
	assert!(after.fined * 2.5 < before.fined, "fines {} → {}", before.fined, after.fined);
	assert!(after.mean_money > before.mean_money, "{before:?}\n{after:?}");
	assert!(with.claims.funds_conserved);
}
