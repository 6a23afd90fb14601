//! RTP as the API describes it, with no state of a call: the codecs and
//! header extensions a room offers ([`capabilities`]), what a publisher sends
//! with ([`parameters`]), what the router reads of a packet ([`packet`]) and
//! of a video payload ([`codecs`]), a
//! transport's payload-type and extension tables
//! ([`codec_table`]), stream ids in packets ([`stream_ids`]), RTP and RTCP
//! as bytes for transports without str0m ([`wire`], [`rtcp`]) and the
//! statistics of a stream ([`stats`]).

pub mod capabilities;
pub mod codecs;
pub mod codec_table;
pub mod packet;
pub mod rtcp;
pub mod parameters;
pub mod stats;
pub mod stream_ids;
pub mod wire;
