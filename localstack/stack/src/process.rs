//! Child processes the local stack starts (the emulator, `cargo lambda
//! watch`): each in its own process group, so stopping it stops everything
//! it started in turn, and each told by the kernel to stop if we die first.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

pub struct Supervised {
    name: &'static str,
    child: Child,
}

impl Supervised {
    pub fn spawn(name: &'static str, mut command: Command) -> Result<Self> {
        command.process_group(0);
        // SAFETY: prctl is async-signal-safe; it only sets a flag on the child.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({command:?})"))?;
        Ok(Self { name, child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(description)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            Ok(None) => None,
            Err(error) => Some(format!("{}: {error}", self.name)),
        }
    }

    /// SIGTERM to the whole group, then SIGKILL to what is left after a grace period.
    pub async fn stop(&mut self) {
        self.signal_group(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.exited().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The group may hold grandchildren (function processes) even after
        // the leader has gone.
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }

    fn signal_group(&self, signal: libc::c_int) {
        let group = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the group we created.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

/// Every process below `pid` (children, their children, ...), read from
/// `/proc`: a process may put what it starts in process groups of their
/// own, so a group does not name them all.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if let Some(parent) = parent {
            parents.push((child, parent));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(current) = frontier.pop() {
        for &(child, parent) in &parents {
            if parent == current && !found.contains(&child) {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}

/// Whether a process is still alive (a zombie awaiting its parent is not).
pub fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.signal_group(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}
