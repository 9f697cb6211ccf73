//! The MODiCuM paper's equilibrium analysis (§5, "Analyzing participant behavior and
//! utilities") as a library: the payoff tables, the JC's utility-maximising p_a, Theorem 2's
//! condition, the mixed-equilibrium rates of eq. 4 (p_v) and eq. 5 (p_e), the expected
//! mediation rate and eq. 2's minimum deposits, plus sweeps and plots of them.
//!
//! `modicum research analyze` prints an [`Analysis`] (as [`Analysis::to_table`] or JSON);
//! `modicum research sweep` calls [`figure5`] and [`heatmaps`]; `modicum research simulate`
//! runs [`simulate::simulate`] against the real pallet and writes [`simulate::write_report`].
//!
//! ```no_run
//! let a = modicum_research::analyze(&modicum_research::Inputs::default())?;
//! println!("{}", a.to_table());
//! # Ok::<(), modicum_research::ResearchError>(())
//! ```
//!
//! Where the paper leaves a choice open, the module docs say what we chose: see
//! [`model`] for the utilities, [`analysis`] for the rates, [`Inputs::paper_figure5`] for
//! the parameters the paper does not give.

#![warn(missing_docs)]

pub mod analysis;
pub mod fonts;
pub mod model;
pub mod scale;
pub mod simulate;
pub mod spot_check;
pub mod sweep;

use std::path::PathBuf;

pub use analysis::{
	analyze, mediation_rate, optimal_p_a, p_e_equilibrium, p_e_paper, p_v_equilibrium, p_v_max,
	p_v_paper, Analysis, Optimum, PaKind, ROOT_TOLERANCE, SCAN_INTERVALS,
};
pub use fonts::{ensure_font, font_path, DEFAULT_FONT_PATH, FONT_ENV};
pub use model::{
	d_min, figure5_derivative, jc_expected_utility, jc_expected_utility_derivative,
	jc_payoff_derivatives, jc_payoffs, jc_verify_utility, numeric_derivative, rp_payoffs, Inputs,
	Payoffs, MAX_N,
};
pub use sweep::{
	figure5, figure5_data, heatmap_grid, heatmaps, Figure5Data, Figure5Series, HeatmapCell,
	HeatmapGrid, HeatmapOutput, FIGURE5_NS, FIGURE5_SAMPLES,
};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum ResearchError {
	/// The inputs are outside what the model allows (e.g. n = 0, p_e > 1, a negative cost).
	#[error("invalid input: {0}")]
	InvalidInput(String),
	/// The plot font is missing or unreadable; the message says how to install it.
	#[error("{0}")]
	Font(String),
	/// Creating the output directory failed.
	#[error("cannot create {path}: {source}")]
	Io {
		/// The directory.
		path: PathBuf,
		/// The cause.
		#[source]
		source: std::io::Error,
	},
	/// Drawing or saving a plot failed.
	#[error("plotting failed: {0}")]
	Plot(String),
	/// Encoding JSON failed.
	#[error("cannot encode JSON: {0}")]
	Json(#[from] serde_json::Error),
}
