//! What a replica's RP commits to before revealing its result (README, "Replicated
//! jobs"): `blake2_256(SCALE((match_id, status, root)))`, exactly as the pallet's
//! `result_commitment`. SCALE lays it out as the match id's 8 little-endian bytes, the
//! status's variant index and the root's 32 bytes; the pallet's tests pin the same
//! bytes.

use modicum_client::types::ResultStatus;
use sp_crypto_hashing::blake2_256;

/// The commitment to `status` and `root` for `match_id`.
pub fn result_commitment(match_id: u64, status: ResultStatus, root: &[u8; 32]) -> [u8; 32] {
	let mut bytes = Vec::with_capacity(8 + 1 + 32);
	bytes.extend_from_slice(&match_id.to_le_bytes());
	bytes.push(variant_index(status));
	bytes.extend_from_slice(root);
	blake2_256(&bytes)
}

/// The status's SCALE variant index: its position in the pallet's enum.
fn variant_index(status: ResultStatus) -> u8 {
	match status {
		ResultStatus::Completed => 0,
		ResultStatus::Declined => 1,
		ResultStatus::JobDescriptionError => 2,
		ResultStatus::JobNotFound => 3,
		ResultStatus::MemoryExceeded => 4,
		ResultStatus::StorageExceeded => 5,
		ResultStatus::InstructionsExceeded => 6,
		ResultStatus::BandwidthExceeded => 7,
		ResultStatus::ExceptionOccurred => 8,
		ResultStatus::DirectoryUnavailable => 9,
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_commitment_hashes_the_pallets_scale_layout() {
		let mut expected = vec![7, 0, 0, 0, 0, 0, 0, 0, 8];
		expected.extend_from_slice(&[1; 32]);
		assert_eq!(
			result_commitment(7, ResultStatus::ExceptionOccurred, &[1; 32]),
			blake2_256(&expected)
		);
		// Another match, status or root commits to something else.
		let base = result_commitment(7, ResultStatus::Completed, &[1; 32]);
		assert_ne!(base, result_commitment(8, ResultStatus::Completed, &[1; 32]));
		assert_ne!(base, result_commitment(7, ResultStatus::Declined, &[1; 32]));
		assert_ne!(base, result_commitment(7, ResultStatus::Completed, &[2; 32]));
	}
}
