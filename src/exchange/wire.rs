//! DNS over TCP framing (RFC 1035 §4.2.2: a two-byte length before each message), with the
//! bounds both our server and our client need: a size cap and a deadline per message.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("no message within {0:?}")]
    Timeout(Duration),
    #[error("a {0}-byte message is larger than the {1} bytes allowed")]
    TooLarge(usize, usize),
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads one message of at most `max` bytes within `limit`; `Closed` when the peer closed
/// between messages.
pub async fn read(
    stream: &mut (impl AsyncRead + Unpin),
    max: usize,
    limit: Duration,
) -> Result<Vec<u8>, FrameError> {
    let read = async {
        let mut len = [0u8; 2];
        match stream.read_exact(&mut len).await {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FrameError::Closed);
            }
            other => other?,
        };
        let len = usize::from(u16::from_be_bytes(len));
        if len > max {
            return Err(FrameError::TooLarge(len, max));
        }
        let mut buf = vec![0u8; len];
        stream.read_exact(&mut buf).await?;
        Ok(buf)
    };
    timeout(limit, read)
        .await
        .unwrap_or(Err(FrameError::Timeout(limit)))
}

/// Writes one message within `limit`.
pub async fn write(
    stream: &mut (impl AsyncWrite + Unpin),
    message: &[u8],
    limit: Duration,
) -> Result<(), FrameError> {
    let len = u16::try_from(message.len())
        .map_err(|_| FrameError::TooLarge(message.len(), usize::from(u16::MAX)))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    timeout(limit, stream.write_all(&framed))
        .await
        .unwrap_or(Err(std::io::ErrorKind::TimedOut.into()))?;
    Ok(())
}
