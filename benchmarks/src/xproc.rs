//! One frame at a time from a writer process to a reader process, for every
//! transport: the writer stamps the time, publishes, and the reader, blocked
//! or polling, copies the whole frame into its own buffer, or holds it in
//! place (dbshm's pins, iceoryx2's loaned sample), and stamps the time again
//! (`CLOCK_MONOTONIC`, which both processes share). Then the reader
//! checks every byte and acknowledges on a pipe of its own; the writer waits
//! for that, sleeps a little so that a blocking reader is asleep again, and
//! sends the next frame. The acknowledgement is outside the timed span.
//!
//! The reader is this program run again as its child `peer`
//! (`dbshm_testkit::child`); its stdin is the data channel (for the pipe and
//! the socket) and its stdout the acknowledgement channel.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, ChildStdout, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dbshm::{monotonic_ns, DoubleBufferedSharedMemory, Options};

use crate::frames::{fill, stamps};
use crate::shmword::SharedWord;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    /// dbshm, the reader blocked in `wait_into`.
    DbshmWait,
    /// dbshm, the reader polling `latest_seq`, then `read_into`.
    DbshmPoll,
    /// dbshm, the reader in `epoll_wait` on the handle's `event_fd`, then
    /// `acknowledge_events` and `read_into`: an event loop.
    DbshmEpoll,
    /// dbshm, the reader a tokio task (a current-thread runtime) awaiting
    /// `wait_into_async`.
    DbshmAsync,
    /// dbshm, three buffers, the reader blocked in `wait_pin`: no copy.
    DbshmWaitPin,
    /// dbshm, three buffers, the reader polling `latest_seq`, then `pin`.
    DbshmPollPin,
    /// iceoryx2, the subscriber polling `receive`.
    #[cfg(feature = "iceoryx2")]
    Iceoryx2,
    /// iceoryx2, the subscriber polling `receive`, the sample held in place.
    #[cfg(feature = "iceoryx2")]
    Iceoryx2InPlace,
    /// A Unix stream socket pair, default buffer sizes.
    Socket,
    /// A pipe, default capacity (64 KiB).
    Pipe,
    /// A 32-bit word in shared memory and `FUTEX_WAKE`/`FUTEX_WAIT`: the floor
    /// of a blocking wake. Carries no frame.
    Futex,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::DbshmWait => "dbshm wait",
            Transport::DbshmPoll => "dbshm poll",
            Transport::DbshmEpoll => "dbshm epoll",
            Transport::DbshmAsync => "dbshm async (tokio)",
            Transport::DbshmWaitPin => "dbshm wait_pin",
            Transport::DbshmPollPin => "dbshm poll + pin",
            #[cfg(feature = "iceoryx2")]
            Transport::Iceoryx2 => "iceoryx2 poll",
            #[cfg(feature = "iceoryx2")]
            Transport::Iceoryx2InPlace => "iceoryx2 poll, in place",
            Transport::Socket => "Unix socket",
            Transport::Pipe => "pipe",
            Transport::Futex => "futex ping",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Transport::DbshmWait => "dbshm-wait",
            Transport::DbshmPoll => "dbshm-poll",
            Transport::DbshmEpoll => "dbshm-epoll",
            Transport::DbshmAsync => "dbshm-async",
            Transport::DbshmWaitPin => "dbshm-wait-pin",
            Transport::DbshmPollPin => "dbshm-poll-pin",
            #[cfg(feature = "iceoryx2")]
            Transport::Iceoryx2 => "iceoryx2",
            #[cfg(feature = "iceoryx2")]
            Transport::Iceoryx2InPlace => "iceoryx2-in-place",
            Transport::Socket => "socket",
            Transport::Pipe => "pipe",
            Transport::Futex => "futex",
        }
    }

    fn from_arg(arg: &str) -> Transport {
        ALL.iter()
            .copied()
            .find(|t| t.arg() == arg)
            .unwrap_or_else(|| panic!("unknown transport {arg}"))
    }
}

