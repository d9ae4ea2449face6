//! The recording file of `dbshm record` and `dbshm play`: one `.npy` file
//! that numpy reads without dbshm, a 1-D array of records
//!
//! ```text
//! [('seq', '<u8'), ('timestamp_ns', '<u8'), ('frame', '<u1', (1080, 1920, 3))]
//! ```
//!
//! so that `np.load(f)["frame"]` is the frames, `["seq"]` their numbers and
//! `["timestamp_ns"]` when they were published (CLOCK_MONOTONIC). One file
//! and one count: a frame and its numbers are written together, and no
//! second file can disagree with the first about how many there are.
//!
//! The header is written first with room for any count (20 digits), and
//! its count rewritten in place, at the same width, after every record: a
//! file cut off anywhere (SIGKILL, a full disk) loads as the records its
//! header counts, and numpy ignores the bytes after them. The header text is
//! npy format 1.0, its type description npyz's.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use dbshm::{Dtype, Element};
use npyz::{AutoSerialize, DType, Field, TypeStr};

/// The fields before the frame in every record, in order.
const SEQ: &str = "seq";
const TIMESTAMP: &str = "timestamp_ns";
const FRAME: &str = "frame";
/// Bytes of `seq` and `timestamp_ns`, before the frame.
const PREFIX: usize = 16;
/// The longest header `play` reads, numpy's own limit.
const MAX_HEADER: u32 = 10_000;
/// The deepest brackets nest in a header `play` parses: a recording's,
/// `{'descr': [('frame', '|u1', (1080, 1920, 3))], ...}`.
const MAX_NESTING: usize = 4;
/// The width the count is written in: every u64 fits.
const COUNT_WIDTH: usize = 20;

/// What a recording holds: frames of one type and shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Whether records carry `seq` and `timestamp_ns` (a recording), or are
    /// bare frames (an `(N, *shape)` array numpy saved, which `play` takes
    /// too).
    pub numbered: bool,
}

impl Layout {
    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.size()
    }

    /// Bytes of one record.
    fn record_bytes(&self) -> usize {
        self.frame_bytes() + if self.numbered { PREFIX } else { 0 }
    }

    /// The header for `count` records: magic, version 1.0, length, and the
    /// text padded with spaces to a multiple of 64 bytes, as numpy writes it;
    /// and where in it the count is, [`count_field`] long.
    fn header(&self, count: u64) -> (Vec<u8>, usize) {
        let frame = self
            .shape
            .iter()
            .rev()
            .fold(element_dtype(self.dtype), |inner, &d| {
                DType::Array(d as u64, Box::new(inner))
            });
        let (descr, dims) = if self.numbered {
            let field = |name: &str, dtype| Field {
                name: name.into(),
                dtype,
            };
            let number = number_dtype();
            let record = DType::Record(vec![
                field(SEQ, number.clone()),
                field(TIMESTAMP, number),
                field(FRAME, frame),
            ]);
            (record.descr(), String::new())
        } else {
            let dims: String = self.shape.iter().map(|d| format!("{d}, ")).collect();
            (element_dtype(self.dtype).descr(), dims)
        };
        let mut text = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (");
        // magic (6) + version (2) + length (2), then the text.
        let count_at = 10 + text.len();
        text += &format!("{}, {dims}), }}", count_field(count));
        // Ending in '\n'.
        let padded = (10 + text.len() + 1).next_multiple_of(64) - 10;
        text.extend(std::iter::repeat_n(' ', padded - 1 - text.len()));
        text.push('\n');
        let mut header = b"\x93NUMPY\x01\x00".to_vec();
        header.extend((text.len() as u16).to_le_bytes());
        header.extend(text.as_bytes());
        (header, count_at)
    }
}

/// The count as the header holds it: padded with spaces to a width every
/// u64 fits, so that the header keeps its length as the count grows.
fn count_field(count: u64) -> String {
    format!("{count:<COUNT_WIDTH$}")
}

/// The npy type of `seq` and `timestamp_ns`: little-endian u64, as written.
fn number_dtype() -> DType {
    DType::Plain("<u8".parse().expect("a valid type string"))
}

/// The npy type of an element type, in this machine's byte order.
fn element_dtype(dtype: Dtype) -> DType {
    fn of<T: AutoSerialize>() -> DType {
        T::default_dtype()
    }
    dbshm::with_element_type!(dtype, of())
}

