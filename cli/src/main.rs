//! The `dbshm` command: a multi-process demo, and list, info, rm, watch,
//! snapshot, record and play for the segments on this machine.

mod demo;
mod fate;
mod play;
mod record;
mod recording;
mod segments;
mod signals;
mod snapshot;
mod stats;
mod table;
mod time;
mod watch;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

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
  dbshm rm --stale --age 600         remove segments idle for 10 minutes
  dbshm snapshot camera              the latest frame as camera.png
  dbshm record camera -o run.npy     every new frame, with its seq and timestamp
  dbshm play run.npy camera          the recorded frames, back into a segment
  dbshm --dir /mnt/huge list         segments in another directory (also DBSHM_DIR)"
)]
struct Cli {
    /// The directory segments are in, instead of $DBSHM_DIR or /dev/shm
    /// (a tmpfs or hugetlbfs mount, for huge pages). The demo's processes
    /// use it too.
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
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
    /// List every dbshm segment in /dev/shm and in the chosen directory
    /// (--dir, or $DBSHM_DIR), found by header, not by name.
    #[command(
        after_help = "Example:\n  dbshm list\n  dbshm list --json\n  dbshm --dir /mnt/huge list"
    )]
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
    /// Save a segment's latest frame (or, with --wait, the next one) as a
    /// PNG or a .npy file.
    #[command(after_help = "Examples:
  dbshm snapshot camera                      camera.png (or camera.npy if no PNG can hold it)
  dbshm snapshot camera -o frame.npy         any frame, for numpy.load
  dbshm snapshot depth --normalize -o d.png  a u16 depth map or a float heat map, as 8-bit gray
  dbshm snapshot camera --bgr --wait         the next frame, its BGR channels (OpenCV) as RGB")]
    Snapshot(snapshot::SnapshotArgs),
    /// Record every new frame of a segment, with its seq and timestamp, into
    /// a .npy file numpy loads, until Ctrl-C, --frames or --duration.
    #[command(
        after_help = "The file is one array of records with fields seq, timestamp_ns and frame:
  rec = numpy.load(\"run.npy\"); rec[\"frame\"], rec[\"seq\"], rec[\"timestamp_ns\"]
Its header counts each frame as it is written: after Ctrl-C, a full disk or
even SIGKILL, the file loads with every whole frame written. Ctrl-C writes
the frames still queued in memory first; a second Ctrl-C ends at once.

Examples:
  dbshm record camera -o run.npy                 until Ctrl-C
  dbshm record camera -o run.npy --duration 60   one minute
  dbshm record state -o state.npy --frames 1000"
    )]
    Record(record::RecordArgs),
    /// Write the frames of a recording (or any .npy array of frames) into a
    /// segment, at the pace they were recorded or at --fps.
    #[command(after_help = "Examples:
  dbshm play run.npy camera                      as recorded, once
  dbshm play run.npy camera --fps 30 --loop      30 fps, over and over
  dbshm play run.npy replay --mode 0640 --buffers 3
  dbshm --dir /mnt/huge play run.npy camera      a segment on huge pages")]
    Play(play::PlayArgs),
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    if let Some(dir) = &cli.dir {
        // The library's default directory, for every call below and every
        // process the demo starts. Set before any thread exists.
        std::env::set_var(dbshm::DIR_ENV, dir);
    }
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::List { json } => segments::list(json),
        Command::Info { name, json } => segments::info(&name, json),
        Command::Rm(args) => segments::rm(args),
        Command::Watch(args) => watch::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Record(args) => record::run(args),
        Command::Play(args) => play::run(args),
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

/// clap's verdict as the README promises it: help and version on stdout
/// with status 0; a usage error as one line on stderr, with status 1 like
/// every other error, naming the help to read.
fn usage_error(e: &clap::Error) -> ExitCode {
    let what = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print(); // to stdout, for these kinds
            return ExitCode::SUCCESS;
        }
        // `dbshm` alone: clap would print the whole help, to stderr.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => "no command given".to_owned(),
        // clap's message is its first paragraph ("error: ..."), which may
        // span lines (a list of missing arguments); tips and usage follow.
        _ => {
            let text = e.render().to_string();
            let first = text.split("\n\n").next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            first.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    eprintln!("dbshm: {what}; try '{}'", help_for_this_command());
    ExitCode::FAILURE
}

/// `dbshm watch --help` when the command line names a command, else `dbshm --help`.
fn help_for_this_command() -> String {
    let cli = Cli::command();
    // args_os: `args` panics on an argument that is not UTF-8.
    let named = std::env::args_os()
        .nth(1)
        .and_then(|arg| arg.into_string().ok())
        .filter(|arg| cli.find_subcommand(arg).is_some());
    match named {
        Some(command) => format!("dbshm {command} --help"),
        None => "dbshm --help".to_owned(),
    }
}
