//! An `atoll localnet` process run by a test, as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use atoll_localnet::process::terminate;
use serde_json::Value;

use crate::common::atoll;

/// The longest a localnet may take to come up.
pub const WAIT: Duration = Duration::from_secs(180);

/// An `atoll localnet` process; killed if the test fails.
pub struct Localnet {
    pub dir: PathBuf,
    stderr: PathBuf,
    child: Option<Child>,
}

impl Localnet {
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let stderr = dir.with_extension("stderr");
        // The command removes a stale summary itself, but maybe only after
        // this test has read it.
        let _ = std::fs::remove_file(dir.join("localnet.json"));
        let child = Command::new(atoll())
            .arg("localnet")
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self {
            dir: dir.to_path_buf(),
            stderr,
            child: Some(child),
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr)
            .unwrap_or_default()
            .replace('\r', "\n")
    }

    /// Waits for `localnet.json` (the network is up) and reads it.
    pub fn summary(&mut self) -> Value {
        let path = self.dir.join("localnet.json");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&path) {
                return serde_json::from_str(&text).unwrap();
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("localnet exited with {status:?}:\n{}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "no localnet.json within {WAIT:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        terminate(&mut c, Duration::from_secs(60))
            .unwrap_or_else(|| panic!("localnet did not stop within 60 s of SIGTERM"))
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM first, so that it stops its nodes.
            terminate(&mut c, Duration::from_secs(30));
        }
    }
}
