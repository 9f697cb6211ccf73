//! What can go wrong talking to the chain, in terms a user can act on.

/// A failure of the client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
	/// The node could not be reached.
	#[error("cannot reach the node at {url}: {reason} (is `modicum-node` running? see README)")]
	Connect {
		/// The node's address.
		url: String,
		/// Why.
		reason: String,
	},
	/// The chain refused a transaction with a pallet error.
	#[error("the chain refused {call}: {pallet}::{error}{}", if .docs.is_empty() { String::new() } else { format!(" ({})", .docs) })]
	Refused {
		/// The call that failed.
		call: String,
		/// The pallet that refused.
		pallet: String,
		/// The error's name.
		error: String,
		/// The error's documentation.
		docs: String,
	},
	/// A transaction failed for a reason other than a pallet error (fees, nonce…).
	#[error("{call} failed: {reason}")]
	Transaction {
		/// The call that failed.
		call: String,
		/// Why.
		reason: String,
	},
	/// Reading the chain failed.
	#[error("reading {what} from the chain failed: {reason}")]
	Read {
		/// What was being read.
		what: String,
		/// Why.
		reason: String,
	},
	/// A runtime API answered with an error.
	#[error("the chain could not quote {what}: {reason}")]
	Quote {
		/// What was being quoted.
		what: String,
		/// The runtime's reason.
		reason: String,
	},
	/// A signing key could not be read.
	#[error("invalid key: {0}")]
	Key(String),
	/// A configuration file could not be read.
	#[error("configuration {path}: {reason}")]
	Config {
		/// The file.
		path: String,
		/// Why.
		reason: String,
	},
	/// Records named in a rejection are not what the chain takes.
	#[error("disputed records: {0}")]
	DisputedRecords(String),
	/// A guarded call was not sent: the match is no longer what its sender saw when
	/// deciding to send it (it closed meanwhile, or a block that showed it was
	/// retracted and the chain now gives the id to another job or state).
	#[error("{call} not sent: match {match_id} is no longer what was seen when deciding to send it (it closed, or the blocks that showed it were retracted)")]
	MatchChanged {
		/// The call that was not sent.
		call: String,
		/// The match.
		match_id: u64,
	},
	/// A reference is longer than the chain stores.
	#[error("reference of {len} bytes is longer than the chain's limit of {max}")]
	ReferenceTooLong {
		/// Its length.
		len: usize,
		/// The limit.
		max: usize,
	},
	/// An amount could not be parsed.
	#[error("invalid amount {input:?}: {reason}")]
	Amount {
		/// What was given.
		input: String,
		/// Why it is invalid.
		reason: String,
	},
	/// A size could not be parsed.
	#[error("invalid size {input:?}: {reason}")]
	Size {
		/// What was given.
		input: String,
		/// Why it is invalid.
		reason: String,
	},
}

impl ClientError {
	/// Whether the chain refused with the given pallet error name.
	pub fn is_refusal(&self, name: &str) -> bool {
		matches!(self, ClientError::Refused { error, .. } if error == name)
	}

	/// Whether trying the same thing again cannot help: the chain refused it (a pallet
	/// error follows from the chain's state, which a retry of the same call does not
	/// change in its favour), or the input itself is bad. Unreachable nodes and
	/// transactions the pool turned away (nonces, fees) are worth a retry.
	pub fn is_final(&self) -> bool {
		match self {
			ClientError::Refused { .. }
			| ClientError::Key(_)
			| ClientError::Config { .. }
			| ClientError::ReferenceTooLong { .. }
			| ClientError::DisputedRecords(_)
			| ClientError::Amount { .. }
			| ClientError::Size { .. }
			| ClientError::MatchChanged { .. } => true,
			ClientError::Connect { .. }
			| ClientError::Transaction { .. }
			| ClientError::Read { .. }
			| ClientError::Quote { .. } => false,
		}
	}
}
