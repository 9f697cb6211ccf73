//! The deposit floors the solve's index prunes with never refuse a match the chain's
//! minimums accept: each test takes deposits exactly at [`stakes::match_minimums`] over
//! random terms and checks that the floor lets the pair through.

use super::{
	sample::Rng,
	stakes::{self, MatchRules, MatchTerms, PENALTY_RATE_PARTS_PER_UNIT},
};

/// Random terms with the job's maximum prices at least the RP's (rules 5 and 6), over
/// magnitudes from single units to far past any real price.
fn terms(rng: &mut Rng) -> MatchTerms {
	let wide = |rng: &mut Rng| -> u128 {
		match rng.below(4) {
			0 => u128::from(rng.below(10)),
			1 => u128::from(rng.below(20_000)),
			2 => u128::from(rng.next_u64()),
			_ => u128::from(rng.next_u64()) << rng.below(40),
		}
	};
	let instruction_price = wide(rng);
	let bandwidth_price = wide(rng);
	MatchTerms {
		instruction_limit: rng.below(2_000_000),
		bandwidth_limit: rng.below(1 << 30),
		instruction_max_price: instruction_price.saturating_add(wide(rng)),
		bandwidth_max_price: bandwidth_price.saturating_add(wide(rng)),
		instruction_price,
		bandwidth_price,
		mediator_instruction_price: wide(rng),
		mediator_bandwidth_price: wide(rng),
		mediator_availability: wide(rng),
		directory_availability: wide(rng),
		job_incentive: wide(rng),
		resource_incentive: wide(rng),
	}
}

fn rules(rng: &mut Rng) -> MatchRules {
	MatchRules {
		penalty_rate_parts: u128::from(rng.below(200)) * PENALTY_RATE_PARTS_PER_UNIT / 2
			+ u128::from(rng.below(1_000)),
		verification_count: 1 + rng.below(5) as u32,
		..MatchRules::default()
	}
}

#[test]
fn the_floors_let_through_every_pair_whose_deposits_cover_the_match() {
	let mut rng = Rng(7);
	let mut checked = 0;
	for _ in 0..200_000 {
		let (rules, t) = (rules(&mut rng), terms(&mut rng));
		let Some((job_creator, resource_provider)) = stakes::match_minimums(&rules, &t) else {
			continue;
		};
		checked += 1;
		// The JC deposits exactly the minimum: the floor is below it and the RP's price
		// is within what it affords.
		let floor = stakes::job_creator_floor(&rules, &t).expect("no overflow below the real one");
		assert!(floor <= job_creator, "{t:?}");
		let affordable = stakes::dearest_instruction_price_covered(&rules, &t, job_creator)
			.expect("the exact minimum affords the match");
		assert!(t.instruction_price <= affordable, "{t:?}");
		// The RP deposits exactly its minimum: its offer stands behind the job's size.
		let most = stakes::most_instructions_covered(
			&rules,
			t.instruction_price,
			resource_provider,
			t.resource_incentive,
		)
		.expect("the minimum covers the incentive");
		assert!(t.instruction_limit <= most, "{t:?}");
	}
	assert!(checked > 100_000, "only {checked} terms without overflow");
}

#[test]
fn the_floors_refuse_deposits_far_below_the_minimum() {
	let rules = MatchRules::default();
	// θ = 50: a job of 10^6 instructions at 10 a unit owes at least 50·10^7 in penalty.
	let t = MatchTerms {
		instruction_limit: 1_000_000,
		instruction_max_price: 10,
		instruction_price: 10,
		..Default::default()
	};
	let (job_creator, resource_provider) = stakes::match_minimums(&rules, &t).expect("small");
	assert_eq!(stakes::dearest_instruction_price_covered(&rules, &t, job_creator / 40), None);
	// The RP's deposit a fortieth of its minimum stands behind about a fortieth of the job.
	let most = stakes::most_instructions_covered(&rules, 10, resource_provider / 40, 0);
	assert!(most.is_some_and(|most| most < 1_000_000 / 39), "{most:?}");
	// A deposit below the RP's own incentive covers no match at all.
	assert_eq!(stakes::most_instructions_covered(&rules, 10, 5, 6), None);
	// Free instructions: only the deposit's other parts limit the job.
	assert_eq!(stakes::most_instructions_covered(&rules, 0, 5, 0), Some(u64::MAX));
}
