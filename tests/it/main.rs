//! The end-to-end suite, one binary so it builds and links once: flows through the real
//! binary, real folders, real SQLite and PostgreSQL databases, real HTTP and the browser.

#![allow(dead_code)]

mod support;

mod auth;
mod browser;
mod cli;
mod clock;
mod connectors;
mod corrections;
mod daemon;
mod dashboard;
mod deadlines;
mod delivery;
mod demo;
mod edge;
mod feeds;
mod ingest;
mod instances;
mod lists;
mod objections;
mod openapi;
mod publicity;
mod sandbox_departments;
mod scale;
mod service;
mod subjects;
mod supervisor;
mod tidy;
mod validation;
mod web;
