//! The floor of the CPU-per-query bench: a "DNS server" that does nothing but turn each query
//! into an answer in place (QR set, NXDOMAIN), one `recvmmsg` and one `sendmmsg` per batch of
//! up to 64 datagrams, on one blocking thread. What it costs a query is what the kernel, the
//! loopback path and the wake-ups cost every server; what a real server costs beyond it is its
//! own work. Not a resolver: it answers anything, to anyone, with nothing.
//!
//! `cargo run --release --example floor -- 5390` (listens on 127.0.0.1:5390; see
//! `benches/cpu_per_query.sh`).

use std::mem::{size_of, zeroed};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

const BATCH: usize = 64;
const SIZE: usize = 512;

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: floor PORT"))?;
    let socket = UdpSocket::bind(("127.0.0.1", port))?;
    let fd = socket.as_raw_fd();
    let mut bufs = vec![[0u8; SIZE]; BATCH];
    // SAFETY: all-zero sockaddr_storage, iovec and mmsghdr are valid values.
    let mut names: Vec<libc::sockaddr_storage> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut iovs: Vec<libc::iovec> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    let mut headers: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { zeroed() }).collect();
    loop {
        for (((iov, header), buf), name) in iovs
            .iter_mut()
            .zip(headers.iter_mut())
            .zip(bufs.iter_mut())
            .zip(names.iter_mut())
        {
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = SIZE;
            header.msg_hdr.msg_name = std::ptr::from_mut(name).cast();
            header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every pointer in `headers` points into `bufs`, `iovs` and `names`, which
        // outlive the call, with the lengths of the memory they describe.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        let Ok(n) = usize::try_from(n) else { continue };
        for ((header, iov), buf) in headers
            .iter()
            .zip(iovs.iter_mut())
            .zip(bufs.iter_mut())
            .take(n)
        {
            let len = header.msg_len as usize;
            if len >= 12 {
                buf[2] |= 0x80;
                buf[3] = (buf[3] & 0xf0) | 3;
            }
            iov.iov_len = len;
        }
        // SAFETY: as above; the first `n` headers now describe the answers to send back.
        unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), n as libc::c_uint, 0) };
    }
}
