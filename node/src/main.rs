//! The Modicum node: a Substrate solo chain hosting the MODiCuM compute market.

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