/// The element type an npy type names, if dbshm has it in this machine's
/// byte order (`|u1` and `<u1` alike).
fn dbshm_dtype(ty: &TypeStr) -> Option<Dtype> {
    let same = |a: &TypeStr, b: &TypeStr| {
        a.type_char() == b.type_char()
            && a.size_field() == b.size_field()
            && (a.size_field() == 1 || a.endianness() == b.endianness())
    };
    Dtype::ALL.into_iter().find(|&d| match element_dtype(d) {
        DType::Plain(native) => same(ty, &native),
        _ => false,
    })
}

/// A zeroed buffer of `len` elements for a frame; an error, where the
/// allocator would abort the process, when memory runs out.
pub fn frame_buffer<T: Element>(len: usize) -> Result<Vec<T>, String> {
    let mut frame = Vec::new();
    frame.try_reserve_exact(len).map_err(|_| {
        format!(
            "no memory for a frame of {} bytes",
            len.saturating_mul(std::mem::size_of::<T>())
        )
    })?;
    frame.resize(len, T::zero());
    Ok(frame)
}

/// The bytes of `frame`, as a record holds them.
pub fn bytes_of<T: Element>(frame: &[T]) -> &[u8] {
    // SAFETY: `Element` is sealed to the primitive integers and floats,
    // which have no padding, so every byte of the slice is initialized; u8
    // needs no alignment, and the length covers the same memory.
    unsafe { std::slice::from_raw_parts(frame.as_ptr().cast(), std::mem::size_of_val(frame)) }
}

/// The bytes of `frame`, to read a record's frame into.
pub fn bytes_of_mut<T: Element>(frame: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `bytes_of`; and every bit pattern is a value of these
    // types, so any bytes written through the slice leave valid elements.
    unsafe {
        std::slice::from_raw_parts_mut(frame.as_mut_ptr().cast(), std::mem::size_of_val(frame))
    }
}

/// A recording being written.
pub struct Recorder {
    file: File,
    layout: Layout,
    count: u64,
    /// Where in the file the header's count is.
    count_at: u64,
    /// Where the next record goes.
    end: u64,
}

impl Recorder {
    /// Creates `path`, which must not exist (an hour's recording is not
    /// overwritten by accident, and a link planted under the name is not
    /// followed), with permission bits `mode` (less the umask), and writes
    /// the header of no records.
    pub fn create(path: &Path, layout: Layout, mode: u32) -> io::Result<Recorder> {
        let mut file = File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        let (header, count_at) = layout.header(0);
        file.write_all(&header)?;
        Ok(Recorder {
            file,
            layout,
            count: 0,
            count_at: count_at as u64,
            end: header.len() as u64,
        })
    }

