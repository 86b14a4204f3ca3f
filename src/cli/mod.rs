//! The `credit-gateway` command's subcommands, one module each, and what they share.

pub mod bench;
