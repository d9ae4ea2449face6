//! `dbshm list`, `dbshm info` and `dbshm rm`.

use std::process::ExitCode;
use std::time::Duration;

use dbshm::SegmentInfo;

use crate::stats;
use crate::table::print_table;
use crate::time;

/// The directories `list` looks in: /dev/shm and the default directory
/// (--dir or $DBSHM_DIR), each once.
fn dirs() -> Vec<std::path::PathBuf> {
    let mut dirs = vec![std::path::PathBuf::from("/dev/shm")];
    let chosen = dbshm::default_dir();
    if !dirs.contains(&chosen) {
        dirs.push(chosen);
    }
    dirs
}

pub fn list(json: bool) -> Result<ExitCode, String> {
    let mut segments = Vec::new();
    let dirs = dirs();
    for dir in &dirs {
        segments.extend(dbshm::list_in(dir).map_err(|e| e.to_string())?);
    }
    // Names come from the disk, where anyone may have made any name.
    for s in &mut segments {
        s.name = stats::printable(&s.name);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&segments).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let looked = dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if segments.is_empty() {
        println!("no dbshm segments in {looked}");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 7]> = segments
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.dtype.to_string(),
                stats::shape(&s.shape),
                stats::bytes(s.total_size),
                s.latest_seq.to_string(),
                s.latest_age_ns
                    .map_or("never".into(), |ns| stats::age(Duration::from_nanos(ns))),
                writer(s),
            ]
        })
        .collect();
    print_table(
        &[
            "NAME",
            "DTYPE",
            "SHAPE",
            "SIZE",
            "FRAME",
            "LAST FRAME",
            "WRITER",
        ],
        &rows,
    );
    println!("(in {looked})");
    Ok(ExitCode::SUCCESS)
}

fn writer(s: &SegmentInfo) -> String {
    match (s.writer_alive, s.writer_pid) {
        (true, pid) => format!("alive (pid {pid})"),
        (false, 0) => "none yet".into(),
        (false, _) => "gone".into(),
    }
}

