//! A node process of a localnet: `atoll node --config <node>/node.toml`,
//! logging to `<node>/node.log`, stopped with the process that started it.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::layout::{LocalnetError, NodeFiles, io};

/// A node process of a localnet.
#[derive(Debug)]
pub struct NodeProcess {
    /// Its files.
    pub files: NodeFiles,
    child: Option<Child>,
}

impl NodeProcess {
    /// Starts `atoll node --config` with the binary `exe`, logging to
    /// `node.log` in the node's directory.
    pub fn spawn(exe: &Path, files: &NodeFiles) -> Result<Self, LocalnetError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(files.dir.join("node.log"))
            .map_err(io)?;
        let child = Command::new(exe)
            .args(["node", "--config"])
            .arg(&files.config)
            // The node stops (as on SIGTERM) if this process dies, even by
            // SIGKILL: no orphaned nodes.
            .env(atoll_node::ENV_PARENT_PID, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io)?;
        Ok(Self {
            files: files.clone(),
            child: Some(child),
        })
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it with SIGKILL (a crash) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Asks it to stop (SIGTERM) and waits up to `grace`, then kills it.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, grace);
        }
    }
}

/// Asks `child` to stop (SIGTERM) and waits up to `grace` for it, then
/// kills it (SIGKILL) and reaps it. Returns its exit status if it ended on
/// its own (before or within `grace`), `None` if it had to be killed.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    // Already exited (and reaped): there is nothing to signal, and its pid
    // may belong to another process by now.
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
