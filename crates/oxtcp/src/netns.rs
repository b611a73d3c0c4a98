//! Network namespaces for test rigs: a private network with its own interfaces and routes,
//! made with `ip netns add` and removed when the [`Namespace`] is dropped (on every path,
//! panics included). A TUN created "inside" one (see [`Namespace::run_inside`]) is where the
//! kernel's TCP and oxtcp meet without touching the host's network.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A network namespace that lives as long as this value.
#[derive(Debug)]
pub struct Namespace {
    name: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            io::Error::new(e.kind(), format!("cannot run `ip` (install iproute2): {e}"))
        })?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

impl Namespace {
    /// Create a namespace named `<prefix>-<pid>-<n>` with its loopback up.
    pub fn create(prefix: &str) -> io::Result<Namespace> {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name])?;
        let ns = Namespace { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Run `f` on a thread whose network namespace is this one. Devices it creates (a TUN)
    /// live in the namespace; their descriptors work from any thread afterwards.
    pub fn run_inside<R: Send>(&self, f: impl FnOnce() -> R + Send) -> io::Result<R> {
        let path = format!("/var/run/netns/{}", self.name);
        let file = File::open(&path)?;
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on a descriptor we hold open; it changes only this thread.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(f())
            })
            .join()
            .map_err(|_| io::Error::other("thread inside the namespace panicked"))?
        })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Processes still inside keep it alive until they exit; the name is gone at once.
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Why namespaces cannot be used here, if they cannot: not root, no `ip`, no /dev/net/tun.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no arguments and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces and TUN devices)".into());
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("no /dev/net/tun".into());
    }
    match Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => None,
        _ => Some("no `ip` command (install iproute2)".into()),
    }
}
