//! The endpoint a directory registers on chain: where its registry and its uptime
//! server listen, as `registry=HOST:PORT,uptime=HOST:PORT`.

use super::DirectoryError;
use std::{fmt, str::FromStr};

/// The longest endpoint string this project puts on chain, in bytes.
pub const MAX_ENDPOINT_LEN: usize = 128;

/// A directory's two services, each as `host:port`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DirectoryEndpoint {
	/// The OCI registry (images and result blobs), e.g. `127.0.0.1:5000`.
	pub registry: String,
	/// The uptime server, e.g. `127.0.0.1:5001`.
	pub uptime: String,
}

impl DirectoryEndpoint {
	/// An endpoint from two `host:port` addresses, checked as [`FromStr`] would.
	pub fn new(
		registry: impl Into<String>,
		uptime: impl Into<String>,
	) -> Result<Self, DirectoryError> {
		let endpoint = DirectoryEndpoint { registry: registry.into(), uptime: uptime.into() };
		endpoint.to_chain_bytes()?;
		Ok(endpoint)
	}

	/// The bytes to register on chain, refused if an address is malformed or the
	/// whole is longer than [`MAX_ENDPOINT_LEN`].
	pub fn to_chain_bytes(&self) -> Result<Vec<u8>, DirectoryError> {
		let text = self.to_string();
		let invalid =
			|reason: String| DirectoryError::InvalidEndpoint { input: text.clone(), reason };
		check_host_port(&self.registry).map_err(|r| invalid(format!("registry: {r}")))?;
		check_host_port(&self.uptime).map_err(|r| invalid(format!("uptime: {r}")))?;
		check_length(&text).map_err(invalid)?;
		Ok(text.into_bytes())
	}

	/// Parses an endpoint as read from chain storage.
	pub fn from_chain_bytes(bytes: &[u8]) -> Result<Self, DirectoryError> {
		let text = std::str::from_utf8(bytes).map_err(|_| DirectoryError::InvalidEndpoint {
			input: String::from_utf8_lossy(bytes).into_owned(),
			reason: "not UTF-8".into(),
		})?;
		text.parse()
	}
}

impl fmt::Display for DirectoryEndpoint {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "registry={},uptime={}", self.registry, self.uptime)
	}
}

impl FromStr for DirectoryEndpoint {
	type Err = DirectoryError;

	fn from_str(input: &str) -> Result<Self, Self::Err> {
		let invalid =
			|reason: String| DirectoryError::InvalidEndpoint { input: input.to_string(), reason };
		check_length(input).map_err(invalid)?;
		let (mut registry, mut uptime) = (None, None);
		for part in input.split(',') {
			let (key, value) = part
				.split_once('=')
				.ok_or_else(|| invalid(format!("{part:?} is not KEY=VALUE")))?;
			let slot = match key {
				"registry" => &mut registry,
				"uptime" => &mut uptime,
				other => {
					return Err(invalid(format!(
						"unknown key {other:?} (only `registry` and `uptime`)"
					)))
				},
			};
			if slot.is_some() {
				return Err(invalid(format!("`{key}` given twice")));
			}
			check_host_port(value).map_err(|r| invalid(format!("{key}: {r}")))?;
			*slot = Some(value.to_string());
		}
		match (registry, uptime) {
			(Some(registry), Some(uptime)) => Ok(DirectoryEndpoint { registry, uptime }),
			(None, _) => Err(invalid("`registry` is missing".into())),
			(_, None) => Err(invalid("`uptime` is missing".into())),
		}
	}
}

fn check_length(text: &str) -> Result<(), String> {
	if text.len() > MAX_ENDPOINT_LEN {
		return Err(format!(
			"{} bytes is longer than the on-chain limit of {MAX_ENDPOINT_LEN}",
			text.len()
		));
	}
	Ok(())
}

