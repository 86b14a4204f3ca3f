//! Simulation tooling, apart from the product: generated department files ([`sample`], and
//! the market regulator's list exports in [`lists`]),
//! stand-ins for the departments and platforms around the gateway ([`sandbox`]) and the
//! `demo` that runs them together ([`demo`]), all from one source of fake people, firms and
//! identifiers ([`fake`]). `run` never uses any of it.

pub mod demo;
pub mod fake;
pub mod lists;
pub mod sample;
pub mod sandbox;
