//! The writer task: connects to the collector, does the Frame Streams handshake, and sends
//! the queued events; on any error it reconnects with a growing pause. The queue is the only
//! thing between the listeners and the network, and it is bounded.

use std::time::Duration;

use prometheus::{IntCounter, IntGauge};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::Event;
use super::fstrm::{self, Control, FrameError};
use crate::config::{DnstapConfig, DnstapTarget};
use crate::metrics::Metrics;

/// Time for a connect, a handshake step or one batch's write: a collector slower than this
/// is treated as gone (and reconnected to) rather than waited for.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Pauses between reconnection attempts: from the first to the longest, doubling.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(10);
/// Events encoded into one write.
const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the collector did not answer within {IO_TIMEOUT:?}")]
    Timeout,
    #[error("the collector answered {0:?} to READY")]
    Unexpected(Control),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// The dnstap output: a bounded queue and the task that drains it.
pub struct Tap {
    events: mpsc::Sender<Event>,
    dropped: IntCounter,
}

/// Where the writer counts what it does.
struct Counters {
    sent: IntCounter,
    connected: IntGauge,
    reconnects: IntCounter,
}

impl Tap {
    /// Starts the writer task. It ends when the `Tap` is dropped, after sending what was
    /// queued if the collector is connected.
    pub fn start(config: &DnstapConfig, metrics: &Metrics) -> Tap {
        let (events, queue) = mpsc::channel(config.queue);
        let counters = Counters {
            sent: metrics.register(IntCounter::new(
                "familydns_dnstap_sent_total",
                "dnstap events (a query and its answer) written to the collector",
            )),
            connected: metrics.register(IntGauge::new(
                "familydns_dnstap_connected",
                "1 while the dnstap collector is connected",
            )),
            reconnects: metrics.register(IntCounter::new(
                "familydns_dnstap_reconnects_total",
                "Connections to the dnstap collector lost or refused",
            )),
        };
        let dropped = metrics.register(IntCounter::new(
            "familydns_dnstap_dropped_total",
            "dnstap events dropped: the queue was full (collector slow or gone)",
        ));
        tokio::spawn(run(
            config.target.clone(),
            config.identity.clone().into_bytes(),
            queue,
            counters,
        ));
        Tap { events, dropped }
    }

    /// Queues an event, or drops and counts it when the queue is full: never waits.
    pub fn record(&self, event: Event) {
        if self.events.try_send(event).is_err() {
            self.dropped.inc();
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn run(
    target: DnstapTarget,
    identity: Vec<u8>,
    mut queue: mpsc::Receiver<Event>,
    counters: Counters,
) {
    let mut pause = FIRST_PAUSE;
    loop {
        match session(&target, &identity, &mut queue, &counters, &mut pause).await {
            Ok(()) => return,
            Err(e) => {
                counters.connected.set(0);
                counters.reconnects.inc();
                tracing::warn!(?target, error = %e, "dnstap collector unavailable");
            }
        }
        if queue.is_closed() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// One connection: handshake, then batches until the queue closes (`Ok`) or an error.
async fn session(
    target: &DnstapTarget,
    identity: &[u8],
    queue: &mut mpsc::Receiver<Event>,
    counters: &Counters,
    pause: &mut Duration,
) -> Result<(), TapError> {
    let mut stream = within(connect(target)).await??;
    within(handshake(&mut stream)).await??;
    counters.connected.set(1);
    *pause = FIRST_PAUSE;
    let mut out = Vec::new();
    while let Some(first) = queue.recv().await {
        out.clear();
        first.encode(identity, &mut out);
        let mut n = 1;
        while n < BATCH
            && let Ok(event) = queue.try_recv()
        {
            event.encode(identity, &mut out);
            n += 1;
        }
        within(stream.write_all(&out)).await??;
        counters.sent.inc_by(n as u64);
    }
    // Shutting down: say so, so that the reader closes its file cleanly.
    within(stream.write_all(&fstrm::control(Control::Stop))).await??;
    let _ = within(read_control(&mut stream)).await;
    Ok(())
}

async fn within<T>(f: impl Future<Output = T>) -> Result<T, TapError> {
    timeout(IO_TIMEOUT, f).await.map_err(|_| TapError::Timeout)
}

async fn connect(target: &DnstapTarget) -> std::io::Result<Box<dyn Stream>> {
    Ok(match target {
        DnstapTarget::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        DnstapTarget::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            // Writes are already batched: Nagle would only hold a batch back behind the
            // collector's delayed ACK.
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
    })
}

/// READY, ACCEPT from the reader, START.
async fn handshake(stream: &mut Box<dyn Stream>) -> Result<(), TapError> {
    stream.write_all(&fstrm::control(Control::Ready)).await?;
    match read_control(stream).await? {
        Control::Accept => {}
        other => return Err(TapError::Unexpected(other)),
    }
    stream.write_all(&fstrm::control(Control::Start)).await?;
    Ok(())
}

async fn read_control(stream: &mut Box<dyn Stream>) -> Result<Control, TapError> {
    let mut head = [0u8; 8];
    stream.read_exact(&mut head).await?;
    let mut payload = vec![0u8; fstrm::control_length(head)?];
    stream.read_exact(&mut payload).await?;
    Ok(fstrm::parse_control(&payload)?)
}
