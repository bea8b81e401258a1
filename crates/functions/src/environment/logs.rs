//! An environment's log: what its processes write to stdout and stderr (one pipe for both),
//! read continuously so a chatty function never blocks on a full pipe. Each line goes to the
//! function's persisted log ([`crate::logs`], through the environment's [`LogStream`]) as it
//! is read, beside Lambda's own lines (`START`/`END`/`REPORT`, timeouts); the current
//! invocation's output is also kept here so `LogType: Tail` can answer its last 4 KB.

use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;

use crate::logs::shipper::MAX_EVENT_BYTES;
use crate::logs::LogStream;

/// What one invocation's log may hold before its oldest bytes are dropped.
const MAX_INVOCATION_LOG: usize = 1024 * 1024;
/// What `LogType: Tail` answers: the last 4 KB.
pub const TAIL_BYTES: usize = 4096;

/// What was read so far.
struct Captured {
    /// The current invocation's log, for `LogType: Tail`.
    invocation: Vec<u8>,
    /// The start of a line not yet ended by a newline.
    partial: Vec<u8>,
    /// The invocation whose `START` line was written last.
    started: Option<String>,
}

/// The read end of an environment's output pipe and what was read from it so far.
pub struct LogCapture {
    receiver: pipe::Receiver,
    captured: Mutex<Captured>,
    /// Where each line is persisted; None for an environment whose log is not kept.
    stream: Option<LogStream>,
}

impl Captured {
    /// Adds output read from the pipe; sends each line it completes to `stream`.
    fn output(&mut self, bytes: &[u8], stream: Option<&LogStream>) {
        self.invocation.extend_from_slice(bytes);
        if self.invocation.len() > MAX_INVOCATION_LOG {
            let excess = self.invocation.len() - MAX_INVOCATION_LOG;
            self.invocation.drain(..excess);
        }
        let Some(stream) = stream else { return };
        self.partial.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = self.partial[start..].iter().position(|b| *b == b'\n') {
            stream.push(&String::from_utf8_lossy(&self.partial[start..start + end]));
            start += end + 1;
        }
        self.partial.drain(..start);
        // A line longer than an event is sent in pieces rather than held without limit.
        if self.partial.len() >= MAX_EVENT_BYTES {
            self.end_line(Some(stream));
        }
    }

    /// Sends what is left of an unfinished line as an event of its own.
    fn end_line(&mut self, stream: Option<&LogStream>) {
        if let (Some(stream), false) = (stream, self.partial.is_empty()) {
            stream.push(&String::from_utf8_lossy(&self.partial));
        }
        self.partial.clear();
    }
}

impl LogCapture {
    pub fn new(receiver: pipe::Receiver, stream: Option<LogStream>) -> Arc<Self> {
        Arc::new(LogCapture {
            receiver,
            captured: Mutex::new(Captured {
                invocation: Vec::new(),
                partial: Vec::new(),
                started: None,
            }),
            stream,
        })
    }

    /// Reads whatever the pipe holds now, without waiting; false once it is closed. Reading
    /// under the lock keeps chunks in order whoever reads them. `direct`: read the pipe
    /// itself ([`read_now`]) rather than through the reactor, which only the pump may do (its
    /// `WouldBlock` is what makes the reactor wait for the next output).
    fn read_available(&self, direct: bool) -> bool {
        let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        let mut chunk = [0u8; 8192];
        loop {
            let read = if direct {
                read_now(&self.receiver, &mut chunk)
            } else {
                self.receiver.try_read(&mut chunk)
            };
            match read {
                Ok(0) => {
                    captured.end_line(self.stream.as_ref());
                    return false;
                }
                Ok(n) => captured.output(&chunk[..n], self.stream.as_ref()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    captured.end_line(self.stream.as_ref());
                    return false;
                }
            }
        }
    }

    /// Drains the pipe until every writer has closed it (the task that runs beside the
    /// environment).
    pub async fn pump(self: Arc<Self>) {
        loop {
            if self.receiver.readable().await.is_err() || !self.read_available(false) {
                return;
            }
        }
    }

    /// Appends a line of Lambda's own (`START`, `END`, `REPORT`, timeouts), after whatever
    /// the function wrote before it (an unfinished line ends there).
    pub fn platform_line(&self, line: &str) {
        self.read_available(true);
        let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        captured.end_line(self.stream.as_ref());
        if let Some(stream) = &self.stream {
            stream.push(line);
        }
        captured.invocation.extend_from_slice(line.as_bytes());
        captured.invocation.push(b'\n');
    }

    /// Writes the invocation's `START` line, once: the Runtime API writes it as it hands the
    /// invocation to the runtime (before the handler can print anything), the environment if
    /// the invocation ended without the runtime taking it.
    pub fn start(&self, request_id: &str) {
        {
            let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
            if captured.started.as_deref() == Some(request_id) {
                return;
            }
            captured.started = Some(request_id.to_owned());
        }
        self.platform_line(&crate::logs::framing::start(request_id));
    }

    /// Forgets what the tail holds before an invocation starts (a warm environment's
    /// previous invocation; a cold one keeps its initialization output). The persisted log
    /// keeps everything.
    pub fn clear(&self) {
        self.read_available(true);
        self.captured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .invocation
            .clear();
    }

    /// The last [`TAIL_BYTES`] of the invocation's log so far.
    pub fn tail(&self) -> Vec<u8> {
        self.read_available(true);
        let captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        let start = captured.invocation.len().saturating_sub(TAIL_BYTES);
        captured.invocation[start..].to_vec()
    }
}

/// Reads what the pipe holds now. Not `try_read`: that answers `WouldBlock` until the
/// runtime's reactor has seen the pipe become readable, so a line the function wrote just
/// before answering could land after the `END` line read right after the answer. The pipe is
/// non-blocking, so this read never waits; the pump's next `try_read` finds it empty and
/// clears the reactor's readiness, so the pump waits for new output as before.
fn read_now(receiver: &pipe::Receiver, buffer: &mut [u8]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is the receiver's, open for as long as it is borrowed; the
    // buffer is valid for writes of its length.
    let n = unsafe {
        libc::read(
            receiver.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
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
