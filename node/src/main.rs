//! The Modicum node: a Substrate solo chain hosting the MODiCuM compute market.

// sc-cli's and sc-service's APIs fix our error types to their (large) `Error`s.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
