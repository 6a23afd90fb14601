//! The demux's rules on sockets of their own and on shared ones: binding
//! requests by username fragment, tuples learnt from answers, their bound,
//! ICE restarts and closed transports.

use super::*;
use crate::testing::binding_request;
use str0m::ice::TransId;

fn address(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn socket(protocol: Protocol, port: u16) -> BoundSocket {
    BoundSocket { protocol, address: address(port), announced_ip: None }
}

const RTP: [u8; 12] = [0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
const SHARED_PORT: u16 = 40000;

fn shared_demux() -> Demux {
    let mut demux = Demux::default();
    demux.add_shared(vec![socket(Protocol::Udp, SHARED_PORT), socket(Protocol::Tcp, SHARED_PORT)]);
    demux.add(1, demux.shared().to_vec().as_slice(), Some("ufragone"));
    demux.add(2, demux.shared().to_vec().as_slice(), Some("ufragtwo"));
    demux
}

#[test]
fn a_binding_request_names_its_local_ufrag_and_nothing_else_does() {
    assert_eq!(binding_request_ufrag(&binding_request("server:client")), Some("server"));
    assert_eq!(binding_request_ufrag(&binding_request("nocolon")), None);
    assert_eq!(binding_request_ufrag(&RTP), None);
    assert_eq!(binding_request_ufrag(&[]), None);
    assert_eq!(binding_request_ufrag(&[0, 1, 0]), None);
    // A binding response is not a request.
    let reply = StunMessage::binding_reply(TransId::new(), address(1));
    let mut buffer = vec![0u8; 512];
    let length = reply.to_bytes(None, &mut buffer, |_, _| [0u8; 20]).unwrap();
    assert_eq!(binding_request_ufrag(&buffer[..length]), None);
}

#[test]
fn sockets_of_their_own_name_their_transport_whatever_arrives() {
    let mut demux = Demux::default();
    demux.add(5, &[socket(Protocol::Udp, 41000), socket(Protocol::Tcp, 41000)], Some("ufrag"));
    assert_eq!(demux.route(Protocol::Udp, address(9), address(41000), &RTP), Some(5));
    assert_eq!(demux.route(Protocol::Tcp, address(9), address(41000), &RTP), Some(5));
    assert_eq!(demux.route(Protocol::Udp, address(9), address(41001), &RTP), None);
    demux.remove(5);
    assert_eq!(demux.route(Protocol::Udp, address(9), address(41000), &RTP), None);
}

#[test]
fn on_a_shared_port_a_new_tuple_gets_only_binding_requests_through_until_its_transport_answers() {
    let mut demux = shared_demux();
    let client = address(50000);
    let local = address(SHARED_PORT);
    assert_eq!(demux.route(Protocol::Udp, client, local, &RTP), None);
    assert_eq!(demux.route(Protocol::Udp, client, local, &binding_request("ufragtwo:c")), Some(2));
    assert_eq!(demux.route(Protocol::Udp, client, local, &binding_request("unknown:c")), None);
    // The transport answered from the shared socket: the tuple is its own.
    demux.learn(2, Protocol::Udp, local, client);
    assert_eq!(demux.route(Protocol::Udp, client, local, &RTP), Some(2));
    // The same remote over TCP is another tuple.
    assert_eq!(demux.route(Protocol::Tcp, client, local, &RTP), None);
    demux.learn(1, Protocol::Tcp, local, client);
    assert_eq!(demux.route(Protocol::Tcp, client, local, &RTP), Some(1));
    assert_eq!(demux.tuple_count(), 2);
}

#[test]
fn closing_a_transport_frees_its_tuples_and_ufrag_and_leaves_the_others() {
    let mut demux = shared_demux();
    let local = address(SHARED_PORT);
    demux.learn(1, Protocol::Udp, local, address(50001));
    demux.learn(2, Protocol::Udp, local, address(50002));
    demux.remove(1);
    assert_eq!(demux.route(Protocol::Udp, address(50001), local, &RTP), None);
    assert_eq!(demux.route(Protocol::Udp, address(50001), local, &binding_request("ufragone:c")), None);
    assert_eq!(demux.route(Protocol::Udp, address(50002), local, &RTP), Some(2));
    assert_eq!(demux.tuple_count(), 1);
    // The shared sockets stay for the transports to come.
    demux.add(3, demux.shared().to_vec().as_slice(), Some("ufragthree"));
    assert_eq!(demux.route(Protocol::Udp, address(50003), local, &binding_request("ufragthree:c")), Some(3));
}

#[test]
fn an_ice_restart_moves_the_ufrag_and_keeps_the_tuple() {
    let mut demux = shared_demux();
    let (client, local) = (address(50000), address(SHARED_PORT));
    demux.learn(1, Protocol::Udp, local, client);
    demux.set_ufrag(1, "ufragnew");
    assert_eq!(demux.route(Protocol::Udp, address(50009), local, &binding_request("ufragone:c")), None);
    assert_eq!(demux.route(Protocol::Udp, address(50009), local, &binding_request("ufragnew:c")), Some(1));
    assert_eq!(demux.route(Protocol::Udp, client, local, &RTP), Some(1));
}

#[test]
fn a_tuple_another_transport_answers_from_becomes_its_own() {
    let mut demux = shared_demux();
    let (client, local) = (address(50000), address(SHARED_PORT));
    demux.learn(1, Protocol::Udp, local, client);
    // A binding request from it goes by the ufrag it names, not by the tuple.
    assert_eq!(demux.route(Protocol::Udp, client, local, &binding_request("ufragtwo:c")), Some(2));
    assert_eq!(demux.route(Protocol::Udp, client, local, &RTP), Some(1));
    demux.learn(2, Protocol::Udp, local, client);
    assert_eq!(demux.route(Protocol::Udp, client, local, &RTP), Some(2));
    // The first transport's closing does not take the tuple from the second.
    demux.remove(1);
    assert_eq!(demux.route(Protocol::Udp, client, local, &RTP), Some(2));
}

#[test]
fn a_transport_keeps_at_most_its_newest_tuples() {
    let mut demux = shared_demux();
    let local = address(SHARED_PORT);
    let count = MAX_TUPLES_PER_TRANSPORT as u16 + 10;
    for port in 0..count {
        demux.learn(1, Protocol::Udp, local, address(50000 + port));
    }
    assert_eq!(demux.tuple_count(), MAX_TUPLES_PER_TRANSPORT);
    assert_eq!(demux.route(Protocol::Udp, address(50000), local, &RTP), None);
    assert_eq!(demux.route(Protocol::Udp, address(50000 + count - 1), local, &RTP), Some(1));
    // Learning a tuple again does not count it twice.
    demux.learn(1, Protocol::Udp, local, address(50000 + count - 1));
    assert_eq!(demux.tuple_count(), MAX_TUPLES_PER_TRANSPORT);
}

#[test]
fn what_a_transport_sends_from_a_socket_of_its_own_teaches_nothing() {
    let mut demux = Demux::default();
    demux.add(5, &[socket(Protocol::Udp, 41000)], Some("ufrag"));
    demux.learn(5, Protocol::Udp, address(41000), address(50000));
    assert_eq!(demux.tuple_count(), 0);
}
