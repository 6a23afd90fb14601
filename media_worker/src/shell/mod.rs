//! The shell around the sans-IO worker: the only code that reads a clock or
//! a socket. [`event_loop`] runs one mio loop over the Channel, the media
//! path to Python ([`media_path`]), the media sockets and the timers;
//! [`sockets`] opens ports and frames TCP; [`batch`] reads and writes UDP
//! many datagrams per system call; [`process`] reads the process's CPU time
//! and memory for the metrics; [`channel_outbox`] holds, bounded, what
//! Python has not read yet.

pub mod batch;
pub mod channel_outbox;
pub mod event_loop;
pub mod media_path;
pub mod process;
pub mod sockets;
