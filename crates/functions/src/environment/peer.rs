//! Which process is on the other end of a loopback connection. Each execution environment
//! gets a Runtime API listener of its own on a loopback port that only it is told
//! (`AWS_LAMBDA_RUNTIME_API`); the port alone is no secret (loopback ports can be scanned), so
//! a connection is served only if the socket that made it belongs to a process of that
//! environment's process group — found through the kernel's socket table (the socket's inode:
//! [`super::sock_diag`], or `/proc/net/tcp` where netlink is refused) and the group's open
//! descriptors. One function therefore cannot fetch or answer another's
//! invocations. (A process that leaves its group — `setsid` — loses its Runtime API too.)

use std::net::{SocketAddr, SocketAddrV4};

/// Whether the client socket `peer` connected to our `local` listener is held open by a
/// process whose process group is `pgid`.
pub fn held_by_group(peer: SocketAddr, local: SocketAddr, pgid: i32) -> bool {
    let (SocketAddr::V4(peer), SocketAddr::V4(local)) = (peer, local) else {
        return false;
    };
    let Some(inode) = socket_inode(peer, local) else {
        return false;
    };
    group_holds_socket(pgid, inode)
}

/// `/proc/net/tcp`'s spelling of an IPv4 address and port: the address as the kernel's
/// little-endian u32 in hex, the port in hex.
fn proc_addr(addr: SocketAddrV4) -> String {
    format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(addr.ip().octets()),
        addr.port()
    )
}

/// The inode of the socket whose local end is `peer` and remote end `local`.
fn socket_inode(peer: SocketAddrV4, local: SocketAddrV4) -> Option<u64> {
    match super::sock_diag::tcp_inode(peer, local) {
        Ok(found) => found,
        Err(_) => socket_inode_from_proc(peer, local),
    }
}

/// [`socket_inode`] from `/proc/net/tcp`: the whole table, read and searched.
fn socket_inode_from_proc(peer: SocketAddrV4, local: SocketAddrV4) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let (want_local, want_remote) = (proc_addr(peer), proc_addr(local));
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() > 9 && fields[1] == want_local && fields[2] == want_remote {
            fields[9].parse().ok().filter(|inode| *inode != 0)
        } else {
            None
        }
    })
}

/// The process group of `pid`, from `/proc/<pid>/stat` (after the command name, which may
/// hold spaces and parentheses: state, ppid, pgrp).
fn process_group(pid: &str) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2)?.parse().ok()
}

fn group_holds_socket(pgid: i32, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    // The runtime leads its group and the group's processes are its descendants: they are
    // looked at first (a few /proc reads). Every process of the host only when none of them
    // holds the socket (a member whose parent exited and left it to init, or a stranger).
    if let Ok(leader) = u32::try_from(pgid) {
        if super::memory::tree(leader)
            .into_iter()
            .any(|pid| holds(&pid.to_string(), pgid, &want))
        {
            return true;
        }
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|entry| {
        let name = entry.file_name();
        name.to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .is_some_and(|pid| holds(pid, pgid, &want))
    })
}

/// Whether process `pid` is in group `pgid` and has the socket `want` open.
fn holds(pid: &str, pgid: i32, want: &str) -> bool {
    if process_group(pid) != Some(pgid) {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_addresses_as_proc_does() {
        let a: SocketAddrV4 = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(proc_addr(a), "0100007F:1F90");
    }

    #[test]
    fn finds_our_own_connection_and_refuses_other_groups() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_server_side, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        // SAFETY: getpgrp has no preconditions.
        let ours = unsafe { libc::getpgrp() };
        assert!(held_by_group(peer, local, ours));
        assert!(!held_by_group(peer, local, ours + 100_000));
    }

    #[test]
    fn finds_a_socket_held_by_a_group_leader_of_its_own() {
        use std::os::unix::process::CommandExt;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_server_side, peer) = listener.accept().unwrap();
        // The connection's socket is the child's standard input, the child leads a new group.
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                client.try_clone().unwrap(),
            )))
            .process_group(0)
            .spawn()
            .unwrap();
        let group = i32::try_from(child.id()).unwrap();
        assert!(held_by_group(peer, local, group));
        // SAFETY: getpgrp has no preconditions.
        let ours = unsafe { libc::getpgrp() };
        child.kill().unwrap();
        child.wait().unwrap();
        drop(client);
        assert!(!held_by_group(peer, local, group));
        assert_ne!(ours, group);
    }

    #[test]
    fn the_kernel_and_proc_name_the_same_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(local) = listener.local_addr().unwrap() else {
            unreachable!("bound to IPv4")
        };
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_server_side, SocketAddr::V4(peer)) = listener.accept().unwrap() else {
            unreachable!("an IPv4 peer")
        };
        let from_proc = socket_inode_from_proc(peer, local);
        assert!(from_proc.is_some());
        assert_eq!(socket_inode(peer, local), from_proc);
        drop(client);
    }
}