pub const ALL: &[Transport] = &[
    Transport::DbshmWait,
    Transport::DbshmPoll,
    Transport::DbshmEpoll,
    Transport::DbshmAsync,
    Transport::DbshmWaitPin,
    Transport::DbshmPollPin,
    #[cfg(feature = "iceoryx2")]
    Transport::Iceoryx2,
    #[cfg(feature = "iceoryx2")]
    Transport::Iceoryx2InPlace,
    Transport::Socket,
    Transport::Pipe,
    Transport::Futex,
];

/// How long a reader waits for one frame before it gives up.
const PATIENCE: Duration = Duration::from_secs(10);

/// The writer's end of one transport.
enum Sender {
    // Boxed: the handle is a few hundred bytes, the other senders a word.
    Dbshm(Box<DoubleBufferedSharedMemory<u8>>),
    #[cfg(feature = "iceoryx2")]
    Iceoryx2(crate::ice::IcePub<u8>),
    Stream(File),
    Futex(SharedWord),
}

/// The reader's end.
enum Receiver {
    DbshmWait(DoubleBufferedSharedMemory<u8>),
    DbshmPoll(DoubleBufferedSharedMemory<u8>),
    DbshmEpoll(DoubleBufferedSharedMemory<u8>, OwnedFd),
    DbshmAsync(DoubleBufferedSharedMemory<u8>, tokio::runtime::Runtime),
    DbshmWaitPin(DoubleBufferedSharedMemory<u8>),
    DbshmPollPin(DoubleBufferedSharedMemory<u8>),
    #[cfg(feature = "iceoryx2")]
    Iceoryx2(crate::ice::IceSub<u8>),
    #[cfg(feature = "iceoryx2")]
    Iceoryx2InPlace(crate::ice::IceSub<u8>),
    Stream(File),
    Futex(SharedWord),
}

impl Sender {
    fn send(&mut self, frame: &[u8], seq: u64) {
        match self {
            Sender::Dbshm(shm) => drop(shm.write_slice(frame).expect("dbshm write")),
            #[cfg(feature = "iceoryx2")]
            Sender::Iceoryx2(publisher) => publisher.send(frame).expect("iceoryx2 send"),
            Sender::Stream(stream) => stream.write_all(frame).expect("stream write"),
            Sender::Futex(word) => word.publish(seq as u32),
        }
    }
}

