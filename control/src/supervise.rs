//! The engine's side of the two-process appliance: it starts the control-plane process
//! (`tstat-dpdk plane`), as an unprivileged user when configured, starts it again whenever it
//! dies (capture goes on meanwhile, records wait in the rings), and at the end waits for it to
//! drain the rings.

use anyhow::{bail, Context};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The user the control plane runs as.
#[derive(Debug, Clone)]
pub struct PlaneUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl PlaneUser {
    /// Looks a user up by name.
    pub fn lookup(name: &str) -> anyhow::Result<PlaneUser> {
        let u = nix::unistd::User::from_name(name)
            .with_context(|| format!("control.user: cannot look {name:?} up"))?
            .ok_or_else(|| anyhow::anyhow!("control.user: no user {name:?} on this system"))?;
        Ok(PlaneUser {
            name: name.to_string(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        })
    }

    /// Gives `paths` to the user (the rings, the run and output directories), so that the
    /// plane can write there after dropping privileges. Only root can; anyone else running
    /// `start` with `control.user` set gets a clear error.
    pub fn hand_over(&self, paths: &[&Path]) -> anyhow::Result<()> {
        for p in paths {
            nix::unistd::chown(
                *p,
                Some(nix::unistd::Uid::from_raw(self.uid)),
                Some(nix::unistd::Gid::from_raw(self.gid)),
            )
            .with_context(|| {
                format!(
                    "{}: cannot hand over to user {} (control.user needs start to run as root)",
                    p.display(),
                    self.name
                )
            })?;
        }
        Ok(())
    }
}

/// The control-plane process, supervised.
pub struct Plane {
    spec: PathBuf,
    user: Option<PlaneUser>,
    child: Option<Child>,
    started: Instant,
    restarts: u64,
    failures_in_row: u32,
    done: bool,
    last_exit: Option<String>,
}

/// Failed starts in a row (each living less than a minute) after which the end of a run
/// gives up waiting for the plane.
const GIVE_UP_AFTER: u32 = 5;

impl Plane {
    /// Starts `tstat-dpdk plane --spec SPEC`.
    pub fn spawn(spec: PathBuf, user: Option<PlaneUser>) -> anyhow::Result<Plane> {
        let mut p = Plane {
            spec,
            user,
            child: None,
            started: Instant::now(),
            restarts: 0,
            failures_in_row: 0,
            done: false,
            last_exit: None,
        };
        p.start()?;
        Ok(p)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().context("finding the tstat-dpdk executable")?;
        let mut c = Command::new(exe);
        c.arg("plane").arg("--spec").arg(&self.spec);
        // Its own process group: a terminal's Ctrl-C stops the engine, which then flushes
        // every flow into the rings; the plane must stay to drain them.
        c.process_group(0);
        if let Some(u) = &self.user {
            // std drops the supplementary groups when it switches user as root.
            c.uid(u.uid).gid(u.gid);
        }
        let child = c
            .spawn()
            .context("starting the control-plane process (tstat-dpdk plane)")?;
        tracing::info!("control plane started, pid {}", child.id());
        self.child = Some(child);
        self.started = Instant::now();
        Ok(())
    }

    /// Notices a dead plane and starts it again (at most once a second, backing off to once
    /// every 30 s while it keeps dying at once).
    pub fn check(&mut self) {
        if self.done {
            return;
        }
        if let Some(c) = &mut self.child {
            match c.try_wait() {
                Ok(None) => return,
                Ok(Some(st)) if st.success() => {
                    self.done = true;
                    self.child = None;
                    return;
                }
                Ok(Some(st)) => {
                    tracing::warn!("the control plane exited ({st}); starting it again");
                    self.last_exit = Some(st.to_string());
                    if self.started.elapsed() < Duration::from_secs(60) {
                        self.failures_in_row += 1;
                    } else {
                        self.failures_in_row = 0;
                    }
                    self.child = None;
                }
                Err(e) => {
                    tracing::warn!("cannot check the control plane: {e}");
                    return;
                }
            }
        }
        let backoff =
            Duration::from_secs(1 << self.failures_in_row.min(5)).min(Duration::from_secs(30));
        if self.child.is_none() && self.started.elapsed() >= backoff {
            match self.start() {
                Ok(()) => self.restarts += 1,
                Err(e) => {
                    tracing::error!("{e:#}");
                    self.started = Instant::now();
                    self.failures_in_row += 1;
                }
            }
        }
    }

    /// Waits for the plane to drain the closed rings and exit, starting it again if it dies;
    /// `between` runs every few milliseconds meanwhile (the control socket).
    pub fn wait_done(&mut self, mut between: impl FnMut(&Plane)) -> anyhow::Result<()> {
        while !self.done {
            if self.failures_in_row >= GIVE_UP_AFTER && self.child.is_none() {
                bail!(
                    "the control plane keeps failing ({}); the records not yet written stay in \
                     the rings: `tstat-dpdk plane --spec {}` writes them",
                    self.last_exit.as_deref().unwrap_or("no exit status"),
                    self.spec.display()
                );
            }
            self.check();
            between(self);
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops the plane at once (start failed).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.done = true;
    }

    /// Times the plane was started again.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// For `tstat-dpdk status`.
    pub fn status(&self) -> serde_json::Value {
        json!({
            "pid": self.child.as_ref().map(|c| c.id()),
            "running": self.child.is_some(),
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "done": self.done,
        })
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        // An engine that fails leaves no orphan plane behind; one that ends normally has
        // waited for it already.
        if !self.done {
            self.kill();
        }
    }
}
