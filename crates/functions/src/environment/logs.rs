//! An environment's log: what its processes write to stdout and stderr (one pipe for both),
//! read continuously so a chatty function never blocks on a full pipe, and cut per
//! invocation with Lambda's `START`/`END`/`REPORT` lines. `LogType: Tail` answers the last
//! 4 KB of an invocation's log. (Keeping logs per function, `rampart logs`, is a later slice.)

use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;

/// What one invocation's log may hold before its oldest bytes are dropped.
const MAX_INVOCATION_LOG: usize = 1024 * 1024;
/// What `LogType: Tail` answers: the last 4 KB.
pub const TAIL_BYTES: usize = 4096;

/// The read end of an environment's output pipe and what was read from it so far.
pub struct LogCapture {
    receiver: pipe::Receiver,
    buffer: Mutex<Vec<u8>>,
}

impl LogCapture {
    pub fn new(receiver: pipe::Receiver) -> Arc<Self> {
        Arc::new(LogCapture {
            receiver,
            buffer: Mutex::new(Vec::new()),
        })
    }

    /// Reads whatever the pipe holds now, without waiting; false once it is closed. Reading
    /// under the buffer's lock keeps chunks in order whoever reads them.
    fn read_available(&self) -> bool {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let mut chunk = [0u8; 8192];
        loop {
            match self.receiver.try_read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    buffer.extend_from_slice(&chunk[..n]);
                    if buffer.len() > MAX_INVOCATION_LOG {
                        let excess = buffer.len() - MAX_INVOCATION_LOG;
                        buffer.drain(..excess);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// Drains the pipe until every writer has closed it (the task that runs beside the
    /// environment).
    pub async fn pump(self: Arc<Self>) {
        loop {
            if self.receiver.readable().await.is_err() || !self.read_available() {
                return;
            }
        }
    }

    /// Appends a line of Lambda's own (`START`, `END`, `REPORT`, timeouts).
    pub fn platform_line(&self, line: &str) {
        self.read_available();
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        buffer.extend_from_slice(line.as_bytes());
        buffer.push(b'\n');
    }

    /// Forgets what was logged before an invocation starts (a warm environment's previous
    /// invocation; a cold one keeps its initialization output).
    pub fn clear(&self) {
        self.read_available();
        self.buffer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The last [`TAIL_BYTES`] of the log so far.
    pub fn tail(&self) -> Vec<u8> {
        self.read_available();
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let start = buffer.len().saturating_sub(TAIL_BYTES);
        buffer[start..].to_vec()
    }
}

/// A timestamp as Lambda's platform lines write it: `2024-05-01T12:34:56.789Z`.
pub fn log_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