pub fn info(name: &str, json: bool) -> Result<ExitCode, String> {
    let s = dbshm::inspect(name).map_err(|e| e.to_string())?;
    let created = stats::age(since_unix_ns(s.created_unix_ns));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&s).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let flags = if s.flags & dbshm::layout::FLAG_WAKE_ALWAYS != 0 {
        "wake at every publish (some users may only read)"
    } else {
        "wake only counted waiters"
    };
    println!("segment        {}", s.name);
    println!(
        "object         {}, mode {:04o}, owner uid {}, group gid {}",
        s.dir.join(&s.name).display(),
        s.mode,
        s.uid,
        s.gid
    );
    println!("lock file      {}", s.dir.join(&s.lock_file).display());
    println!("created        {created}");
    println!("element type   {} ({} bytes)", s.dtype, s.dtype.size());
    println!(
        "shape          {:?} ({} elements)",
        s.shape,
        s.shape.iter().product::<usize>()
    );
    println!(
        "frame          {} ({} bytes)",
        stats::bytes(s.frame_bytes),
        s.frame_bytes
    );
    println!(
        "segment size   {} ({} bytes)",
        stats::bytes(s.total_size),
        s.total_size
    );
    println!("buffers at     {:?}", s.buffer_offsets);
    println!("pages          {}", pages(s.backing.as_ref()));
    println!(
        "layout         version {}, flags {:#x}: {flags}",
        s.layout_version, s.flags
    );
    let last = s
        .latest_age_ns
        .map_or("never".into(), |ns| stats::age(Duration::from_nanos(ns)));
    println!("latest frame   {} (published {last})", s.latest_seq);
    println!("writer         {}", writer(&s));
    println!(
        "in use         {}",
        if s.in_use {
            "yes: a process has it open"
        } else {
            "no process has it open"
        }
    );
    println!("waiters        {}", s.waiters);
    println!("pinners        {}", pinners(&s.pins));
    for (i, slot) in s.slots.iter().enumerate() {
        let state = if slot.stamp % 2 == 1 {
            "being written"
        } else {
            "whole"
        };
        let pinned = match slot.pinned_by {
            0 => String::new(),
            n => format!(", pinned by {n}"),
        };
        let label = format!("buffer {i}");
        let backing = match &s.backing {
            Some(b) => format!(", {}", buffer_pages(b, i)),
            None => String::new(),
        };
        println!(
            "{label:<15}frame {}, stamp {} ({state}){pinned}{backing}",
            slot.frame, slot.stamp
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What backs the buffers, in a line.
fn pages(backing: Option<&dbshm::layout::Backing>) -> String {
    let Some(b) = backing else {
        return "not recorded (made by an older dbshm, or its creator could not ask its kernel)"
            .into();
    };
    let size = page_size(b.page_kb);
    let all = |huge: bool| {
        (0..b.huge_kb.len()).all(|i| b.all_huge(i) == huge && (huge || b.huge_kb[i] == 0))
    };
    let what = if all(true) {
        format!("every buffer on huge pages of {size}")
    } else if all(false) {
        format!("every buffer on pages of {size} (no huge pages)")
    } else {
        format!("some buffers on huge pages of {size}, see below")
    };
    format!("{what}, as its creator's kernel reported")
}

/// What backs buffer `i`.
fn buffer_pages(b: &dbshm::layout::Backing, i: usize) -> String {
    match b.huge_kb[i] {
        _ if b.all_huge(i) => format!("on {} pages", page_size(b.page_kb)),
        0 => "on small pages".into(),
        kb => format!(
            "{kb} of {} kB on {} pages",
            b.frame_kb,
            page_size(b.page_kb)
        ),
    }
}

/// A page size given in kB, as "4 KiB", "2 MiB" or "1 GiB".
fn page_size(kb: u32) -> String {
    match kb {
        kb if kb >= 1 << 20 && kb % (1 << 20) == 0 => format!("{} GiB", kb >> 20),
        kb if kb >= 1 << 10 && kb % (1 << 10) == 0 => format!("{} MiB", kb >> 10),
        kb => format!("{kb} KiB"),
    }
}

/// The pin records in use, and what each holds.
fn pinners(pins: &[dbshm::PinInfo]) -> String {
    if pins.is_empty() {
        return "none".into();
    }
    let each: Vec<String> = pins
        .iter()
        .map(|p| {
            let owner = if p.owner_alive { "" } else { ", owner dead" };
            format!("record {} holds {:?}{owner}", p.record, p.buffers)
        })
        .collect();
    format!("{}: {}", pins.len(), each.join("; "))
}

/// The time since a moment of the realtime clock, in nanoseconds.
fn since_unix_ns(ns: u64) -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(Duration::from_nanos(ns))
}

#[derive(clap::Args)]
pub struct RmArgs {
    /// Segments to remove (with --stale: only these are considered).
    names: Vec<String>,
    /// Remove even if a process has it open, or the object is not a dbshm segment.
    #[arg(long)]
    force: bool,
    /// Remove every segment on the machine that no process has open and
    /// that has had no frame for --age seconds (never forced), and dbshm's
    /// own files that nothing uses.
    #[arg(long)]
    stale: bool,
    /// With --stale: seconds without a frame (or since creation, if none).
    #[arg(long, default_value_t = 60.0)]
    age: f64,
}

pub fn rm(args: RmArgs) -> Result<ExitCode, String> {
    if args.stale {
        return rm_stale(&args);
    }
    if args.names.is_empty() {
        return Err("rm: name at least one segment, or use --stale".into());
    }
    let mut failed = false;
    for name in &args.names {
        match rm_one(name, args.force) {
            Ok(what) => println!("removed {name}{what}"),
            Err(why) => {
                eprintln!("dbshm: rm: {why}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Removes one segment, or says why not.
fn rm_one(name: &str, force: bool) -> Result<&'static str, String> {
    match dbshm::inspect(name) {
        Ok(s) if s.in_use && !force => Err(format!(
            "{name}: in use: {}; use --force to remove it anyway",
            if s.writer_alive {
                format!("its writer (pid {}) is alive", s.writer_pid)
            } else {
                "a process (reader, or a writer yet to write) has it open".into()
            }
        )),
        Ok(s) => s.unlink().map(|()| "").map_err(|e| e.to_string()),
        Err(dbshm::DbShmError::Incompatible { reason, .. }) if !force => Err(format!(
            "{name}: not a dbshm segment ({reason}); use --force to remove it anyway"
        )),
        Err(dbshm::DbShmError::Incompatible { .. }) => {
            std::fs::remove_file(dbshm::default_dir().join(name))
                .map(|()| " (not a dbshm segment)")
                .map_err(|e| format!("{name}: {e}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn rm_stale(args: &RmArgs) -> Result<ExitCode, String> {
    let age = time::seconds(args.age, "rm: --age")?;
    let candidates = dbshm::list().map_err(|e| e.to_string())?;
    let (mut removed, mut failed) = (0, false);
    for s in candidates {
        if !args.names.is_empty() && !args.names.contains(&s.name) {
            continue;
        }
        if s.in_use || s.idle() < age {
            continue;
        }
        let last = match s.latest_age_ns {
            Some(ns) => format!("last frame {}", stats::age(Duration::from_nanos(ns))),
            None => format!(
                "never written, created {}",
                stats::age(since_unix_ns(s.created_unix_ns))
            ),
        };
        match s.unlink() {
            Ok(()) => {
                println!("removed {} (unused, {last})", stats::printable(&s.name));
                removed += 1;
            }
            Err(e) => {
                eprintln!("dbshm: rm: {e}");
                failed = true;
            }
        }
    }
    if args.names.is_empty() {
        for file in dbshm::remove_leftovers().map_err(|e| e.to_string())? {
            println!("removed {file} (dbshm's own file, unused)");
            removed += 1;
        }
    }
    if removed == 0 && !failed {
        println!("no stale segments");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
