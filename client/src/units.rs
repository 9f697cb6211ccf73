//! Amounts as people write them: `1.5` MDC, or an exact planck count with the `planck`
//! suffix. One MDC is 10^12 planck (the runtime's `UNIT`).

use crate::ClientError;

/// Planck per MDC.
pub const PLANCK_PER_MDC: u128 = 1_000_000_000_000;
const DECIMALS: usize = 12;

/// Parses `"2"`, `"0.001"` (MDC) or `"1500planck"` into planck.
pub fn parse_amount(input: &str) -> Result<u128, ClientError> {
	let text = input.trim().replace('_', "");
	let error = |reason: &str| ClientError::Amount { input: input.into(), reason: reason.into() };
	if let Some(planck) = text.strip_suffix("planck") {
		return planck.trim().parse::<u128>().map_err(|_| error("not a whole number of planck"));
	}
	let text = text.strip_suffix("MDC").unwrap_or(&text).trim();
	let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
	if whole.is_empty() && fraction.is_empty() {
		return Err(error("empty"));
	}
	if fraction.len() > DECIMALS {
		return Err(error("more than 12 decimals (1 planck = 0.000000000001 MDC)"));
	}
	let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
	if !digits(whole) || !digits(fraction) {
		return Err(error("expected a number such as 1.5, or 1500planck"));
	}
	let whole: u128 =
		if whole.is_empty() { 0 } else { whole.parse().map_err(|_| error("too large"))? };
	let fraction_planck: u128 = if fraction.is_empty() {
		0
	} else {
		let padded = format!("{fraction:0<DECIMALS$}");
		padded.parse().map_err(|_| error("bad fraction"))?
	};
	whole
		.checked_mul(PLANCK_PER_MDC)
		.and_then(|w| w.checked_add(fraction_planck))
		.ok_or_else(|| error("too large"))
}

/// Formats planck as MDC with trailing zeros trimmed (`1.5 MDC`).
pub fn format_amount(planck: u128) -> String {
	let whole = planck / PLANCK_PER_MDC;
	let fraction = planck % PLANCK_PER_MDC;
	if fraction == 0 {
		return format!("{whole} MDC");
	}
	let fraction = format!("{fraction:0>DECIMALS$}");
	format!("{whole}.{} MDC", fraction.trim_end_matches('0'))
}

/// Bytes as people read them, in binary units: `512 B`, `1.5 KiB`, `256 MiB`.
pub fn format_bytes(bytes: u64) -> String {
	const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
	let mut value = bytes as f64;
	let mut unit = 0;
	while value >= 1024.0 && unit + 1 < UNITS.len() {
		value /= 1024.0;
		unit += 1;
	}
	let tenths = (value * 10.0).round() / 10.0;
	if unit == 0 {
		format!("{bytes} B")
	} else if tenths.fract() == 0.0 {
		format!("{tenths:.0} {}", UNITS[unit])
	} else {
		format!("{tenths:.1} {}", UNITS[unit])
	}
}

