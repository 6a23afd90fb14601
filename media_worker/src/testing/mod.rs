//! What the unit tests and the fuzz targets ([`crate::fuzzing`]) share: a
//! worker on a fake network, a str0m client that connects to it through
//! memory, and seeded noise. Compiled for tests and with the `fuzzing`
//! feature only.

pub mod client;
pub mod noise;
pub mod worker;

pub use client::{binding_request, client_of, dtls_certificate, remote_dtls_parameters};
pub use noise::Noise;
pub use worker::{ready_worker, ready_worker_with, settings, FakeNetwork};
