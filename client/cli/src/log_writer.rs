//! Log output with control characters escaped, so text from a job, a peer or a chain
//! event in a log line cannot move the cursor, recolour or rewrite the operator's
//! terminal (RUSTSEC-2025-0055: the tracing-subscriber release that escapes them
//! itself cannot be used, as the node's polkadot-sdk crates pin 0.3.19).

use std::io::{self, Write};

/// Writes through to `W`, with every C0 and C1 control character but newline and tab
/// written as `\xNN` (`\u{NN}` for C1).
pub struct Escaped<W>(pub W);

impl<W: Write> Write for Escaped<W> {
	fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
		self.0.write_all(&escape(buffer))?;
		Ok(buffer.len())
	}

	fn flush(&mut self) -> io::Result<()> {
		self.0.flush()
	}
}

fn escape(buffer: &[u8]) -> Vec<u8> {
	let mut out = Vec::with_capacity(buffer.len());
	let mut bytes = buffer.iter().copied().peekable();
	while let Some(byte) = bytes.next() {
		match byte {
			b'\n' | b'\t' => out.push(byte),
			0x00..=0x1f | 0x7f => out.extend_from_slice(format!("\\x{byte:02x}").as_bytes()),
			// U+0080..U+009F in UTF-8: C1 controls (0x9b starts a sequence on some terminals).
			0xc2 if bytes.peek().is_some_and(|next| (0x80..=0x9f).contains(next)) => {
				let next = bytes.next().unwrap_or_default();
				out.extend_from_slice(format!("\\u{{{next:02x}}}").as_bytes());
			},
			_ => out.push(byte),
		}
	}
	out
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn control_characters_are_shown_not_obeyed() {
		assert_eq!(escape(b"job said \x1b[2J\rhi\tthere\n"), b"job said \\x1b[2J\\x0dhi\tthere\n");
		assert_eq!(escape("csi \u{9b}31m é".as_bytes()), "csi \\u{9b}31m é".as_bytes());
	}
}
