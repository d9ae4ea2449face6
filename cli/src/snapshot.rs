//! `dbshm snapshot`: a segment's latest frame (or the next one) as a PNG
//! or an `.npy` file. PNG for `u8` and `u16` frames shaped HxW, HxWx1
//! (grayscale), HxWx3 (RGB) or HxWx4 (RGBA), 16-bit for `u16`; with
//! `--normalize`, any numeric HxW or HxWx1 frame as an 8-bit grayscale PNG
//! of its range; `.npy` for any frame. The file is written beside its
//! final name and renamed into place, so that a failure leaves no half
//! file under it.

use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use dbshm::{DbShmError, DoubleBufferedSharedMemory, Dtype, Element};
use npyz::WriterBuilder;
use num_traits::ToPrimitive;

use crate::stats;

#[derive(Args)]
pub struct SnapshotArgs {
    /// The segment.
    name: String,
    /// The file to write: FILE.png or FILE.npy (default: NAME.png where a
    /// PNG can hold the frame, else NAME.npy).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Wait for the next frame instead of taking the latest.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    timeout: f64,
    /// Map the frame's range (min to max) to an 8-bit grayscale PNG: depth
    /// in u16, a float heat map. For HxW and HxWx1 frames of any type.
    #[arg(long)]
    normalize: bool,
    /// Swap the first and third channels of a 3- or 4-channel frame (BGR
    /// from OpenCV) for the PNG, which is RGB.
    #[arg(long)]
    bgr: bool,
}

pub fn run(args: SnapshotArgs) -> Result<ExitCode, String> {
    let info = dbshm::inspect(&args.name).map_err(|e| e.to_string())?;
    // The file is as private as the segment.
    dbshm::with_element_type!(info.dtype, snapshot(&args, info.mode & 0o666))
}

/// What a file will hold.
enum Format {
    Png,
    Npy,
}

fn snapshot<T: Element + ToPrimitive + npyz::AutoSerialize>(
    args: &SnapshotArgs,
    mode: u32,
) -> Result<ExitCode, String> {
    let shm =
        DoubleBufferedSharedMemory::<T>::open_readonly(&args.name).map_err(|e| e.to_string())?;
    let (shape, dtype) = (shm.shape().to_vec(), shm.dtype());
    let png_fits = png_layout(&shape, dtype, args.normalize).is_ok();
    let output = args.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}.{}",
            args.name,
            if png_fits { "png" } else { "npy" }
        ))
    });
    let format = match output.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("png") => Format::Png,
        Some(e) if e.eq_ignore_ascii_case("npy") => Format::Npy,
        _ => {
            return Err(format!(
                "{}: the file must end in .png or .npy",
                output.display()
            ))
        }
    };
    if matches!(format, Format::Png) {
        if let Err(why) = png_layout(&shape, dtype, args.normalize) {
            return Err(format!(
                "segment {:?}: a {} frame of {dtype} {why}; write it as .npy (-o {}.npy)",
                args.name,
                stats::shape(&shape),
                args.name
            ));
        }
    }
    let mut frame = vec![T::zero(); shm.len()];
    let info = if args.wait {
        let timeout = Duration::try_from_secs_f64(args.timeout)
            .map_err(|_| format!("--timeout {}: not a number of seconds", args.timeout))?;
        shm.wait_into(shm.latest_seq(), timeout, &mut frame)
    } else {
        shm.read_into(&mut frame)
    }
    .map_err(|e| match e {
        DbShmError::Timeout { .. } => format!(
            "segment {:?}: no new frame within {} s",
            args.name, args.timeout
        ),
        e => e.to_string(),
    })?;
    let written = write_atomically(&output, mode, |file| match format {
        Format::Npy => write_npy(file, &shape, &frame),
        Format::Png => write_png(file, &shape, &frame, args),
    })?;
    let range = written.map_or(String::new(), |(lo, hi)| {
        format!(", {lo} to {hi} mapped to 0 to 255")
    });
    println!(
        "{}: frame {} of segment {:?}, {} {dtype}{range}",
        output.display(),
        info.seq,
        args.name,
        stats::shape(&shape)
    );
    Ok(ExitCode::SUCCESS)
}

