//! The Zenoh configuration: from a file the user names, or else one that
//! reaches nothing beyond this machine. Without a file, the publishing side
//! listens on 127.0.0.1:7447 and the subscribing side connects there, with
//! multicast and gossip scouting off; anything else takes `--listen`,
//! `--connect` or a configuration file.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use zenoh::Config;

/// Where the publishing side listens unless told otherwise.
pub const DEFAULT_ENDPOINT: &str = "tcp/127.0.0.1:7447";

#[derive(Args, Clone, Debug)]
pub struct Net {
    /// A Zenoh configuration file (JSON5), else the one $ZENOH_CONFIG
    /// names, as for any Zenoh program. The options below override it;
    /// with one, nothing else of this command's defaults applies.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen on ENDPOINT (repeatable), e.g. tcp/0.0.0.0:7447 to accept
    /// other machines.
    #[arg(long, value_name = "ENDPOINT")]
    pub listen: Vec<String>,
    /// Connect to ENDPOINT (repeatable), e.g. tcp/robot.local:7447 or a
    /// router's.
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
    /// Zenoh's mode: peer (the default without a configuration file), or
    /// client of a router.
    #[arg(long = "zenoh-mode", value_enum)]
    pub zenoh_mode: Option<Mode>,
    /// Find peers by multicast scouting on the local networks (off unless
    /// asked: it announces this machine to them).
    #[arg(long)]
    pub scout: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Peer,
    Client,
}

/// Which end of the bridge a configuration is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Publish,
    Subscribe,
}

impl Net {
    /// The configuration for `side`.
    pub fn config(&self, side: Side) -> Result<Config, String> {
        let file = self
            .config
            .clone()
            .or_else(|| std::env::var_os("ZENOH_CONFIG").map(PathBuf::from));
        let mut config = match &file {
            Some(path) => Config::from_file(path)
                .map_err(|e| format!("Zenoh configuration {}: {e}", path.display()))?,
            None => Config::default(),
        };
        let mut set = |key: &str, value: String| {
            config
                .insert_json5(key, &value)
                .map_err(|e| format!("Zenoh configuration {key} = {value}: {e}"))
        };
        let list = |endpoints: &[String]| serde_json::to_string(endpoints).expect("strings");
        let defaults = file.is_none();
        if let Some(path) = &file {
            eprintln!("dbshm-bridge: Zenoh configuration {}", path.display());
        }
        // A file's mode stands unless the option overrides it.
        let mode = match (self.zenoh_mode, defaults) {
            (Some(Mode::Client), _) => Some("client"),
            (Some(Mode::Peer), _) | (None, true) => Some("peer"),
            (None, false) => None,
        };
        if let Some(mode) = mode {
            set("mode", format!("{mode:?}"))?;
        }
        let (listen, connect) = match (side, defaults) {
            (Side::Publish, true) if self.listen.is_empty() && self.connect.is_empty() => {
                (vec![DEFAULT_ENDPOINT.to_owned()], vec![])
            }
            (Side::Subscribe, true) if self.listen.is_empty() && self.connect.is_empty() => {
                (vec![], vec![DEFAULT_ENDPOINT.to_owned()])
            }
            _ => (self.listen.clone(), self.connect.clone()),
        };
        // An empty list where none is given: else a peer listens on every
        // interface (tcp/[::]:0).
        if defaults || !listen.is_empty() {
            set("listen/endpoints", list(&listen))?;
        }
        if defaults || !connect.is_empty() {
            set("connect/endpoints", list(&connect))?;
        }
        if defaults {
            set("scouting/multicast/enabled", self.scout.to_string())?;
            set("scouting/gossip/enabled", self.scout.to_string())?;
            // Back within 2 s of the other side: retry a connection every
            // 100 ms at first, then every 500 ms at most.
            set(
                "connect/retry",
                "{period_init_ms: 100, period_max_ms: 500, period_increase_factor: 2}".into(),
            )?;
            // A port still held by a publisher that just died: try again
            // for 3 s before giving up.
            set("listen/timeout_ms", "3000".into())?;
            set(
                "listen/retry",
                "{period_init_ms: 100, period_max_ms: 500, period_increase_factor: 2}".into(),
            )?;
            // Sixteen batches in flight instead of two: what made 1080p
            // frames (95 fragments each) fast in the trial.
            set("transport/link/tx/queue/size/data", "16".into())?;
        } else if self.scout {
            set("scouting/multicast/enabled", "true".into())?;
        }
        Ok(config)
    }
}
