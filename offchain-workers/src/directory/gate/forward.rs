//! Passing a request on to the registry behind the gate and its answer back.

use super::Shared;
use std::{
	io::Read,
	sync::atomic::{AtomicU64, Ordering},
};

/// The gate's answer to a client.
pub(super) type Response = tiny_http::Response<Box<dyn Read + Send>>;

/// Request headers that stay at the gate: hop-by-hop ones, and credentials (which must
/// never reach the registry's logs).
const KEPT_BACK: [&str; 9] = [
	"connection",
	"transfer-encoding",
	"content-length",
	"authorization",
	"expect",
	"te",
	"upgrade",
	"keep-alive",
	"proxy-authorization",
];
/// Response headers the gate sets itself.
const NOT_PASSED_BACK: [&str; 4] =
	["connection", "transfer-encoding", "content-length", "keep-alive"];

/// Sends the request on to the registry and returns its answer. A write's body counts
/// against the quota as it passes and is cut off at it (the registry then refuses the
/// short upload). `request.url()` must start with `/` (the caller checks), so it can
/// only name a path on the registry.
pub(super) fn forward(
	request: &mut tiny_http::Request,
	shared: &Shared,
	write: bool,
) -> Result<ureq::Response, String> {
	let url = format!("http://{}{}", shared.upstream, request.url());
	let mut upstream = shared.agent.request(request.method().as_str(), &url);
	for field in request.headers() {
		let name = field.field.as_str().as_str();
		if KEPT_BACK.contains(&name.to_ascii_lowercase().as_str())
			|| name.to_ascii_lowercase().starts_with("proxy-")
		{
			continue;
		}
		upstream = upstream.set(name, field.value.as_str());
	}
	let answer = if write {
		if let Some(length) = request.body_length() {
			upstream = upstream.set("Content-Length", &length.to_string());
		}
		let quota = shared.policy.quota_bytes;
		upstream.send(Counted { inner: request.as_reader(), used: &shared.used_bytes, quota })
	} else {
		upstream.call()
	};
	match answer {
		Ok(answer) | Err(ureq::Error::Status(_, answer)) => Ok(answer),
		Err(e) => Err(e.to_string()),
	}
}

/// The registry's answer as the client's: status, headers (every value of each) and
/// the body streamed through, with its length when the registry gave one (also for
/// `HEAD`, whose length Docker checks).
pub(super) fn relay(answer: ureq::Response) -> Response {
	let status = answer.status();
	let length = answer.header("Content-Length").and_then(|v| v.parse::<usize>().ok());
	let mut headers = Vec::new();
	for name in answer.headers_names() {
		if NOT_PASSED_BACK.contains(&name.as_str()) {
			continue;
		}
		for value in answer.all(&name) {
			headers.extend(header_of(&name, value));
		}
	}
	let body: Box<dyn Read + Send> = Box::new(answer.into_reader());
	let response =
		tiny_http::Response::new(tiny_http::StatusCode(status), headers, body, length, None);
	// tiny_http would switch a long body to chunked encoding and drop its length.
	match length {
		Some(_) => response.with_chunked_threshold(usize::MAX),
		None => response,
	}
}

/// A write's body, added to the storage in use as it passes and stopped at the quota.
struct Counted<'a, R> {
	inner: R,
	used: &'a AtomicU64,
	quota: u64,
}

impl<R: Read> Read for Counted<'_, R> {
	fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
		let left = self.quota.saturating_sub(self.used.load(Ordering::Relaxed));
		if left == 0 {
			// At the quota: fine if the body ends here, cut off if it goes on.
			let mut probe = [0u8; 1];
			return match self.inner.read(&mut probe)? {
				0 => Ok(0),
				_ => Err(std::io::Error::other("the directory's storage quota is reached")),
			};
		}
		let room = usize::try_from(left).unwrap_or(usize::MAX).min(buffer.len());
		let read = self.inner.read(&mut buffer[..room])?;
		self.used.fetch_add(read as u64, Ordering::Relaxed);
		Ok(read)
	}
}

/// An error in the registry API's JSON shape.
pub(super) fn error_response(status: u16, code: &str, message: &str) -> Response {
	let body = serde_json::json!({ "errors": [{ "code": code, "message": message }] });
	json_response(status, body.to_string())
}

pub(super) fn json_response(status: u16, body: String) -> Response {
	let length = body.len();
	let body: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(body.into_bytes()));
	let headers = header_of("Content-Type", "application/json").into_iter().collect();
	tiny_http::Response::new(tiny_http::StatusCode(status), headers, body, Some(length), None)
}

pub(super) fn header_of(name: &str, value: &str) -> Option<tiny_http::Header> {
	tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

/// A request header's value.
pub(super) fn header(request: &tiny_http::Request, name: &'static str) -> Option<String> {
	request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string())
}
