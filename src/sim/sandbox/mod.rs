//! Sandboxes: stand-ins for the systems around the gateway, so it runs out of the box, in
//! tests and in demos, without a real department or platform.
//!
//! - [`departments`]: the department sources the shipped connectors pull from: the tax
//!   system's JSON API, the court's XML API and the utilities' database table, with
//!   deterministic, realistic records that keep arriving as time passes.

pub mod departments;
pub mod platforms;
pub mod serve;
