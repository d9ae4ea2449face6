//! dbshm-bridge: a dbshm segment on one machine as a dbshm segment on
//! another, over Zenoh. `publish` follows local segments and puts their
//! frames on keys; `subscribe` writes a key's frames into a local segment.
//! Its own package, so that neither the library nor the `dbshm` command
//! compiles Zenoh.

mod net;
mod publish;
mod stats;
mod subscribe;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use zenoh::Wait;

use net::{Net, Side};

/// Carries dbshm segments between machines over Zenoh.
///
/// By default nothing leaves this machine: `publish` listens on
/// 127.0.0.1:7447 and `subscribe` connects there, with scouting off. Name
/// endpoints (--listen tcp/0.0.0.0:7447 on the robot, --connect
/// tcp/robot:7447 on the station) or a Zenoh configuration file to reach
/// other machines. Anyone who can reach the endpoint can read the frames,
/// whatever the segment's mode: use Zenoh's TLS and access control beyond
/// a trusted network.
#[derive(Parser)]
#[command(name = "dbshm-bridge", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The directory segments are in, instead of $DBSHM_DIR or /dev/shm.
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Print the statistics as one JSON object per route and second on
    /// stdout instead of a status line on stderr.
    #[arg(long, global = true)]
    json: bool,
}

const EXAMPLES: &str = "Examples:
  dbshm-bridge publish camera                          camera's frames on key dbshm/camera, on loopback
  dbshm-bridge subscribe dbshm/camera --name camera    ... into the local segment camera
  dbshm-bridge publish camera --listen tcp/0.0.0.0:7447            the robot, open to the network
  dbshm-bridge subscribe dbshm/camera --name camera --connect tcp/robot:7447   the station
  dbshm-bridge publish left right                       two segments, on dbshm/left and dbshm/right";

#[derive(Subcommand)]
enum Command {
    /// Put every new frame of local segments on Zenoh keys.
    Publish {
        /// The segments (each on key PREFIX/NAME unless --key is given).
        #[arg(required = true)]
        names: Vec<String>,
        /// The key of the one segment named.
        #[arg(long)]
        key: Option<String>,
        /// The key prefix for segments named without --key.
        #[arg(long, default_value = "dbshm")]
        prefix: String,
        #[command(flatten)]
        net: Net,
    },
    /// Write the frames that arrive on a Zenoh key into a local segment.
    Subscribe {
        /// The key.
        key: String,
        /// The local segment.
        #[arg(long)]
        name: String,
        /// The local segment's mode when this creates it.
        #[arg(long, default_value = "600", value_parser = parse_mode)]
        mode: u32,
        /// The local segment's buffers when this creates it.
        #[arg(long, default_value_t = 2)]
        buffers: usize,
        /// When the remote shape or element type changes: remove the local
        /// segment and make it anew, instead of stopping with an error.
        #[arg(long)]
        recreate: bool,
        /// Refuse frames larger than this many bytes, whatever a remote
        /// peer sends.
        #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
        max_frame_bytes: usize,
        #[command(flatten)]
        net: Net,
    },
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|e| format!("mode {s:?}: {e}"))
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dbshm-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    // SIGINT and SIGTERM end the loops; the handles then drop, which
    // releases the writer role of a subscribing side's segment.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| format!("set a signal handler: {e}"))?;
    }
    let status = stats::Status::default();
    let (net, side) = match &cli.command {
        Command::Publish { net, .. } => (net, Side::Publish),
        Command::Subscribe { net, .. } => (net, Side::Subscribe),
    };
    let session = zenoh::open(net.config(side)?)
        .wait()
        .map_err(|e| format!("open a Zenoh session: {e}"))?;
    let result = std::thread::scope(|scope| {
        let reporter = scope.spawn(|| status.report_until(Duration::from_secs(1), cli.json, &stop));
        let result = match &cli.command {
            Command::Publish {
                names, key, prefix, ..
            } => routes(names, key.as_deref(), prefix).and_then(|routes| {
                publish::run(&session, &routes, cli.dir.clone(), &status, &stop)
            }),
            Command::Subscribe {
                key,
                name,
                mode,
                buffers,
                recreate,
                max_frame_bytes,
                ..
            } => {
                let local = subscribe::Local {
                    name: name.clone(),
                    dir: cli.dir.clone(),
                    mode: *mode,
                    buffers: *buffers,
                    recreate: *recreate,
                    max_frame_bytes: *max_frame_bytes,
                };
                subscribe::run(&session, key, &local, &status, &stop)
            }
        };
        stop.store(true, Ordering::Relaxed);
        let _ = reporter.join();
        result
    });
    let _ = session.close().wait();
    result
}

/// Each segment named with its key.
fn routes(
    names: &[String],
    key: Option<&str>,
    prefix: &str,
) -> Result<Vec<publish::Route>, String> {
    match (key, names) {
        (Some(key), [name]) => Ok(vec![publish::Route {
            name: name.clone(),
            key: key.to_owned(),
        }]),
        (Some(_), _) => Err("--key names the key of one segment; name one, or use --prefix".into()),
        (None, names) => Ok(names
            .iter()
            .map(|name| publish::Route {
                name: name.clone(),
                key: format!("{}/{name}", prefix.trim_end_matches('/')),
            })
            .collect()),
    }
}
