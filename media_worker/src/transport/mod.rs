//! The kinds of transport a peer connects through. WebRTC ([`webrtc`]:
//! ICE-lite, DTLS, SRTP and SCTP over str0m) is the one there is today.

pub mod webrtc;