/// A size in bytes as people write it: `134217728`, `128MiB`, `1.5 GiB`, `64MB`,
/// `512k` (binary units: KiB/k, MiB/M, GiB/G, TiB/T; decimal: kB, MB, GB, TB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
	type Err = ClientError;
	fn from_str(input: &str) -> Result<Self, Self::Err> {
		let error = |reason: &str| ClientError::Size {
			input: input.to_string(),
			reason: format!("{reason} (a size: 1048576, 512KiB, 128MiB, 1.5GiB, 64MB)"),
		};
		let text = input.trim();
		let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
		let (number, unit) = text.split_at(split);
		let multiplier: u64 = match unit.trim() {
			"" | "B" | "b" => 1,
			"KiB" | "K" | "k" => 1 << 10,
			"MiB" | "M" | "m" => 1 << 20,
			"GiB" | "G" | "g" => 1 << 30,
			"TiB" | "T" | "t" => 1 << 40,
			"kB" | "KB" => 1_000,
			"MB" => 1_000_000,
			"GB" => 1_000_000_000,
			"TB" => 1_000_000_000_000,
			_ => return Err(error("unknown unit")),
		};
		let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
		if whole.is_empty() && fraction.is_empty() {
			return Err(error("no number"));
		}
		let whole: u64 =
			if whole.is_empty() { 0 } else { whole.parse().map_err(|_| error("not a number"))? };
		let mut bytes = whole.checked_mul(multiplier).ok_or_else(|| error("too large"))?;
		if !fraction.is_empty() {
			let digits: u32 = fraction.len().try_into().map_err(|_| error("too many digits"))?;
			let scale = 10u128.checked_pow(digits).ok_or_else(|| error("too many digits"))?;
			let parts: u128 = fraction.parse().map_err(|_| error("not a number"))?;
			let extra = parts * u128::from(multiplier);
			if !extra.is_multiple_of(scale) {
				return Err(error("not a whole number of bytes"));
			}
			let extra = u64::try_from(extra / scale).map_err(|_| error("too large"))?;
			bytes = bytes.checked_add(extra).ok_or_else(|| error("too large"))?;
		}
		Ok(ByteSize(bytes))
	}
}

/// A number of bytes, or the text [`ByteSize`] reads.
impl<'de> serde::Deserialize<'de> for ByteSize {
	fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		#[derive(serde::Deserialize)]
		#[serde(untagged)]
		enum Raw {
			Bytes(u64),
			Text(String),
		}
		match Raw::deserialize(deserializer)? {
			Raw::Bytes(bytes) => Ok(ByteSize(bytes)),
			Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
		}
	}
}

/// A span of chain time (ms) as people read it: `10m`, `1h 30m`, `7days`.
pub fn format_duration_ms(ms: u64) -> String {
	humantime::format_duration(std::time::Duration::from_millis(ms)).to_string()
}

/// A chain time (ms since the epoch) as people read it: the local time and how far
/// from now it is, e.g. `2026-12-04 20:45:12 +00:00 (in 4 min)` or `… (3 min ago)`.
/// Scripts read the milliseconds from `--json` instead.
pub fn format_moment(at_ms: u64) -> String {
	let now_ms = std::time::SystemTime::now()
		.duration_since(std::time::UNIX_EPOCH)
		.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
	format_moment_at(at_ms, now_ms)
}

/// [`format_moment`] as seen at `now_ms`.
pub fn format_moment_at(at_ms: u64, now_ms: u64) -> String {
	let local = i64::try_from(at_ms)
		.ok()
		.and_then(chrono::DateTime::from_timestamp_millis)
		.map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S %:z").to_string());
	let when = local.unwrap_or_else(|| format!("{at_ms} ms"));
	if at_ms >= now_ms {
		format!("{when} (in {})", roughly(at_ms - now_ms))
	} else {
		format!("{when} ({} ago)", roughly(now_ms - at_ms))
	}
}

