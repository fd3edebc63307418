//! Output: human-readable text by default, one JSON document with `--json`;
//! a progress indicator on stderr while waiting.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How results are shown.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json`.
    pub json: bool,
}

impl Output {
    /// Shows a result: `value` as JSON with `--json`, else `human()`.
    pub fn show(&self, value: &Value, human: impl FnOnce()) {
        if self.json {
            say!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
            );
        } else {
            human();
        }
    }

    /// A progress indicator for a wait; stopped when dropped.
    pub fn progress(&self, what: &str) -> Progress {
        Progress::start(what)
    }
}

/// A spinner with the elapsed time on a terminal's stderr; a single line
/// elsewhere (logs stay readable).
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(what: &str) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            eprintln!("{what}...");
            return Self { done, thread: None };
        }
        let flag = done.clone();
        let what = what.to_owned();
        let thread = std::thread::spawn(move || {
            const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
            let start = Instant::now();
            let mut i = 0usize;
            while !flag.load(Ordering::Relaxed) {
                let frame = FRAMES.get(i % FRAMES.len()).copied().unwrap_or('|');
                eprint!("\r{frame} {what} ({:.0} s) ", start.elapsed().as_secs_f64());
                let _ = std::io::stderr().flush();
                i += 1;
                std::thread::sleep(Duration::from_millis(120));
            }
            // Clear the line.
            eprint!("\r{}\r", " ".repeat(what.len() + 16));
            let _ = std::io::stderr().flush();
        });
        Self {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
