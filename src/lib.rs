//! credit-gateway: moves public credit information (公共信用信息) from departments to the
//! credit platforms above them. See ARCHITECTURE.md for the map of this crate.

pub mod calendar;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod connector;
pub mod credit_figures;
pub mod credit_file;
pub mod daemon;
pub mod deadline;
pub mod delivery;
pub mod department;
pub mod early_end;
pub mod error_report;
pub mod feed;
pub mod format;
#[cfg(test)]
mod fuzz;
pub mod glossary;
pub mod grade;
pub mod grading;
pub mod http_client;
pub mod ids;
pub mod ingest;
pub mod iso_date;
pub mod issues;
pub mod ledger;
pub mod mapping;
pub mod objection;
pub mod problem;
pub mod publicity;
pub mod publicity_view;
pub mod record;
pub mod report;
pub mod secret;
pub mod sector;
pub mod service;
pub mod sim;
pub mod store;
pub mod subject;
pub mod subject_library;
pub mod supervisor;
pub mod transform;
pub mod web;