/// The PNG colour type for a frame of `shape` and `dtype`, or why a PNG
/// cannot hold it.
fn png_layout(shape: &[usize], dtype: Dtype, normalize: bool) -> Result<png::ColorType, String> {
    let channels = match shape {
        [_, _] | [_, _, 1] => 1,
        [_, _, c @ (3 | 4)] if !normalize => *c,
        _ if normalize => {
            return Err("cannot be normalized to grayscale (it needs HxW or HxWx1)".into())
        }
        _ => return Err("cannot be a PNG (a PNG holds HxW, HxWx1, HxWx3 or HxWx4)".into()),
    };
    if !normalize && !matches!(dtype, Dtype::U8 | Dtype::U16) {
        return Err(
            "cannot be a PNG (a PNG holds u8 or u16; --normalize maps any type to 8-bit grayscale)"
                .into(),
        );
    }
    if shape[0] > u32::MAX as usize || shape[1] > u32::MAX as usize {
        return Err("is too large for a PNG".into());
    }
    Ok(match channels {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Rgba,
    })
}

fn write_npy<T: npyz::AutoSerialize + Copy>(
    file: &mut std::fs::File,
    shape: &[usize],
    frame: &[T],
) -> std::io::Result<Option<(String, String)>> {
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(BufWriter::new(file))
        .begin_nd()?;
    writer.extend(frame.iter().copied())?;
    writer.finish()?;
    Ok(None)
}

fn write_png<T: Element + ToPrimitive>(
    file: &mut std::fs::File,
    shape: &[usize],
    frame: &[T],
    args: &SnapshotArgs,
) -> std::io::Result<Option<(String, String)>> {
    let color = png_layout(shape, T::DTYPE, args.normalize).expect("checked before");
    let channels = shape.get(2).copied().unwrap_or(1);
    let (mut bytes, depth, range) = if args.normalize {
        let (bytes, lo, hi) = normalized(frame);
        (bytes, png::BitDepth::Eight, Some((lo, hi)))
    } else if T::DTYPE == Dtype::U16 {
        // PNG's 16-bit samples are big-endian.
        let bytes = frame
            .iter()
            .flat_map(|v| v.to_u16().unwrap_or(0).to_be_bytes())
            .collect();
        (bytes, png::BitDepth::Sixteen, None)
    } else {
        let bytes = frame.iter().map(|v| v.to_u8().unwrap_or(0)).collect();
        (bytes, png::BitDepth::Eight, None)
    };
    if args.bgr && channels >= 3 {
        let sample = if depth == png::BitDepth::Sixteen {
            2
        } else {
            1
        };
        for pixel in bytes.chunks_mut(channels * sample) {
            for k in 0..sample {
                pixel.swap(k, 2 * sample + k);
            }
        }
    }
    let mut encoder = png::Encoder::new(BufWriter::new(file), shape[1] as u32, shape[0] as u32);
    encoder.set_color(color);
    encoder.set_depth(depth);
    // zlib's own level: the default fast one barely compresses a frame.
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(&bytes)
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    Ok(range.map(|(lo, hi)| (lo.to_string(), hi.to_string())))
}

/// The frame mapped from its range to 0..=255 (NaNs to 0), and the range.
fn normalized<T: ToPrimitive>(frame: &[T]) -> (Vec<u8>, f64, f64) {
    let values: Vec<f64> = frame
        .iter()
        .map(|v| v.to_f64().unwrap_or(f64::NAN))
        .collect();
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo > hi { (0.0, 0.0) } else { (lo, hi) };
    let span = if hi > lo { hi - lo } else { 1.0 };
    let bytes = values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                ((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8
            } else {
                0
            }
        })
        .collect();
    (bytes, lo, hi)
}

/// Writes `path` through a new file beside it (permission bits `mode`,
/// less the umask), renamed over it once complete; the new file is removed
/// if writing fails.
fn write_atomically<R>(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<R>,
) -> Result<R, String> {
    let name = path
        .file_name()
        .ok_or(format!("{}: not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(fail)?;
    let result = write(&mut file).and_then(|r| {
        file.flush()?;
        file.sync_all()?;
        Ok(r)
    });
    match result.and_then(|r| std::fs::rename(&tmp, path).map(|()| r)) {
        Ok(r) => Ok(r),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(fail(e))
        }
    }
}