    /// Appends a record and counts it in the header. On an error (a full
    /// disk) the file is cut back to the records before it and still loads.
    pub fn append(&mut self, seq: u64, timestamp_ns: u64, frame: &[u8]) -> io::Result<()> {
        debug_assert_eq!(frame.len(), self.layout.frame_bytes());
        let mut prefix = [0u8; PREFIX];
        prefix[..8].copy_from_slice(&seq.to_le_bytes());
        prefix[8..].copy_from_slice(&timestamp_ns.to_le_bytes());
        let written = self
            .file
            .write_all_at(&prefix, self.end)
            .and_then(|()| self.file.write_all_at(frame, self.end + PREFIX as u64))
            // The count goes in after the record: a header never counts a
            // record that is not all there. Only its digits change.
            .and_then(|()| {
                let count = count_field(self.count + 1);
                self.file.write_all_at(count.as_bytes(), self.count_at)
            });
        if let Err(e) = written {
            // Give back what the partial record took: the header still counts
            // the records before it, so the file loads either way.
            let _ = self.file.set_len(self.end);
            return Err(e);
        }
        self.count += 1;
        self.end += self.layout.record_bytes() as u64;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Bytes in the file.
    pub fn bytes(&self) -> u64 {
        self.end
    }

    /// Flushes the file to its disk.
    pub fn finish(self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// A recording (or an array of frames) being read.
pub struct Player {
    file: File,
    pub layout: Layout,
    pub count: u64,
    start: u64,
}

impl Player {
    /// Opens `path` and reads its header: a recording, or an array of
    /// frames of one of dbshm's element types (its first axis the frames).
    pub fn open(path: &Path) -> Result<Player, String> {
        let fail = |why: String| format!("{}: {why}", path.display());
        let mut file = File::open(path).map_err(|e| fail(e.to_string()))?;
        check_header_text(&mut file).map_err(fail)?;
        file.rewind().map_err(|e| fail(e.to_string()))?;
        let header = npyz::NpyHeader::from_reader(&mut file).map_err(|e| {
            // A parse error quotes the whole header, over lines.
            let e = e.to_string();
            let first: String = e
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(120)
                .collect();
            fail(format!("not an npy file ({})", first.trim_end()))
        })?;
        let start = file.stream_position().map_err(|e| fail(e.to_string()))?;
        if header.order() != npyz::Order::C {
            return Err(fail("is in Fortran order; save it in C order".into()));
        }
        let unsupported = |what: &DType| {
            fail(format!(
                "holds {}, not a recording of dbshm frames (fields seq and timestamp_ns \
                 (u64) and frame) nor an array of frames of a dbshm element type in this \
                 machine's byte order",
                // Field names come from the file: no escape sequences.
                crate::stats::printable(&what.descr())
            ))
        };
        let dtype = header.dtype();
        let (layout, count) = match (&dtype, header.shape()) {
            (DType::Record(fields), &[count]) => {
                (numbered(fields).ok_or_else(|| unsupported(&dtype))?, count)
            }
            (DType::Plain(ty), [count, shape @ ..]) if !shape.is_empty() => {
                let element = dbshm_dtype(ty).ok_or_else(|| unsupported(&dtype))?;
                let shape = shape
                    .iter()
                    .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
                    .collect();
                let layout = Layout {
                    dtype: element,
                    shape,
                    numbered: false,
                };
                (layout, *count)
            }
            (DType::Record(_), shape) => {
                return Err(fail(format!(
                    "holds records in an array of shape {shape:?}; a recording has one axis"
                )))
            }
            (_, shape) => {
                return Err(fail(format!(
                    "holds an array of shape {shape:?}; frames need at least two axes, the \
                     first counting frames"
                )))
            }
        };
        let frame_bytes = layout
            .shape
            .iter()
            .try_fold(layout.dtype.size(), |n, &d| n.checked_mul(d))
            .filter(|&n| n < isize::MAX as usize - PREFIX);
        match frame_bytes {
            None => {
                return Err(fail(format!(
                    "holds frames of shape {:?}, too large for memory",
                    layout.shape
                )))
            }
            Some(0) => {
                return Err(fail(format!(
                    "holds frames of shape {:?}, which have no elements",
                    layout.shape
                )))
            }
            Some(_) => {}
        }
        let size = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let whole = size.saturating_sub(start) / layout.record_bytes() as u64;
        if whole < count {
            return Err(fail(format!(
                "its header counts {count} frames but it holds {whole}; the file was cut short"
            )));
        }
        Ok(Player {
            file,
            layout,
            count,
            start,
        })
    }

    /// The timestamp of record `index` (below `count`), if records have one.
    pub fn timestamp(&self, index: u64) -> io::Result<Option<u64>> {
        if !self.layout.numbered {
            return Ok(None);
        }
        let mut number = [0u8; 8];
        let at = self.start + index * self.layout.record_bytes() as u64;
        self.file.read_exact_at(&mut number, at + 8)?;
        Ok(Some(u64::from_le_bytes(number)))
    }

    /// Reads record `index` (below `count`): its frame into `frame`, and
    /// its timestamp if it has one.
    pub fn read(&mut self, index: u64, frame: &mut [u8]) -> io::Result<Option<u64>> {
        let mut at = self.start + index * self.layout.record_bytes() as u64;
        if self.layout.numbered {
            at += PREFIX as u64;
        }
        self.file.read_exact_at(frame, at)?;
        self.timestamp(index)
    }
}

/// Refuses what npyz would choke on before it parses the header: a length
/// it would allocate unread (numpy.load refuses more than 10,000 bytes,
/// its `max_header_size`), and brackets nested deep, which its parser
/// backtracks through in time that doubles with each level (20 levels: 4 s,
/// 24: a minute; 8 levels, 10,000 bytes: 6 s). Brackets are counted in
/// quoted text too: a count that skipped strings could be fooled by an
/// escaped quote, and one that counts them only errs towards refusing.
fn check_header_text(file: &mut File) -> Result<(), String> {
    let mut pre = [0u8; 12];
    let read = file.read(&mut pre).map_err(|e| e.to_string())?;
    if read < pre.len() || !pre.starts_with(b"\x93NUMPY") {
        return Ok(()); // npyz says what is wrong with it
    }
    let (length, start) = match pre[6] {
        1 => (u32::from(u16::from_le_bytes([pre[8], pre[9]])), 10),
        _ => (u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]), 12),
    };
    if length > MAX_HEADER {
        return Err(format!(
            "its npy header claims {length} bytes; numpy refuses more than {MAX_HEADER}"
        ));
    }
    let mut text = vec![0u8; length as usize];
    let read = file.read_at(&mut text, start).map_err(|e| e.to_string())?;
    let (mut depth, mut deepest) = (0usize, 0);
    for &b in &text[..read] {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(format!(
            "its npy header nests brackets {deepest} deep; a recording's nest {MAX_NESTING}"
        ));
    }
    Ok(())
}

/// The layout of records with fields seq and timestamp_ns (u64) and a
/// frame of a dbshm element type, in that order.
fn numbered(fields: &[Field]) -> Option<Layout> {
    let number = number_dtype();
    let [seq, timestamp, frame] = fields else {
        return None;
    };
    if (
        seq.name.as_str(),
        timestamp.name.as_str(),
        frame.name.as_str(),
    ) != (SEQ, TIMESTAMP, FRAME)
        || seq.dtype != number
        || timestamp.dtype != number
    {
        return None;
    }
    let mut shape = Vec::new();
    let mut inner = &frame.dtype;
    while let DType::Array(d, element) = inner {
        shape.push(usize::try_from(*d).unwrap_or(usize::MAX));
        inner = element;
    }
    match inner {
        DType::Plain(ty) if !shape.is_empty() => Some(Layout {
            dtype: dbshm_dtype(ty)?,
            shape,
            numbered: true,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(shape: &[usize], numbered: bool) -> Layout {
        Layout {
            dtype: Dtype::U16,
            shape: shape.to_vec(),
            numbered,
        }
    }

    #[test]
    fn the_header_keeps_its_length_for_any_count_and_npyz_reads_it() {
        for l in [layout(&[2, 3], true), layout(&[5], false)] {
            let (empty, count_at) = l.header(0);
            assert_eq!(empty.len() % 64, 0);
            for count in [1, 12345, u64::MAX] {
                let (header, at) = l.header(count);
                assert_eq!(at, count_at, "{count}");
                assert_eq!(header.len(), empty.len(), "{count}");
                // What `append` writes: the digits alone, in place.
                let mut patched = empty.clone();
                patched[at..at + COUNT_WIDTH].copy_from_slice(count_field(count).as_bytes());
                assert_eq!(patched, header, "{count}");
                let parsed = npyz::NpyHeader::from_reader(&header[..]).unwrap();
                let want: Vec<u64> = if l.numbered {
                    vec![count]
                } else {
                    [count]
                        .into_iter()
                        .chain(l.shape.iter().map(|&d| d as u64))
                        .collect()
                };
                assert_eq!(parsed.shape(), want);
            }
        }
    }

    #[test]
    fn a_recording_reads_back_as_written_and_a_cut_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("dbshm-recording-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("r.npy");
        let l = layout(&[2, 3], true);
        let mut recorder = Recorder::create(&path, l.clone(), 0o600).unwrap();
        let frames: Vec<Vec<u16>> = (0..3u16)
            .map(|k| (0..6).map(|i| k * 100 + i).collect())
            .collect();
        for (k, frame) in frames.iter().enumerate() {
            recorder
                .append(10 + k as u64, 1000 * k as u64, bytes_of(frame))
                .unwrap();
        }
        assert!(
            Recorder::create(&path, l.clone(), 0o600).is_err(),
            "an existing file is kept"
        );
        recorder.finish().unwrap();
        let mut player = Player::open(&path).unwrap();
        assert_eq!((&player.layout, player.count), (&l, 3));
        for (k, want) in frames.iter().enumerate() {
            let mut frame = vec![0u16; 6];
            let timestamp_ns = player.read(k as u64, bytes_of_mut(&mut frame)).unwrap();
            assert_eq!((timestamp_ns, &frame), (Some(1000 * k as u64), want));
        }
        // One byte short of the last record.
        let size = std::fs::metadata(&path).unwrap().len();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(size - 1)
            .unwrap();
        let e = Player::open(&path).err().unwrap();
        assert!(e.contains("counts 3 frames but it holds 2"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_dbshm_element_types_in_this_byte_order_are_frames() {
        let native = |d: Dtype| match element_dtype(d) {
            DType::Plain(ty) => ty,
            _ => unreachable!(),
        };
        for d in Dtype::ALL {
            assert_eq!(dbshm_dtype(&native(d)), Some(d));
        }
        let parse = |s: &str| s.parse::<TypeStr>().unwrap();
        assert_eq!(dbshm_dtype(&parse("<u1")), Some(Dtype::U8));
        assert_eq!(dbshm_dtype(&parse(">u2")), None);
        assert_eq!(dbshm_dtype(&parse("<c8")), None);
    }
}
