//! Telling systemd how the service is doing (`Type=notify`): ready once the dashboard listens
//! and every task runs, reloading while a new configuration is swapped in, stopping on the
//! way out, and the watchdog's keep-alive. Outside systemd (`NOTIFY_SOCKET` unset) every call
//! does nothing.

use std::sync::OnceLock;
use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Before a reload; systemd wants the monotonic clock with it (`Type=notify-reload`).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping: finishing the work in hand")]);
}

pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

/// How often to tell the watchdog we are alive: half its interval, if systemd set one.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}

/// Keeps the watchdog fed until `stop`. The pings come from the runtime that runs the
/// daemon's tasks, so a runtime that stops scheduling them gets the service restarted.
pub async fn feed_watchdog(mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(every) = watchdog_interval() else { return };
    loop {
        send(&[NotifyState::Watchdog]);
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// This instance's name in leases and claims: host, process and a random part (a PID comes
/// back after a reboot; a lease must not).
pub fn instance_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host =
            std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "host".into());
        format!("{host}:{}:{:04x}", std::process::id(), fastrand::u16(..))
    })
    .clone()
}

/// Whether the process named by an [`instance_id`] is known to be gone: it ran on this host
/// and its process no longer exists. A process on another host cannot be judged from here.
pub fn instance_is_gone(holder: &str) -> bool {
    let mine = instance_id();
    let (Some((host, rest)), Some((my_host, _))) = (holder.split_once(':'), mine.split_once(':')) else {
        return false;
    };
    let Some(pid) = rest.split(':').next().and_then(|p| p.parse::<u32>().ok()) else { return false };
    holder != mine
        && host == my_host
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_process_of_this_host_that_no_longer_exists_is_gone() {
        let mine = instance_id();
        let host = mine.split(':').next().unwrap().to_string();
        assert!(!instance_is_gone(&mine));
        assert!(!instance_is_gone(&format!("{host}:1:0000")), "pid 1 lives");
        assert!(instance_is_gone(&format!("{host}:{}:0000", u32::MAX)));
        assert!(!instance_is_gone(&format!("another-host:{}:0000", u32::MAX)), "another host is not judged");
        assert!(!instance_is_gone("garbage"));
    }
}