/// A span to the nearest unit people count in.
fn roughly(ms: u64) -> String {
	let secs = ms / 1000;
	match secs {
		0..60 => format!("{secs} s"),
		60..3_600 => format!("{} min", secs / 60),
		3_600..172_800 => format!("{} h {} min", secs / 3_600, secs % 3_600 / 60),
		_ => format!("{} days", secs / 86_400),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn sizes_parse_as_people_write_them() {
		let size = |text: &str| text.parse::<ByteSize>().map(|s| s.0);
		assert_eq!(size("1048576").unwrap(), 1 << 20);
		assert_eq!(size("128MiB").unwrap(), 128 << 20);
		assert_eq!(size("128 MiB").unwrap(), 128 << 20);
		assert_eq!(size("1.5GiB").unwrap(), 3 << 29);
		assert_eq!(size("64MB").unwrap(), 64_000_000);
		assert_eq!(size("512k").unwrap(), 512 << 10);
		for bad in ["", "MiB", "1.5", "1.1B", "12 parsecs", "-1", "99999999999TiB"] {
			assert!(size(bad).is_err(), "{bad:?} accepted");
		}
	}

	#[test]
	fn bytes_in_binary_units() {
		assert_eq!(format_bytes(0), "0 B");
		assert_eq!(format_bytes(1023), "1023 B");
		assert_eq!(format_bytes(1536), "1.5 KiB");
		assert_eq!(format_bytes(256 << 20), "256 MiB");
		assert_eq!(format_bytes((5 << 30) + (1 << 29)), "5.5 GiB");
		assert_eq!(format_bytes(u64::MAX), "16 EiB");
	}

	#[test]
	fn moments_say_when_and_how_far() {
		let now = 1_800_000_000_000;
		let soon = format_moment_at(now + 4 * 60_000 + 10_000, now);
		assert!(soon.ends_with("(in 4 min)"), "{soon}");
		// 2027-01-15 08:04 UTC, in whatever zone this machine is set to.
		assert!(soon.starts_with("2027-01-1"), "{soon}");
		assert!(format_moment_at(now - 3 * 60_000, now).ends_with("(3 min ago)"));
		assert!(format_moment_at(now + 25 * 3_600_000, now).ends_with("(in 25 h 0 min)"));
		assert!(format_moment_at(now + 3 * 86_400_000, now).ends_with("(in 3 days)"));
		assert!(format_moment_at(now + 5_000, now).ends_with("(in 5 s)"));
	}

	#[test]
	fn amounts_written_to_a_config_read_back_exactly() {
		#[derive(serde::Serialize, serde::Deserialize)]
		struct File {
			price: Amount,
		}
		let big = Amount(u128::MAX / 3);
		let text = toml::to_string(&File { price: big }).unwrap();
		assert_eq!(text.trim(), format!("price = \"{}planck\"", big.0));
		assert_eq!(toml::from_str::<File>(&text).unwrap().price, big);
	}

	#[test]
	fn durations_read_as_people_write_them() {
		assert_eq!(format_duration_ms(10 * 60 * 1000), "10m");
		assert_eq!(format_duration_ms(90 * 60 * 1000), "1h 30m");
		assert_eq!(format_duration_ms(7 * 24 * 60 * 60 * 1000), "7days");
	}

	#[test]
	fn parses_and_formats() {
		assert_eq!(parse_amount("2").unwrap(), 2 * PLANCK_PER_MDC);
		assert_eq!(parse_amount("0.001").unwrap(), PLANCK_PER_MDC / 1000);
		assert_eq!(parse_amount("1500planck").unwrap(), 1500);
		assert_eq!(parse_amount("1.5 MDC").unwrap(), 1_500_000_000_000);
		assert_eq!(format_amount(1_500_000_000_000), "1.5 MDC");
		assert_eq!(format_amount(3 * PLANCK_PER_MDC), "3 MDC");
		assert_eq!(format_amount(1), "0.000000000001 MDC");
		for bad in ["", "abc", "1.0000000000001", "-1", "1e5"] {
			assert!(parse_amount(bad).is_err(), "{bad:?} accepted");
		}
	}
}

/// An amount in a configuration file: a number of planck, or text as
/// [`parse_amount`] reads it (`"0.5"` MDC, `"1500planck"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amount(pub u128);

/// Written as exact planck text (`"1500planck"`): TOML has no 128-bit integers, and
/// the text reads back through [`parse_amount`] to the same amount.
impl serde::Serialize for Amount {
	fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
		serializer.serialize_str(&format!("{}planck", self.0))
	}
}

impl<'de> serde::Deserialize<'de> for Amount {
	fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		#[derive(serde::Deserialize)]
		#[serde(untagged)]
		enum Raw {
			Planck(u64),
			Text(String),
		}
		match Raw::deserialize(deserializer)? {
			Raw::Planck(planck) => Ok(Amount(planck.into())),
			Raw::Text(text) => parse_amount(&text).map(Amount).map_err(serde::de::Error::custom),
		}
	}
}

impl std::str::FromStr for Amount {
	type Err = ClientError;
	fn from_str(s: &str) -> Result<Self, Self::Err> {
		parse_amount(s).map(Amount)
	}
}
