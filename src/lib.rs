//! familydns: a family content-filtering DNS resolver.
//!
//! The crate is split into a pure core (names, lists, filter, policy, clients, snapshot)
//! that decides, and thin I/O edges (server, upstream, metrics, app) that move packets.

pub mod admin;
pub mod app;
mod atomic_file;
mod attempts;
pub mod budget;
pub mod check;
pub mod clients;
pub mod complaint_api;
pub mod complaints;
pub mod config;
pub mod directory;
pub mod dnstap;
pub mod download;
pub mod exchange;
pub mod filter;
pub mod help;
pub mod lists;
pub mod metrics;
pub mod name;
pub mod notices;
pub mod overrides;
pub mod policy;
mod priority;
pub mod querylog;
pub mod reload;
mod secret;
pub mod server;
pub mod snapshot;
pub mod sqlite;
pub mod trends;
pub mod upstream;
pub mod web;
