//! Timed exceptions and pauses a parent sets from the CLI: "YouTube for 45 minutes", "internet
//! paused until 20:00". They end by themselves (every check compares with the clock), and
//! they survive a restart: the state is a small TOML file next to the config, written
//! atomically (temp file, fsync, then rename) on every change.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::name::{self, SuffixFingerprints};

/// File name of the state, in the config's directory.
pub const STATE_FILE: &str = "familydns.state.toml";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct State {
    #[serde(default)]
    allow: Vec<TimedAllow>,
    #[serde(default)]
    pause: Vec<Pause>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimedAllow {
    pub profile: String,
    pub name: String,
    pub until: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pause {
    pub profile: String,
    pub until: Timestamp,
}

/// One profile's overrides, compiled for the query path.
#[derive(Debug, Default)]
pub struct ProfileOverrides {
    /// Fingerprint of an allowed name (it covers its subdomains) and when it ends.
    allow: Vec<(u64, Timestamp)>,
    paused_until: Option<Timestamp>,
}

impl ProfileOverrides {
    /// Overrides built directly, for the policy's unit tests (which must not touch files).
    #[cfg(test)]
    pub(crate) fn new(allow: &[(&str, Timestamp)], paused_until: Option<Timestamp>) -> Self {
        ProfileOverrides {
            allow: allow
                .iter()
                .map(|&(n, until)| (name::fingerprint(n), until))
                .collect(),
            paused_until,
        }
    }

    /// Whether a timed exception covers the name at `now`.
    pub fn allows(&self, name: &SuffixFingerprints, now: Timestamp) -> bool {
        self.allow
            .iter()
            .any(|(fp, until)| now < *until && name.as_slice().contains(fp))
    }

    pub fn paused(&self, now: Timestamp) -> bool {
        self.paused_until.is_some_and(|until| now < until)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("`{0}` is not a domain name: {1}")]
    BadName(String, name::NameError),
    #[error("cannot save {path}: {source}")]
    Save {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why [`end_time`] found no end.
#[derive(Debug, thiserror::Error)]
pub enum EndTimeError {
    #[error("`{0}` is not a duration (e.g. 45m, 2h)")]
    BadDuration(String),
    #[error("that duration ends too far in the future")]
    TooFar,
    #[error("give `for` (45m) or `until` (20:00)")]
    Missing,
    #[error("`{0}` is not a time of day (HH:MM)")]
    BadTime(String),
    #[error("{0}")]
    Calendar(#[from] jiff::Error),
}

/// When a pause or timed exception asked for at `now` ends: `duration` (`45m`) from now, or
/// the next `until` (`20:00`) in the profile's zone `tz`; `until = "00:00"` is "for today".
/// The admin endpoint and the parents' page both ask this way.
pub fn end_time(
    duration: Option<&str>,
    until: Option<&str>,
    tz: &jiff::tz::TimeZone,
    now: Timestamp,
) -> Result<Timestamp, EndTimeError> {
    if let Some(d) = duration {
        let parsed = crate::config::parse_duration(d)
            .ok_or_else(|| EndTimeError::BadDuration(d.to_owned()))?;
        // `for=99999999999d` is out of range, not a panic.
        return jiff::SignedDuration::try_from(parsed)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .ok_or(EndTimeError::TooFar);
    }
    let until = until.ok_or(EndTimeError::Missing)?;
    let time: jiff::civil::Time = until
        .parse()
        .map_err(|_| EndTimeError::BadTime(until.to_owned()))?;
    let mut end = now.to_zoned(tz.clone()).with().time(time).build()?;
    if end.timestamp() <= now {
        end = end.checked_add(jiff::Span::new().days(1))?;
    }
    Ok(end.timestamp())
}

/// The overrides of every profile: read on every query, changed by the admin endpoint.
pub struct Overrides {
    path: PathBuf,
    state: Mutex<State>,
    compiled: ArcSwap<HashMap<String, ProfileOverrides>>,
}

impl Overrides {
    /// Loads the state next to `config_file`. A missing file is an empty state; an unreadable
    /// one is logged and ignored: a parent's timed exception must never stop the resolver.
    pub fn load(config_file: &Path) -> Overrides {
        let path = config_file
            .parent()
            .unwrap_or(Path::new("."))
            .join(STATE_FILE);
        let state = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
                tracing::error!(file = %path.display(), error = %e, "ignoring unreadable override state");
                State::default()
            }),
            Err(_) => State::default(),
        };
        let compiled = ArcSwap::from_pointee(compile(&state));
        Overrides {
            path,
            state: Mutex::new(state),
            compiled,
        }
    }

    /// The overrides of the current moment, for the query path (one atomic load).
    pub fn current(&self) -> Arc<HashMap<String, ProfileOverrides>> {
        self.compiled.load_full()
    }

    /// Allows `name` for `profile` until `until`; `now` is the server's clock, against
    /// which entries that have ended are dropped.
    pub fn allow(
        &self,
        profile: &str,
        name: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), OverrideError> {
        let name = name::normalize(name).map_err(|e| OverrideError::BadName(name.to_owned(), e))?;
        self.change(now, |s| {
            s.allow
                .retain(|a| !(a.profile == profile && a.name == name));
            s.allow.push(TimedAllow {
                profile: profile.to_owned(),
                name,
                until,
            });
        })
    }

    /// Pauses `profile` until `until` (`now` as for [`allow`](Self::allow)).
    pub fn pause(
        &self,
        profile: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<(), OverrideError> {
        self.change(now, |s| {
            s.pause.retain(|p| p.profile != profile);
            s.pause.push(Pause {
                profile: profile.to_owned(),
                until,
            });
        })
    }

    /// Ends a profile's pause and timed exceptions (`now` as for [`allow`](Self::allow)).
    pub fn clear(&self, profile: &str, now: Timestamp) -> Result<(), OverrideError> {
        self.change(now, |s| {
            s.pause.retain(|p| p.profile != profile);
            s.allow.retain(|a| a.profile != profile);
        })
    }

    /// A profile's pause and timed exceptions that have not ended at `now`, for the
    /// parents' page.
    pub fn in_force(&self, profile: &str, now: Timestamp) -> (Option<Timestamp>, Vec<TimedAllow>) {
        let state = self.state.lock().expect("not poisoned");
        let paused = state
            .pause
            .iter()
            .find(|p| p.profile == profile && p.until > now)
            .map(|p| p.until);
        let allow = state
            .allow
            .iter()
            .filter(|a| a.profile == profile && a.until > now)
            .cloned()
            .collect();
        (paused, allow)
    }

    /// What is in force, as TOML (for `GET /admin/overrides`).
    pub fn describe(&self) -> String {
        let state = self.state.lock().expect("not poisoned");
        toml::to_string(&*state).unwrap_or_default()
    }

    /// Applies `f`, drops what has ended at `now` (the server's clock, which tests pin),
    /// saves and publishes.
    fn change(&self, now: Timestamp, f: impl FnOnce(&mut State)) -> Result<(), OverrideError> {
        let mut state = self.state.lock().expect("not poisoned");
        f(&mut state);
        state.allow.retain(|a| a.until > now);
        state.pause.retain(|p| p.until > now);
        save(&self.path, &state)?;
        self.compiled.store(Arc::new(compile(&state)));
        Ok(())
    }
}

fn compile(state: &State) -> HashMap<String, ProfileOverrides> {
    let mut out: HashMap<String, ProfileOverrides> = HashMap::new();
    for a in &state.allow {
        out.entry(a.profile.clone())
            .or_default()
            .allow
            .push((name::fingerprint(&a.name), a.until));
    }
    for p in &state.pause {
        out.entry(p.profile.clone()).or_default().paused_until = Some(p.until);
    }
    out
}

fn save(path: &Path, state: &State) -> Result<(), OverrideError> {
    let err = |source| OverrideError::Save {
        path: path.to_owned(),
        source,
    };
    let text = toml::to_string(state).expect("state serialises");
    atomic_file::write(path, text.as_bytes()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_expire_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("familydns.toml");
        let o = Overrides::load(&config);
        let now: Timestamp = "2026-11-23T17:00:00Z".parse().unwrap();
        let later = now + jiff::SignedDuration::from_secs(2700);
        o.allow("kids", "YouTube.com", later, now).unwrap();
        o.pause("kids", later, now).unwrap();
        let reloaded = Overrides::load(&config);
        let cur = reloaded.current();
        let kids = &cur["kids"];
        assert!(kids.allows(&SuffixFingerprints::from_name("www.youtube.com"), now));
        assert!(!kids.allows(&SuffixFingerprints::from_name("www.youtube.com"), later));
        assert!(kids.paused(now) && !kids.paused(later));
        // A change made after they ended drops them, as the next one would anyway.
        reloaded
            .pause("teens", later + jiff::SignedDuration::from_secs(60), later)
            .unwrap();
        assert!(Overrides::load(&config).current().get("kids").is_none());
        reloaded.clear("teens", later).unwrap();
        assert!(Overrides::load(&config).current().get("kids").is_none());
    }
}