impl Receiver {
    /// Blocks or polls until frame `seq` is in `out`, or held in place;
    /// returns when the reader had it, and its CPU clock then (`cpu` gives
    /// it). A frame held in place is copied into `out` after that, for the
    /// check. Panics if the frame has not come within `PATIENCE`, so that a
    /// lost frame fails the run.
    fn receive(&mut self, out: &mut [u8], seq: u64, cpu: impl Fn() -> u64) -> (u64, u64) {
        let deadline = Instant::now() + PATIENCE;
        let waiting = || assert!(Instant::now() < deadline, "frame {seq} never came");
        let had = || (monotonic_ns(), cpu());
        let held = |frame: &[u8], out: &mut [u8]| {
            let when = had();
            out.copy_from_slice(frame);
            when
        };
        match self {
            Receiver::DbshmWaitPin(shm) => {
                let pinned = shm.wait_pin(seq - 1, PATIENCE).expect("dbshm wait_pin");
                assert_eq!(
                    pinned.info().seq,
                    seq,
                    "dbshm wait_pin returned another frame"
                );
                return held(pinned.as_slice(), out);
            }
            Receiver::DbshmPollPin(shm) => {
                while shm.latest_seq() < seq {
                    waiting();
                    std::hint::spin_loop();
                }
                let pinned = shm.pin().expect("dbshm pin");
                return held(pinned.as_slice(), out);
            }
            #[cfg(feature = "iceoryx2")]
            Receiver::Iceoryx2InPlace(subscriber) => {
                let mut when = None;
                while !subscriber
                    .receive_with(|frame| when = Some(held(frame, out)))
                    .expect("iceoryx2 receive")
                {
                    waiting();
                    std::hint::spin_loop();
                }
                return when.expect("held");
            }
            _ => {}
        }
        match self {
            Receiver::DbshmWait(shm) => {
                let info = shm.wait_into(seq - 1, PATIENCE, out).expect("dbshm wait");
                assert_eq!(info.seq, seq, "dbshm wait returned another frame");
            }
            Receiver::DbshmPoll(shm) => {
                while shm.latest_seq() < seq {
                    waiting();
                    std::hint::spin_loop();
                }
                shm.read_into(out).expect("dbshm read");
            }
            Receiver::DbshmEpoll(shm, epoll) => {
                // As an event loop does it: sleep until the descriptor is
                // readable, acknowledge, look.
                while shm.latest_seq() < seq {
                    waiting();
                    epoll_wait(epoll, PATIENCE);
                    shm.acknowledge_events().expect("dbshm acknowledge_events");
                }
                shm.read_into(out).expect("dbshm read");
            }
            Receiver::DbshmAsync(shm, runtime) => {
                let next = shm.wait_into_async(seq - 1, out);
                let info = runtime
                    .block_on(async { tokio::time::timeout(PATIENCE, next).await })
                    .unwrap_or_else(|_| panic!("frame {seq} never came"))
                    .expect("dbshm wait_into_async");
                assert_eq!(
                    info.seq, seq,
                    "dbshm wait_into_async returned another frame"
                );
            }
            #[cfg(feature = "iceoryx2")]
            Receiver::Iceoryx2(subscriber) => {
                while !subscriber.receive_into(out).expect("iceoryx2 receive") {
                    waiting();
                    std::hint::spin_loop();
                }
            }
            Receiver::Stream(stream) => stream.read_exact(out).expect("stream read"),
            Receiver::Futex(word) => word.wait_for(seq as u32, deadline),
            _ => unreachable!("received in place above"),
        }
        had()
    }
}

/// Keeps this process (its threads, and those it starts) on `cpu`: with
/// `DBSHM_BENCH_READER_CPU`, the reader and its handle's watcher thread
/// share one CPU, so the watcher's wake of the reader crosses no CPUs.
fn on_one_cpu(cpu: usize) {
    // SAFETY: cpu_set_t is plain data, valid all zeros; CPU_SET writes
    // within it (it ignores a CPU beyond its size) and sched_setaffinity
    // reads exactly the size given.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(rc, 0, "sched_setaffinity: {}", io::Error::last_os_error());
}

/// An epoll instance watching `fd` for readability.
fn epoll_on(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: epoll_create1 takes flags only; a non-negative result is a new
    // descriptor that the OwnedFd then owns.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epoll >= 0, "epoll_create1: {}", io::Error::last_os_error());
    // SAFETY: as above: ours, open, owned once.
    let epoll = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(epoll) };
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: both descriptors are open; `event` is a valid epoll_event.
    let rc = unsafe {
        libc::epoll_ctl(
            std::os::fd::AsRawFd::as_raw_fd(&epoll),
            libc::EPOLL_CTL_ADD,
            fd,
            &mut event,
        )
    };
    assert_eq!(rc, 0, "epoll_ctl: {}", io::Error::last_os_error());
    epoll
}

/// Sleeps in `epoll_wait` until a watched descriptor is readable (or a
/// signal, or `limit`).
fn epoll_wait(epoll: &OwnedFd, limit: Duration) {
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    let ms = limit.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `epoll` is open and `event` has room for the one event asked for.
    unsafe { libc::epoll_wait(std::os::fd::AsRawFd::as_raw_fd(epoll), &mut event, 1, ms) };
}

/// A name no other run or round uses, for a segment or a service.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "dbshm-bench-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Frames sent before the timed ones in each run: each run is a new reader
/// process, whose first copies fault in its pages, and a new buffer pool.
/// Six covers the four samples of the iceoryx2 service's pool.
const WARM_UP: u64 = 6;

