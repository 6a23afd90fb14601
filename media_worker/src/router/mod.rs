//! What is forwarded where: a room's receivers (the streams its peers
//! publish), its senders (a stream forwarded to one subscriber) and how
//! each packet is rewritten on its way.

pub mod rtp_receiver;
pub mod rtp_sender;
