//! Modicum's off-chain actors. Each module has one job:
//!
//! - [`merkle`], [`archive`]: the result commitment (Merkle root) and the result archive.
//! - [`cgroup`], [`docker`], [`executor`]: running a job image in a hardened container
//!   and measuring it; [`job`]: the one pipeline that runs a match's job and decides
//!   its status, and checks posted results, for the RP, the mediator and the JC.
//! - [`directory`]: the OCI registry a directory serves, its uptime record, and the
//!   clients that push images and move result blobs.
//! - [`solver`]: the open-offer book and the minimum-cost maximum matching;
//!   [`matchmaker`]: the solver daemon that feeds it from the chain and posts matches.
//! - [`state`]: what a daemon persists so a restart resumes without double posting;
//!   [`daemon`]: the event, tick and reconnect loop every daemon runs.
//! - [`rp`], [`mediator`]: the daemons' event loops.

pub mod archive;
pub mod cgroup;
pub mod commitment;
pub mod daemon;
pub mod devnet;
pub mod directory;
pub mod docker;
pub mod executor;
pub mod image_cache;
pub mod job;
pub mod leaf_proof;
pub mod matchmaker;
pub mod mediator;
pub mod merkle;
pub mod records;
pub mod rp;
pub mod solver;
pub mod state;
