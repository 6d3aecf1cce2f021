//! The one integration-test binary: each module is one capability, tested black-box over
//! HTTP on both backends (see `common`). One binary links once instead of once per file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::as_conversions
)]

// First, so that `both_backends!` is in scope in every module below.
#[macro_use]
mod common;

mod accounts;
mod at_rest;
mod browser;
mod browser_console;
mod browser_portal;
mod browser_scanner;
mod console;
mod console_records;
mod devices;
mod edges;
mod exports;
mod floor_plan;
mod foundation;
mod fuzz_regressions;
mod gate_property;
mod hostile_input;
mod import_chunks;
mod incidents;
mod instances;
mod mail;
mod mail_participants;
mod metrics;
mod openapi;
mod planner;
mod portal;
mod public_pages;
mod references;
mod registration;
mod retention;
mod rights;
mod scan_notes;
mod scans;
mod schema;
mod staff_reads;
mod throttle;
mod tls;
mod transactions;
mod vocabularies;
