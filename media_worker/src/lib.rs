//! The mediasoup worker: one process, one single-threaded event loop, its own
//! sockets and rooms, all packet work. It never imports Python: the PyO3
//! extension re-enters it through [`run_worker`] (see `docs/architecture.md`).
//!
//! The logic is sans-IO in str0m's style: [`worker::Worker`] is a state machine
//! fed Channel requests and times; [`run`] is the thin shell that owns the
//! Channel socket (and, as transports arrive, the media sockets and timers).

pub mod batch;
pub mod channel;
pub mod codec_table;
pub mod crypto;
pub mod error;
pub mod logging;
pub mod peer;
pub mod peer_capabilities;
pub mod room;
pub mod rtp_capabilities;
pub mod rtp_parameters;
pub mod rtp_receiver;
pub mod rtp_sender;
pub mod rtp_stats;
pub mod rtp_stream_ids;
pub mod run;
pub mod settings;
pub mod sockets;
pub mod transport;
pub mod worker;

pub use run::run_worker;
