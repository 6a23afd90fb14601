//! The mediasoup worker: one process, one single-threaded event loop, its own
//! sockets and rooms, all packet work. It never imports Python: the PyO3
//! extension re-enters it through [`run_worker`] (see `docs/architecture.md`).
//!
//! A folder per layer, each sans-IO in str0m's style except the shell:
//!
//! - [`channel`]: the frames and messages between the extension and a worker;
//! - [`shell`]: the event loop, sockets and batched I/O, the only code that
//!   reads a clock or a socket;
//! - [`worker`]: the [`worker::Worker`] state machine: requests, the objects
//!   and their cascading closes, datagrams to transports, timers, output;
//! - [`room`]: rooms, peers and what a peer can receive;
//! - [`router`]: what is forwarded where: receivers, senders, rewriting;
//! - [`transport`]: the kinds of transport (WebRTC today) behind one interface;
//! - [`rtp`]: capabilities, parameters, codec tables, stream statistics;
//! - [`sctp`]: data channels' options and limits, apart from any transport.
//!
//! For tests and the fuzz crate (`fuzz/`, feature `fuzzing`) only: `testing`
//! (a worker on a fake network, a str0m client of it) and `fuzzing` (a fuzz
//! target per parser fed from outside).

pub mod channel;
pub mod error;
pub mod room;
pub mod router;
pub mod rtp;
pub mod sctp;
pub mod shell;
pub mod transport;
pub mod worker;

pub use shell::event_loop::run_worker;

#[cfg(test)]
#[path = "layers_tests.rs"]
mod layers_tests;
#[cfg(any(test, feature = "fuzzing"))]
pub mod testing;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
