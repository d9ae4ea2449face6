//! The `dbshm` command: a multi-process demo, and list, info, rm and watch
//! for the segments on this machine.

mod demo;
mod segments;
mod stats;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "dbshm",
    version,
    about = "Double-buffered n-dimensional arrays in shared memory: demo and tools",
    after_help = "Examples:
  dbshm demo                         writer + 3 readers, 1080p at 60 fps, 5 s
  dbshm list                         every dbshm segment on this machine
  dbshm info camera --json           one segment's header, as JSON
  dbshm watch camera                 live frame rate, latency and frame summary
  dbshm rm camera                    remove a segment no process has open
  dbshm rm --stale --age 600         remove segments idle for 10 minutes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a writer and several readers in separate processes and show them live.
    #[command(after_help = "Examples:
  dbshm demo
  dbshm demo --shape 480x640x3 --fps 1000 --duration 10 --readers 4
  dbshm demo --c-reader target/examples-c/reader")]
    Demo(demo::DemoArgs),
    /// List every dbshm segment on this machine (found by header, not by name).
    #[command(after_help = "Example:\n  dbshm list\n  dbshm list --json")]
    List {
        /// Print JSON, one array of segment descriptions.
        #[arg(long)]
        json: bool,
    },
    /// Show one segment's header in full.
    #[command(after_help = "Example:\n  dbshm info camera\n  dbshm info camera --json")]
    Info {
        /// The segment's name (as given to `new`, without a leading '/').
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove segments. Refuses one that a live process has open, unless --force.
    #[command(
        after_help = "--stale looks at the whole machine: every segment this user may remove,
whoever made it, that no process has open (writer, reader or creator) and
that has had no frame (or, never written, has existed) for --age seconds;
and dbshm's own files (.dbshm-*) that nothing uses.

Examples:
  dbshm rm camera                    refuses while any process has it open
  dbshm rm --force camera
  dbshm rm --stale                   every unused segment with no frame for 60 s
  dbshm rm --stale --age 0 a b       a and b, if no process has them open"
    )]
    Rm(segments::RmArgs),
    /// Show a segment's frame rate, latency and a summary of its frames, live.
    #[command(after_help = "Example:\n  dbshm watch camera\n  dbshm watch camera --count 100")]
    Watch(watch::WatchArgs),
    /// The demo's writer process (started by `dbshm demo`).
    #[command(hide = true)]
    DemoWriter(demo::WriterArgs),
    /// The demo's reader process (started by `dbshm demo`).
    #[command(hide = true)]
    DemoReader(demo::ReaderArgs),
}

fn main() -> ExitCode {
    // Die quietly when the reader of our output goes away (`dbshm watch x |
    // head`), as command-line tools do, instead of panicking on EPIPE.
    // SAFETY: restoring the default disposition of a signal is always sound.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::List { json } => segments::list(json),
        Command::Info { name, json } => segments::info(&name, json),
        Command::Rm(args) => segments::rm(args),
        Command::Watch(args) => watch::run(args),
        Command::DemoWriter(args) => demo::writer(args),
        Command::DemoReader(args) => demo::reader(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("dbshm: {message}");
            ExitCode::FAILURE
        }
    }
}
