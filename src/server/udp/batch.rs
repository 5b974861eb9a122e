//! Batched datagram I/O: one `recvmmsg` takes every query the kernel has queued (up to
//! [`BATCH`]), one `sendmmsg` hands back every answer made of them.
//!
//! At saturation the per-packet syscall (entry, file lookup, socket lock, tokio's readiness
//! bookkeeping) cost as much as the decision itself; a batch pays it once for up to
//! [`BATCH`] datagrams. Under light load a batch is one datagram and nothing waits for it to
//! fill: `recvmmsg` is called non-blocking, once the socket is readable.
//!
//! The buffers are allocated once per socket and reused, so nothing here allocates per query.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per call: enough to amortise the syscall, small enough that the first answer
/// of a batch does not wait long for the last query's decision.
pub const BATCH: usize = 32;

/// Largest datagram we read: EDNS payloads above this are not accepted anyway.
pub const MAX_DATAGRAM: usize = 4096;

/// The receive side: [`BATCH`] buffers of [`MAX_DATAGRAM`] bytes and their sources.
pub struct Inbound {
    buf: Box<[u8]>,
    names: Box<[libc::sockaddr_storage]>,
    lens: [usize; BATCH],
    count: usize,
}

impl Inbound {
    pub fn new() -> Inbound {
        Inbound {
            buf: vec![0; BATCH * MAX_DATAGRAM].into_boxed_slice(),
            // SAFETY: an all-zero sockaddr_storage is a valid (unspecified) address.
            names: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            lens: [0; BATCH],
            count: 0,
        }
    }

    /// Reads the datagrams queued on `fd`, without blocking: `WouldBlock` when there are none.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        // SAFETY: zeroed iovec and mmsghdr are valid values; every pointer set below points
        // into `self.buf` and `self.names`, which outlive the call and are not moved by it,
        // and every length matches the memory it describes.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        let slots = self.buf.chunks_exact_mut(MAX_DATAGRAM);
        for (((iov, header), slot), name) in iovs
            .iter_mut()
            .zip(headers.iter_mut())
            .zip(slots)
            .zip(self.names.iter_mut())
        {
            iov.iov_base = slot.as_mut_ptr().cast();
            iov.iov_len = MAX_DATAGRAM;
            header.msg_hdr.msg_name = std::ptr::from_mut(name).cast();
            header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: see above; the kernel writes at most the lengths given.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        self.count = n as usize;
        for (len, header) in self.lens.iter_mut().zip(&headers).take(self.count) {
            *len = header.msg_len as usize;
        }
        Ok(self.count)
    }

    /// The datagrams the last [`recv`](Self::recv) read, with their sources (a source that is
    /// neither IPv4 nor IPv6 is skipped).
    pub fn datagrams(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> {
        let slots = self.buf.chunks_exact(MAX_DATAGRAM);
        slots
            .zip(&self.lens)
            .zip(self.names.iter())
            .take(self.count)
            .filter_map(|((slot, &len), name)| Some((&slot[..len], from_storage(name)?)))
    }
}

/// The send side: answers queued while a batch is decided, sent by [`send`](Self::send).
#[derive(Default)]
pub struct Outbound {
    queued: Vec<(Vec<u8>, SocketAddr)>,
}

impl Outbound {
    pub fn push(&mut self, bytes: Vec<u8>, to: SocketAddr) {
        self.queued.push((bytes, to));
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Sends what the socket takes now, from the front; what it did not take stays queued.
    /// An error other than `WouldBlock` belongs to the first queued answer, which is dropped
    /// (an unreachable client must not hold up the others).
    pub fn send(&mut self, fd: RawFd) -> io::Result<usize> {
        let count = self.queued.len().min(BATCH);
        // SAFETY: as in `Inbound::recv`: zeroed values are valid, and every pointer points
        // into `self.queued` or the local arrays, all alive and unmoved during the call.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (i, (bytes, to)) in self.queued.iter().take(count).enumerate() {
            iovs[i].iov_base = bytes.as_ptr().cast_mut().cast();
            iovs[i].iov_len = bytes.len();
            let header = &mut headers[i].msg_hdr;
            header.msg_namelen = to_storage(*to, &mut names[i]);
            header.msg_name = std::ptr::from_mut(&mut names[i]).cast();
            header.msg_iov = &mut iovs[i];
            header.msg_iovlen = 1;
        }
        // SAFETY: see above; the kernel only reads the memory described.
        let n = unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), count as libc::c_uint, 0) };
        if n < 0 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::WouldBlock {
                self.queued.remove(0);
            }
            return Err(error);
        }
        self.queued.drain(..n as usize);
        Ok(n as usize)
    }
}

fn from_storage(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and storage is large
            // and aligned enough for any address type.
            let v4 = unsafe { &*std::ptr::from_ref(name).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(v4.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe { &*std::ptr::from_ref(name).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddrV6::new(ip, port, v6.sin6_flowinfo, v6.sin6_scope_id).into())
        }
        _ => None,
    }
}

/// Writes `addr` into `storage`, returning its length.
fn to_storage(addr: SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: storage is large and aligned enough for a sockaddr_in.
            let out = unsafe { &mut *std::ptr::from_mut(storage).cast::<libc::sockaddr_in>() };
            out.sin_family = libc::AF_INET as libc::sa_family_t;
            out.sin_port = v4.port().to_be();
            out.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let out = unsafe { &mut *std::ptr::from_mut(storage).cast::<libc::sockaddr_in6>() };
            out.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            out.sin6_port = v6.port().to_be();
            out.sin6_addr.s6_addr = v6.ip().octets();
            out.sin6_flowinfo = v6.flowinfo();
            out.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_the_kernel_form() {
        for addr in [
            "127.0.0.1:53".parse().unwrap(),
            "[::1]:5353".parse().unwrap(),
            "[fe80::1%2]:853".parse::<SocketAddr>().unwrap(),
        ] {
            // SAFETY: an all-zero sockaddr_storage is valid.
            let mut storage = unsafe { zeroed() };
            to_storage(addr, &mut storage);
            assert_eq!(from_storage(&storage), Some(addr));
        }
    }

    #[test]
    fn a_batch_is_read_and_answered_in_one_call_each() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&server);
        let mut inbound = Inbound::new();
        let error = inbound.recv(fd).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
        for i in 0..BATCH + 3 {
            client
                .send_to(&[i as u8; 20], server.local_addr().unwrap())
                .unwrap();
        }
        // Loopback delivery is synchronous: all are queued once send_to returns.
        assert_eq!(inbound.recv(fd).unwrap(), BATCH);
        let mut outbound = Outbound::default();
        for (i, (datagram, from)) in inbound.datagrams().enumerate() {
            assert_eq!(datagram, &[i as u8; 20]);
            assert_eq!(from, client.local_addr().unwrap());
            outbound.push(datagram.to_vec(), from);
        }
        assert_eq!(inbound.recv(fd).unwrap(), 3);
        assert_eq!(outbound.send(fd).unwrap(), BATCH);
        assert!(outbound.is_empty());
        let mut buf = [0u8; 64];
        for i in 0..BATCH {
            let (len, _) = client.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..len], &[i as u8; 20]);
        }
    }
}