/// Checks `host:port`: a DNS name or IPv4 address, or a bracketed IPv6 address, and a
/// non-zero port. Strict, because the string ends up in URLs.
pub(crate) fn check_host_port(input: &str) -> Result<(), String> {
	let (host, port) = input
		.rsplit_once(':')
		.ok_or_else(|| format!("{input:?} has no port (expected HOST:PORT)"))?;
	match port.parse::<u16>() {
		Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => {},
		_ => return Err(format!("{port:?} in {input:?} is not a port number (1-65535)")),
	}
	if host.is_empty() {
		return Err(format!("{input:?} has an empty host"));
	}
	if let Some(inner) = host.strip_prefix('[') {
		let inner = inner
			.strip_suffix(']')
			.ok_or_else(|| format!("{input:?}: unclosed `[` in the host"))?;
		inner
			.parse::<std::net::Ipv6Addr>()
			.map_err(|_| format!("{host:?} in {input:?} is not an IPv6 address"))?;
		return Ok(());
	}
	let valid_label = |label: &str| {
		!label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
	};
	if host.split('.').all(valid_label) {
		return Ok(());
	}
	if host.contains(':') && host.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
		return Err(format!("{input:?}: put an IPv6 host in brackets, e.g. [::1]:5000"));
	}
	Err(format!("{host:?} in {input:?} is not a host name or IP address"))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn roundtrips() {
		let text = "registry=127.0.0.1:5000,uptime=127.0.0.1:5001";
		let endpoint: DirectoryEndpoint = text.parse().unwrap();
		assert_eq!(endpoint.registry, "127.0.0.1:5000");
		assert_eq!(endpoint.uptime, "127.0.0.1:5001");
		assert_eq!(endpoint.to_string(), text);
		assert_eq!(DirectoryEndpoint::from_chain_bytes(text.as_bytes()).unwrap(), endpoint);
		assert_eq!(endpoint.to_chain_bytes().unwrap(), text.as_bytes());
		// Order does not matter on input; output is canonical.
		let swapped: DirectoryEndpoint =
			"uptime=dir.example.org:81,registry=[::1]:5000".parse().unwrap();
		assert_eq!(swapped.to_string(), "registry=[::1]:5000,uptime=dir.example.org:81");
		assert_eq!(swapped.to_string().parse::<DirectoryEndpoint>().unwrap(), swapped);
	}

	#[test]
	fn refuses_malformed_strings_with_a_reason() {
		let cases = [
			("", "is not KEY=VALUE"),
			("registry=127.0.0.1:5000", "`uptime` is missing"),
			("uptime=127.0.0.1:5001", "`registry` is missing"),
			("registry=a:1,uptime=b:2,registry=c:3", "given twice"),
			("registry=a:1,uptime=b:2,extra=c:3", "unknown key \"extra\""),
			("registry=a:1;uptime=b:2", "not a host name"),
			("registry=127.0.0.1,uptime=b:2", "has no port"),
			("registry=127.0.0.1:0,uptime=b:2", "is not a port number"),
			("registry=127.0.0.1:70000,uptime=b:2", "is not a port number"),
			("registry=:5000,uptime=b:2", "empty host"),
			("registry=a b:5000,uptime=b:2", "not a host name"),
			("registry=a/v2:5000,uptime=b:2", "not a host name"),
			("registry=::1:5000,uptime=b:2", "brackets"),
			("registry=[::1:5000,uptime=b:2", "unclosed"),
			("registry=[zz]:5000,uptime=b:2", "not an IPv6 address"),
			("registry = a:1,uptime=b:2", "unknown key"),
		];
		for (input, expected) in cases {
			let error = input.parse::<DirectoryEndpoint>().unwrap_err().to_string();
			assert!(error.contains(expected), "{input:?}: {error}");
			assert!(error.contains("invalid directory endpoint"), "{error}");
		}
	}

	#[test]
	fn refuses_what_does_not_fit_on_chain() {
		let long_host = format!("{}.example", "a".repeat(60));
		let text = format!("registry={long_host}:5000,uptime={long_host}:5001");
		assert!(text.len() > MAX_ENDPOINT_LEN);
		let error = text.parse::<DirectoryEndpoint>().unwrap_err().to_string();
		assert!(error.contains("on-chain limit of 128"), "{error}");
		let error =
			DirectoryEndpoint::new(format!("{long_host}:5000"), format!("{long_host}:5001"))
				.unwrap_err()
				.to_string();
		assert!(error.contains("on-chain limit"), "{error}");
		let error = DirectoryEndpoint::new("127.0.0.1", "127.0.0.1:5001").unwrap_err().to_string();
		assert!(error.contains("registry: \"127.0.0.1\" has no port"), "{error}");
		assert!(DirectoryEndpoint::from_chain_bytes(&[0xff, 0xfe]).is_err());
	}
}
