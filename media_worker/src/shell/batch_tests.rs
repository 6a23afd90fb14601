//! Unit tests of `batch.rs`, on real loopback sockets.

use super::*;
use std::time::{Duration, Instant};

fn pair(address: &str) -> (UdpSocket, UdpSocket) {
    let address = address.parse().unwrap();
    (UdpSocket::bind(address).unwrap(), UdpSocket::bind(address).unwrap())
}

/// Reads from `socket` until `count` datagrams arrived (or 2 s passed).
fn receive(socket: &UdpSocket, count: usize) -> Vec<(Vec<u8>, Option<SocketAddr>)> {
    let mut batch = RecvBatch::default();
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while received.len() < count && Instant::now() < deadline {
        match batch.recv(socket) {
            Ok(n) => {
                assert!(n <= BATCH);
                for index in 0..n {
                    received.push(match batch.get(index) {
                        Some((bytes, source)) => (bytes.to_vec(), Some(source)),
                        None => (Vec::new(), None),
                    });
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(1)),
            Err(error) => panic!("{error}"),
        }
    }
    received
}

#[test]
fn a_hundred_datagrams_leave_and_arrive_in_batches_with_their_source() {
    for address in ["127.0.0.1:0", "[::1]:0"] {
        let (sender, receiver) = pair(address);
        let destination = receiver.local_addr().unwrap();
        let payloads: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 1 + usize::from(i) * 13]).collect();
        let datagrams: Vec<(SocketAddr, &[u8])> = payloads.iter().map(|p| (destination, p.as_slice())).collect();
        assert_eq!(SendBatch::default().send(&sender, &datagrams).unwrap(), 100);
        let received = receive(&receiver, 100);
        assert_eq!(received.len(), 100, "{address}");
        for (index, (bytes, source)) in received.iter().enumerate() {
            assert_eq!(bytes, &payloads[index]);
            assert_eq!(*source, Some(sender.local_addr().unwrap()));
        }
    }
}

#[test]
fn a_datagram_too_long_is_reported_without_a_source_and_the_next_ones_still_arrive() {
    let (sender, receiver) = pair("127.0.0.1:0");
    let destination = receiver.local_addr().unwrap();
    let long = vec![1u8; MAX_DATAGRAM + 100];
    sender.send_to(&long, destination).unwrap();
    sender.send_to(b"after", destination).unwrap();
    let received = receive(&receiver, 2);
    assert_eq!(received[0].1, None);
    assert_eq!(received[1], (b"after".to_vec(), Some(sender.local_addr().unwrap())));
}

#[test]
fn one_unsendable_datagram_does_not_stop_the_others() {
    let (sender, receiver) = pair("127.0.0.1:0");
    let destination = receiver.local_addr().unwrap();
    // An IPv6 destination from an IPv4 socket cannot leave.
    let unreachable: SocketAddr = "[::1]:9".parse().unwrap();
    let datagrams: Vec<(SocketAddr, &[u8])> = vec![(destination, b"one"), (unreachable, b"lost"), (destination, b"two")];
    assert_eq!(SendBatch::default().send(&sender, &datagrams).unwrap(), 2);
    let received: Vec<Vec<u8>> = receive(&receiver, 2).into_iter().map(|(bytes, _)| bytes).collect();
    assert_eq!(received, [b"one".to_vec(), b"two".to_vec()]);
}
