//! The one font the plots use, registered with plotters at first use.
//!
//! plotters is built without its system-font support (no font-kit), so text needs a font
//! registered by name. We read DejaVu Sans at run time rather than embedding it, to keep the
//! binary small and the licence question with the distribution.

use std::path::PathBuf;
use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use crate::ResearchError;

/// Where Debian's `fonts-dejavu-core` puts DejaVu Sans.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Environment variable naming another .ttf/.otf file to use instead.
pub const FONT_ENV: &str = "MODICUM_RESEARCH_FONT";

/// The family name the plots ask plotters for.
pub const FAMILY: &str = "sans-serif";

/// Outcome of the first registration, shared by every later call.
static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// The font file that will be (or was) loaded: `$MODICUM_RESEARCH_FONT` or
/// [`DEFAULT_FONT_PATH`].
pub fn font_path() -> PathBuf {
	std::env::var_os(FONT_ENV).map_or_else(|| PathBuf::from(DEFAULT_FONT_PATH), PathBuf::from)
}

/// Loads the font and registers it as "sans-serif" once per process; later calls return the
/// first outcome. The error names the Debian package that provides the default font.
pub fn ensure_font() -> Result<(), ResearchError> {
	REGISTERED.get_or_init(load).clone().map_err(ResearchError::Font)
}

/// Reads and registers the font file.
fn load() -> Result<(), String> {
	let path = font_path();
	let bytes = std::fs::read(&path).map_err(|e| {
		format!(
			"cannot read the plot font {}: {e}. Install the Debian package fonts-dejavu-core \
			 (apt-get install fonts-dejavu-core) or set {FONT_ENV} to a TrueType font file",
			path.display()
		)
	})?;
	// plotters keeps a `&'static [u8]`; this runs once per process, so leaking is bounded.
	let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
	register_font(FAMILY, FontStyle::Normal, bytes).map_err(|_| {
		format!("{} is not a font plotters can read (expected TrueType/OpenType)", path.display())
	})
}
