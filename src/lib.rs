//! badgegate: QR attendee badges, partner badge scanning, and release of participants'
//! contact data to partners only where the participant allowed it, with every release
//! written to the disclosure ledger.

pub mod attendees;
pub mod auth;
pub mod badges;
pub mod config;
pub mod consent;
pub mod contact;
pub mod csv_cells;
pub mod datadir;
pub mod db;
pub mod devices;
pub mod error;
pub mod events;
pub mod exports;
pub mod gate;
pub mod http;
pub mod incidents;
pub mod leads;
pub mod ledger;
pub mod mail;
pub mod measure;
pub mod notices;
pub mod paging;
pub mod partners;
pub mod questions;
pub mod retention;
pub mod rights;
pub mod scans;
pub mod security;
pub mod telemetry;
pub mod text;
pub mod web;
