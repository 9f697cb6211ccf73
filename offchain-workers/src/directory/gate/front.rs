//! The gate's front door: its own accept loop on the public port, in front of the
//! HTTP server (on a private loopback port), because that server reads a request line
//! until CRLF with no deadline and no bound. So, per connection, the front:
//!
//! - answers a TLS handshake at once with a plain `400` and closes: Docker tries HTTPS
//!   first on every registry and falls back to HTTP only when that fails; a server
//!   that waits made every pull wait out Docker's 10 s handshake timeout;
//! - closes a connection that sends nothing within [`FIRST_BYTE_WITHIN`], or whose
//!   request head is not complete within [`HEAD_WITHIN`] or [`MOST_HEAD_BYTES`]
//!   (slow or endless headers held a server thread, and memory, for ever);
//! - takes at most [`MOST_CONNECTIONS`] at once and closes the rest at once;
//! - then pumps bytes both ways until either side closes or both are idle for
//!   [`IDLE_WITHIN`].

use std::{
	io::{Read, Write},
	net::{Shutdown, SocketAddr, TcpListener, TcpStream},
	sync::{
		atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};

/// Connections served at once.
pub(super) const MOST_CONNECTIONS: usize = 256;
/// How long a new connection may stay silent.
const FIRST_BYTE_WITHIN: Duration = Duration::from_secs(10);
/// How long the first request's head may take to arrive.
const HEAD_WITHIN: Duration = Duration::from_secs(30);
/// The longest first request head.
const MOST_HEAD_BYTES: usize = 64 << 10;
/// How long a connection may carry nothing either way before it is closed.
const IDLE_WITHIN: Duration = Duration::from_secs(120);
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Accepts on `public` until `stop`, handing each good connection to `backend`.
pub(super) fn accept(public: &TcpListener, backend: SocketAddr, stop: &AtomicBool) {
	let open = Arc::new(AtomicUsize::new(0));
	// Polled, so that `stop` is seen without a connection arriving.
	let _ = public.set_nonblocking(true);
	while !stop.load(Ordering::SeqCst) {
		let client = match public.accept() {
			Ok((client, _)) => client,
			Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
				std::thread::sleep(Duration::from_millis(20));
				continue;
			},
			Err(e) => {
				tracing::warn!(error = %e, "the directory gate cannot accept a connection");
				std::thread::sleep(Duration::from_millis(100));
				continue;
			},
		};
		if open.fetch_add(1, Ordering::SeqCst) >= MOST_CONNECTIONS {
			open.fetch_sub(1, Ordering::SeqCst);
			drop(client);
			continue;
		}
		let open = open.clone();
		let spawned =
			std::thread::Builder::new().name("registry-gate-front".into()).spawn(move || {
				serve(client, backend);
				open.fetch_sub(1, Ordering::SeqCst);
			});
		if let Err(e) = spawned {
			tracing::warn!(error = %e, "the directory gate cannot start a connection thread");
		}
	}
}

/// One connection, from its first byte to its close.
fn serve(client: TcpStream, backend: SocketAddr) {
	let _ = client.set_nonblocking(false);
	let head = match first_head(&client) {
		Some(head) => head,
		None => return,
	};
	let Ok(server) = TcpStream::connect(backend) else {
		let _ = (&client).write_all(
			b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		);
		return;
	};
	if (&server).write_all(&head).is_err() {
		return;
	}
	pump(client, server);
}

/// The first request's head (and whatever came with it), or `None` once the
/// connection has been answered or dropped.
fn first_head(client: &TcpStream) -> Option<Vec<u8>> {
	let _ = client.set_read_timeout(Some(FIRST_BYTE_WITHIN));
	let mut first = [0u8; 1];
	match client.peek(&mut first) {
		Ok(1) if first[0] == TLS_HANDSHAKE => {
			let _ = (&*client).write_all(
				b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			);
			let _ = client.shutdown(Shutdown::Both);
			return None;
		},
		Ok(1) => {},
		_ => return None,
	}
	let deadline = Instant::now() + HEAD_WITHIN;
	let mut head = Vec::with_capacity(1024);
	let mut buffer = [0u8; 8192];
	while !head.windows(4).any(|w| w == b"\r\n\r\n") {
		let left = deadline.saturating_duration_since(Instant::now());
		if left.is_zero() || head.len() > MOST_HEAD_BYTES {
			let _ = (&*client).write_all(
				b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			);
			return None;
		}
		let _ = client.set_read_timeout(Some(left));
		match (&*client).read(&mut buffer) {
			Ok(0) | Err(_) => return None,
			Ok(read) => head.extend_from_slice(&buffer[..read]),
		}
	}
	Some(head)
}

/// Copies both ways until a side closes or nothing moves either way for
/// [`IDLE_WITHIN`] (a long download with a silent client is not idle).
fn pump(client: TcpStream, server: TcpStream) {
	let activity = Arc::new(Activity { started: Instant::now(), last_ms: AtomicU64::new(0) });
	let (Ok(client_reader), Ok(server_writer), Ok(client_closer)) =
		(client.try_clone(), server.try_clone(), client.try_clone())
	else {
		return;
	};
	let up_activity = activity.clone();
	let upstream = std::thread::Builder::new()
		.name("registry-gate-up".into())
		.spawn(move || copy_while_active(client_reader, server_writer, &up_activity));
	copy_while_active(server, client, &activity);
	// The server is done: so is the client's side, whatever it still sends.
	let _ = client_closer.shutdown(Shutdown::Both);
	if let Ok(upstream) = upstream {
		let _ = upstream.join();
	}
}

/// When bytes last moved on a connection, either way.
struct Activity {
	started: Instant,
	last_ms: AtomicU64,
}

impl Activity {
	fn touch(&self) {
		let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
		self.last_ms.store(now, Ordering::Relaxed);
	}

	fn idle(&self) -> Duration {
		let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
		self.started.elapsed().saturating_sub(last)
	}
}

fn copy_while_active(mut from: TcpStream, mut to: TcpStream, activity: &Activity) {
	let _ = from.set_read_timeout(Some(Duration::from_secs(1)));
	// A reader that stops reading must not hold the writer for ever either.
	let _ = to.set_write_timeout(Some(IDLE_WITHIN));
	let mut buffer = vec![0u8; 64 << 10];
	loop {
		match from.read(&mut buffer) {
			Ok(0) => break,
			Ok(read) => {
				activity.touch();
				if to.write_all(&buffer[..read]).is_err() {
					break;
				}
			},
			Err(e)
				if matches!(
					e.kind(),
					std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
				) =>
			{
				if activity.idle() >= IDLE_WITHIN {
					break;
				}
			},
			Err(_) => break,
		}
	}
	let _ = to.shutdown(Shutdown::Write);
	let _ = from.shutdown(Shutdown::Read);
}
