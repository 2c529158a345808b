//! How a poller is controlled: the switch of its function's event sources
//! (on and off, as `UpdateEventSourceMapping --enabled` turns them) and the
//! stack's stop signal. A leaf, shared by the sources and their pollers.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

/// Turns a function's event sources off and on, as `UpdateEventSourceMapping
/// --enabled false` does in the cloud: a disabled source leaves its queue or
/// stream untouched (messages wait, records stay in the stream) until it is
/// enabled again.
#[derive(Debug, Default)]
pub struct Switches(BTreeMap<String, watch::Sender<bool>>);

impl Switches {
    /// A gate for a new source of `function`, open to begin with.
    pub(crate) fn gate(&mut self, function: &str) -> Gate {
        Gate(
            self.0
                .entry(function.to_owned())
                .or_insert_with(|| watch::channel(true).0)
                .subscribe(),
        )
    }

    /// Enables or disables every event source of the function `binary`.
    pub fn set(&self, binary: &str, enabled: bool) -> Result<()> {
        let switch = self
            .0
            .get(binary)
            .ok_or_else(|| anyhow::anyhow!("{binary} has no event source"))?;
        switch.send_replace(enabled);
        Ok(())
    }
}

/// What a feeder checks before it takes more work.
#[derive(Debug, Clone)]
pub struct Gate(watch::Receiver<bool>);

impl Gate {
    /// Whether the source is enabled now.
    pub fn is_open(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns at once when enabled; else waits until enabled or stopped.
    pub async fn wait_open(&mut self, stop: &mut watch::Receiver<bool>) {
        while !*self.0.borrow_and_update() && !*stop.borrow() {
            tokio::select! {
                changed = self.0.changed() => if changed.is_err() { return },
                _ = stop.changed() => {}
            }
        }
    }
}

/// Sleeps, waking early when the stack stops.
pub async fn pause(duration: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
}