/// What `lockstep` measured, in nanoseconds per frame.
#[derive(Default)]
pub struct Measured {
    /// From the writer's publish to the frame copied out in the reader.
    pub latency: Vec<f64>,
    /// CPU time of the writer's send plus the reader's receive (its wait
    /// and copy; for a polling reader, all its polling since the last frame).
    pub cpu: Vec<f64>,
}

/// This thread's CPU time in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sends `frames` frames of `bytes` bytes through `transport` in lockstep.
pub fn lockstep(transport: Transport, bytes: usize, frames: u64, gap: Duration) -> Measured {
    let name = unique_name("xproc");
    let mut stdin = Stdio::null();
    let mut sender = match transport {
        Transport::DbshmWait
        | Transport::DbshmPoll
        | Transport::DbshmEpoll
        | Transport::DbshmAsync => Sender::Dbshm(Box::new(
            Options::new()
                .unlink_on_drop(true)
                .create::<u8>(&name, [bytes])
                .expect("create the dbshm segment"),
        )),
        Transport::DbshmWaitPin | Transport::DbshmPollPin => Sender::Dbshm(Box::new(
            Options::new()
                .buffers(3)
                .unlink_on_drop(true)
                .create::<u8>(&name, [bytes])
                .expect("create the dbshm segment"),
        )),
        #[cfg(feature = "iceoryx2")]
        Transport::Iceoryx2 | Transport::Iceoryx2InPlace => {
            Sender::Iceoryx2(crate::ice::IcePub::create(&name, bytes, 1).expect("iceoryx2 service"))
        }
        Transport::Socket => {
            let (ours, theirs) = UnixStream::pair().expect("socketpair");
            stdin = Stdio::from(OwnedFd::from(theirs));
            Sender::Stream(File::from(OwnedFd::from(ours)))
        }
        Transport::Pipe => {
            let (theirs, ours) = io::pipe().expect("pipe");
            stdin = Stdio::from(theirs);
            Sender::Stream(File::from(OwnedFd::from(ours)))
        }
        Transport::Futex => Sender::Futex(SharedWord::create(&name)),
    };
    let mut child = Peer::spawn(
        &[
            "peer",
            transport.arg(),
            &bytes.to_string(),
            &name,
            &(frames + WARM_UP).to_string(),
        ],
        stdin,
    );
    child.ready();
    #[cfg(feature = "iceoryx2")]
    if let Sender::Iceoryx2(publisher) = &sender {
        publisher.connect().expect("iceoryx2 connect");
    }

    let mut frame = vec![0u8; bytes];
    let mut measured = Measured::default();
    for seq in 1..=frames + WARM_UP {
        fill(&mut frame, seq);
        std::thread::sleep(gap);
        // The CPU clock is a system call: read it before the latency clock.
        let cpu0 = thread_cpu_ns();
        let t0 = monotonic_ns();
        sender.send(&frame, seq);
        let cpu = thread_cpu_ns() - cpu0;
        let (acked, t1, reader_cpu) = child.ack();
        assert_eq!(
            acked,
            seq,
            "{}: the reader acknowledged another frame",
            transport.name()
        );
        if seq > WARM_UP {
            measured.latency.push(t1.saturating_sub(t0) as f64);
            measured.cpu.push((cpu + reader_cpu) as f64);
        }
    }
    drop(sender);
    child.finish();
    measured
}

