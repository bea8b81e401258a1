//! One TCP socket's inode, asked of the kernel by its address pair over netlink's sock_diag
//! (`SOCK_DIAG_BY_FAMILY` without `NLM_F_DUMP`: one hash lookup), for [`super::peer`]. Reading
//! `/proc/net/tcp` instead walks every bucket of the host's TCP hash tables and prints every
//! socket, TIME_WAIT ones included: milliseconds of kernel time on a busy host, paid on every
//! Runtime API connection (runtimes such as AWS's `lambda_runtime` open one per invocation).

use std::net::SocketAddrV4;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `INET_DIAG_NOCOOKIE`: match the socket whatever its cookie.
const NO_COOKIE: u32 = u32::MAX;
/// `struct nlmsghdr`.
const HEADER: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, extensions, pad, states, `inet_diag_sockid`.
const REQUEST: usize = 56;
/// Offset of `idiag_inode` in `struct inet_diag_msg` (after family, state, timer, retrans,
/// the 48-byte socket id, expires, rqueue, wqueue and uid).
const INODE_AT: usize = 68;
/// An arbitrary sequence number, echoed by the kernel.
const SEQUENCE: u32 = 0x5241_4d50;

/// Why the kernel could not be asked (the caller falls back to `/proc/net/tcp`).
#[derive(Debug)]
pub struct Unavailable;

/// The inode of the IPv4 TCP socket whose own end is `local_end` and whose other end is
/// `remote_end`, if the host has one: `Ok(None)` when it has none (or it has no inode any
/// more), `Err` when netlink cannot be used here.
pub fn tcp_inode(
    local_end: SocketAddrV4,
    remote_end: SocketAddrV4,
) -> Result<Option<u64>, Unavailable> {
    // SAFETY: socket() takes no pointers; the descriptor is owned from here on.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(Unavailable);
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let request = request(local_end, remote_end);
    // SAFETY: the pointer and length describe `request`, alive for the call.
    let sent = unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
    if usize::try_from(sent).ok() != Some(request.len()) {
        return Err(Unavailable);
    }
    let mut answer = [0u8; 512];
    // SAFETY: the pointer and length describe `answer`, alive for the call.
    let got = unsafe { libc::recv(fd.as_raw_fd(), answer.as_mut_ptr().cast(), answer.len(), 0) };
    let Ok(got) = usize::try_from(got) else {
        return Err(Unavailable);
    };
    Ok(inode_in(&answer[..got]))
}

/// The request: an `nlmsghdr` and an `inet_diag_req_v2` naming one socket exactly.
fn request(local_end: SocketAddrV4, remote_end: SocketAddrV4) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER + REQUEST);
    m.extend_from_slice(&((HEADER + REQUEST) as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    m.extend_from_slice(&SEQUENCE.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // to the kernel
    m.extend_from_slice(&[libc::AF_INET as u8, libc::IPPROTO_TCP as u8, 0, 0]);
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // any state
    m.extend_from_slice(&socket_id(local_end, remote_end));
    m
}

/// `struct inet_diag_sockid` of the socket (ports and addresses in network order).
fn socket_id(local_end: SocketAddrV4, remote_end: SocketAddrV4) -> [u8; 48] {
    let mut id = [0u8; 48];
    id[0..2].copy_from_slice(&local_end.port().to_be_bytes());
    id[2..4].copy_from_slice(&remote_end.port().to_be_bytes());
    id[4..8].copy_from_slice(&local_end.ip().octets());
    id[20..24].copy_from_slice(&remote_end.ip().octets());
    // idiag_if 0: any interface.
    id[40..44].copy_from_slice(&NO_COOKIE.to_ne_bytes());
    id[44..48].copy_from_slice(&NO_COOKIE.to_ne_bytes());
    id
}

/// The inode in the kernel's answer, if it is a socket (an `NLMSG_ERROR` — no such socket —
/// or anything malformed is none).
fn inode_in(answer: &[u8]) -> Option<u64> {
    let u16_at = |at: usize| {
        answer
            .get(at..at + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        answer
            .get(at..at + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let length = usize::try_from(u32_at(0)?).ok()?;
    if u16_at(4)? != SOCK_DIAG_BY_FAMILY || u32_at(8)? != SEQUENCE || length > answer.len() {
        return None;
    }
    u32_at(HEADER + INODE_AT)
        .filter(|_| length >= HEADER + INODE_AT + 4)
        .map(u64::from)
        .filter(|inode| *inode != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(addr: std::net::SocketAddr) -> SocketAddrV4 {
        match addr {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("not IPv4: {other}"),
        }
    }

    /// The inode of one of our own sockets, from our descriptor table.
    fn inode_of(stream: &std::net::TcpStream) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/fd/{}", stream.as_raw_fd())).unwrap();
        let text = link.to_string_lossy();
        text.trim_start_matches("socket:[")
            .trim_end_matches(']')
            .parse()
            .unwrap()
    }

    #[test]
    fn finds_a_connection_by_its_two_ends_and_nothing_else() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server_end = v4(listener.local_addr().unwrap());
        let client = std::net::TcpStream::connect(server_end).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let client_end = v4(client.local_addr().unwrap());
        let Ok(found) = tcp_inode(client_end, server_end) else {
            eprintln!("netlink sock_diag is not available here");
            return;
        };
        assert_eq!(found, Some(inode_of(&client)));
        // The other end of the same connection is another socket.
        assert_eq!(
            tcp_inode(server_end, client_end).unwrap(),
            Some(inode_of(&accepted))
        );
        // No socket has these ends.
        let elsewhere =
            SocketAddrV4::new(*client_end.ip(), client_end.port().wrapping_add(1).max(1));
        assert_eq!(tcp_inode(elsewhere, server_end).unwrap(), None);
    }

    #[test]
    fn a_malformed_or_foreign_answer_names_no_inode() {
        assert_eq!(inode_in(&[]), None);
        let mut error = vec![0u8; 36];
        error[0..4].copy_from_slice(&36u32.to_ne_bytes());
        error[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        error[8..12].copy_from_slice(&SEQUENCE.to_ne_bytes());
        assert_eq!(inode_in(&error), None);
        let mut short = vec![0u8; HEADER + 8];
        short[0..4].copy_from_slice(&((HEADER + 8) as u32).to_ne_bytes());
        short[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        short[8..12].copy_from_slice(&SEQUENCE.to_ne_bytes());
        assert_eq!(inode_in(&short), None);
    }
}