/// Child `peer <transport> <bytes> <name> <frames>`: the reader's side of `lockstep`.
pub fn peer(args: &[String]) {
    let [transport, bytes, name, frames] = args else {
        panic!("usage: compare peer <transport> <bytes> <name> <frames>");
    };
    let transport = Transport::from_arg(transport);
    if let Ok(cpu) = std::env::var("DBSHM_BENCH_READER_CPU") {
        on_one_cpu(cpu.parse().expect("DBSHM_BENCH_READER_CPU: a CPU number"));
    }
    let bytes: usize = bytes.parse().expect("bytes");
    let frames: u64 = frames.parse().expect("frames");
    let stdin = || File::from(io::stdin().as_fd().try_clone_to_owned().expect("stdin"));
    let mut receiver = match transport {
        Transport::DbshmWait => {
            Receiver::DbshmWait(DoubleBufferedSharedMemory::open_readonly(name).expect("open"))
        }
        Transport::DbshmPoll => {
            Receiver::DbshmPoll(DoubleBufferedSharedMemory::open_readonly(name).expect("open"))
        }
        Transport::DbshmEpoll => {
            let shm = DoubleBufferedSharedMemory::open_readonly(name).expect("open");
            let epoll = epoll_on(shm.event_fd().expect("dbshm event_fd"));
            Receiver::DbshmEpoll(shm, epoll)
        }
        Transport::DbshmAsync => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a tokio runtime");
            let shm = DoubleBufferedSharedMemory::open_readonly(name).expect("open");
            Receiver::DbshmAsync(shm, runtime)
        }
        Transport::DbshmWaitPin => {
            Receiver::DbshmWaitPin(DoubleBufferedSharedMemory::open_readonly(name).expect("open"))
        }
        Transport::DbshmPollPin => {
            Receiver::DbshmPollPin(DoubleBufferedSharedMemory::open_readonly(name).expect("open"))
        }
        #[cfg(feature = "iceoryx2")]
        Transport::Iceoryx2 => {
            Receiver::Iceoryx2(crate::ice::IceSub::open(name).expect("subscribe"))
        }
        #[cfg(feature = "iceoryx2")]
        Transport::Iceoryx2InPlace => {
            Receiver::Iceoryx2InPlace(crate::ice::IceSub::open(name).expect("subscribe"))
        }
        Transport::Socket | Transport::Pipe => Receiver::Stream(stdin()),
        Transport::Futex => Receiver::Futex(SharedWord::open(name)),
    };
    let mut ack = File::from(io::stdout().as_fd().try_clone_to_owned().expect("stdout"));
    let mut send_ack = |seq: u64, t: u64, cpu: u64| {
        let mut msg = [0u8; 24];
        for (i, word) in [seq, t, cpu].into_iter().enumerate() {
            msg[8 * i..8 * i + 8].copy_from_slice(&word.to_le_bytes());
        }
        ack.write_all(&msg).expect("acknowledge");
    };
    send_ack(0, 0, 0);

    let mut out = vec![0u8; bytes];
    let mut expected = vec![0u8; bytes];
    for seq in 1..=frames {
        let cpu0 = thread_cpu_ns();
        let (t1, cpu1) = receiver.receive(&mut out, seq, thread_cpu_ns);
        let cpu = cpu1 - cpu0;
        if transport != Transport::Futex {
            fill(&mut expected, seq);
            if out != expected {
                eprintln!(
                    "compare peer: {}: frame {seq} arrived wrong; stamps {:?}",
                    transport.name(),
                    stamps(&out)
                );
                std::process::exit(3);
            }
        }
        send_ack(seq, t1, cpu);
    }
}

/// A child run of this program, with its stdout as the acknowledgement channel.
pub struct Peer {
    child: Child,
    stdout: ChildStdout,
}

impl Peer {
    pub fn spawn(args: &[&str], stdin: Stdio) -> Peer {
        let mut child = dbshm_testkit::child::command(args[0])
            .args(&args[1..])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn a peer");
        let stdout = child.stdout.take().unwrap();
        Peer { child, stdout }
    }

    /// The peer's next message: a frame number, the time it had the frame,
    /// and the CPU time its receive took.
    fn ack(&mut self) -> (u64, u64, u64) {
        let mut msg = [0u8; 24];
        if self.stdout.read_exact(&mut msg).is_err() {
            let status = self.child.wait().expect("wait for the peer");
            panic!("the peer ended without acknowledging: {status}");
        }
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
        (word(&msg[..8]), word(&msg[8..16]), word(&msg[16..]))
    }

    fn ready(&mut self) {
        assert_eq!(self.ack().0, 0, "the peer's first message is not its ready");
    }

    fn finish(mut self) {
        let status = self.child.wait().expect("wait for the peer");
        assert!(status.success(), "the peer failed: {status}");
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A peer left behind by a panic would hold its segment open.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
