//! mio_peer: the real mio (Debian's librust-mio-dev) measured the way
//! tests/benchmarks measures the finished Waker, and lesson 09's early drop shown
//! on mio itself. tools/mio_peer.py builds and runs it; ./tools/bench puts its rows
//! beside the C++ ones.
//!
//!   mio_peer round_trip --iterations N [--repetitions R]
//!   mio_peer pending_wake --iterations N [--repetitions R]
//!   mio_peer many_producers --producers P --seconds S [--repetitions R]
//!   mio_peer early_drop --trials N
//!   mio_peer early_drop_arc --trials N
//!   mio_peer version
//!
//! The first three print one JSON object in Google Benchmark's format (one run, or
//! with R > 1 the mean, median, stddev and cv of R runs, like
//! --benchmark_report_aggregates_only), so tools/bench.py reads them as it reads the
//! C++ binaries. The early drops print one line each.
//!
//! Every wait has a deadline (5 s, as kWaitDeadline in bench_util.h; 100 ms for the
//! early drop's poll), every loop is bounded, and every error names what was being
//! done and the errno; the exit status is then 1 (2 for a usage error).
//!
//! Ownership: each measurement owns its Polls and Wakers and joins its threads before
//! it returns. Thread safety: a Poll is used by one thread only; a Waker is woken
//! from any thread (mio's Waker is Sync; threads share it through an Arc).

use mio::{Events, Poll, Token, Waker};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const MIO_VERSION: &str = env!("MIO_VERSION");
const RUSTC_VERSION: &str = env!("RUSTC_VERSION");

const TOKEN: Token = Token(1);
// Every wait gives up after this long and reports an error: a lost wake is a failed
// run with a message, never a hang.
const WAIT_DEADLINE: Duration = Duration::from_secs(5);
// The early drop's poll: long enough for any pending readiness to be reported.
const EARLY_DROP_TIMEOUT: Duration = Duration::from_millis(100);
// Untimed round trips before round_trip's timed ones.
const WARMUP_ROUND_TRIPS: u64 = 1000;
// A producer never runs longer than this, whatever the loop does.
const PRODUCER_CAP: Duration = Duration::from_secs(60);

type Result<T> = std::result::Result<T, String>;

// ---------------------------------------------------------------------------------
// Errors, system counters.

fn errno_name(code: i32) -> String {
    let name = match code {
        libc::EAGAIN => "EAGAIN",
        libc::EBADF => "EBADF",
        libc::EINTR => "EINTR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOMEM => "ENOMEM",
        libc::ENOENT => "ENOENT",
        libc::ENOSYS => "ENOSYS",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::EEXIST => "EEXIST",
        libc::EFAULT => "EFAULT",
        libc::EPIPE => "EPIPE",
        libc::ENOSPC => "ENOSPC",
        _ => return format!("errno {}", code),
    };
    name.to_string()
}

// "Waker::wake (write to its eventfd) failed: EBADF (Bad file descriptor)".
fn failed(what: &str, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or("");
            format!("{} failed: {} ({})", what, errno_name(code), text)
        }
        None => format!("{} failed: {}", what, e),
    }
}

fn check<T>(r: io::Result<T>, what: &str) -> Result<T> {
    r.map_err(|e| failed(what, &e))
}

// The calling thread's read- and write-family system calls, as the kernel counts
// them (/proc/thread-self/io, syscr and syscw), like tests/support/io_count.h.
// Reading the file is itself one read.
#[derive(Clone, Copy)]
struct IoCount {
    reads: u64,
    writes: u64,
}

fn thread_io() -> Result<IoCount> {
    let path = "/proc/thread-self/io";
    let mut file = check(std::fs::File::open(path), "open(/proc/thread-self/io)")?;
    let mut buf = [0u8; 512];
    let n = loop {
        match file.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed("read(/proc/thread-self/io)", &e)),
        }
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    match (field("syscr:"), field("syscw:")) {
        (Some(reads), Some(writes)) => Ok(IoCount { reads, writes }),
        _ => Err(format!("{} has no syscr/syscw lines", path)),
    }
}

// The calling thread's CPU time (what Google Benchmark reports as cpu_time).
fn thread_cpu() -> Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == -1 {
        return Err(failed(
            "clock_gettime(CLOCK_THREAD_CPUTIME_ID)",
            &io::Error::last_os_error(),
        ));
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

// ---------------------------------------------------------------------------------
// Waiting.

// One thread's Poll, its events, and how many times it polled.
struct Waiter {
    poll: Poll,
    events: Events,
    polls: u64,
}

impl Waiter {
    fn new(what: &str) -> Result<Waiter> {
        let poll = check(
            Poll::new(),
            &format!("Poll::new (epoll_create1) for {}", what),
        )?;
        Ok(Waiter {
            poll,
            events: Events::with_capacity(8),
            polls: 0,
        })
    }

    // Polls until TOKEN is reported (true) or `deadline` passes (false). The thread
    // sleeps in epoll_wait: on Linux, mio's Poll::poll is one epoll_wait, with the
    // timeout in milliseconds (rounded up here to at least 1 ms, so that it sleeps).
    fn wait(&mut self, deadline: Instant, what: &str) -> Result<bool> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            let left = (deadline - now).max(Duration::from_millis(1));
            self.polls += 1;
            match self.poll.poll(&mut self.events, Some(left)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(failed(what, &e)),
            }
            if self.events.iter().any(|e| e.token() == TOKEN) {
                return Ok(true);
            }
        }
    }
}

fn new_waker(waiter: &Waiter, what: &str) -> Result<Waker> {
    check(
        Waker::new(waiter.poll.registry(), TOKEN),
        &format!("Waker::new (eventfd + epoll_ctl) for {}", what),
    )
}

// One measured run: real and CPU time over all iterations, and counters per iteration
// (or per call, per wake: each counter says).
struct Run {
    iterations: u64,
    real: Duration,
    cpu: Duration,
    counters: Vec<(&'static str, f64)>,
}

fn join<T>(handle: thread::JoinHandle<Result<T>>, who: &str) -> Result<T> {
    handle
        .join()
        .map_err(|_| format!("{}: the thread panicked", who))?
}

fn spawn<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<thread::JoinHandle<Result<T>>> {
    check(
        thread::Builder::new().name(name.to_string()).spawn(body),
        &format!("spawning the {} thread (clone)", name),
    )
}

// ---------------------------------------------------------------------------------
// round_trip: thread A wakes B, B wakes A back; one iteration is one round trip.

fn ping(a: &mut Waiter, b_waker: &Waker) -> Result<()> {
    check(b_waker.wake(), "Waker::wake (write to side B's eventfd)")?;
    if !a.wait(Instant::now() + WAIT_DEADLINE, "Poll::poll on side A")? {
        return Err("no pong within 5 s".to_string());
    }
    Ok(())
}

fn round_trip(iterations: u64) -> Result<Run> {
    let mut a = Waiter::new("side A")?;
    let mut b = Waiter::new("side B")?;
    let a_waker = new_waker(&a, "side A")?;
    let b_waker = new_waker(&b, "side B")?;
    let stop = Arc::new(AtomicBool::new(false));
    let echo_stop = stop.clone();
    let echo = spawn("echo", move || -> Result<()> {
        loop {
            // Sleeps in epoll_wait until A's wake arrives.
            if !b.wait(Instant::now() + WAIT_DEADLINE, "echo: Poll::poll on side B")? {
                return Err("echo: no ping within 5 s".to_string());
            }
            if echo_stop.load(Ordering::Acquire) {
                return Ok(());
            }
            check(
                a_waker.wake(),
                "echo: Waker::wake (write to side A's eventfd)",
            )?;
        }
    })?;
    let mut measure = || -> Result<Run> {
        // Untimed round trips first, as Google Benchmark's own estimation runs are. A
        // fixed count: two runs' system calls differ by exactly their iterations' calls.
        for _ in 0..WARMUP_ROUND_TRIPS {
            ping(&mut a, &b_waker)?;
        }
        let cpu0 = thread_cpu()?;
        let start = Instant::now();
        for _ in 0..iterations {
            ping(&mut a, &b_waker)?;
        }
        let real = start.elapsed();
        let cpu = thread_cpu()? - cpu0;
        Ok(Run {
            iterations,
            real,
            cpu,
            counters: vec![],
        })
    };
    let result = measure();
    stop.store(true, Ordering::Release);
    let woke = check(b_waker.wake(), "Waker::wake (stopping the echo thread)");
    let echoed = join(echo, "echo");
    let mut errors: Vec<String> = vec![];
    for e in [
        result.as_ref().err(),
        woke.as_ref().err(),
        echoed.as_ref().err(),
    ]
    .iter()
    .flatten()
    {
        errors.push(e.to_string());
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    result
}

// ---------------------------------------------------------------------------------
// pending_wake: Waker::wake() while a wake is already pending. mio keeps no
// "pending" flag: every wake is a write(2) to its eventfd.

fn pending_wake(iterations: u64) -> Result<Run> {
    let waiter = Waiter::new("the pending wake")?;
    let waker = new_waker(&waiter, "the pending wake")?;
    check(waker.wake(), "Waker::wake (the first, left pending)")?;
    let before = thread_io()?;
    let cpu0 = thread_cpu()?;
    let start = Instant::now();
    for _ in 0..iterations {
        check(waker.wake(), "Waker::wake (write to its eventfd)")?;
    }
    let real = start.elapsed();
    let cpu = thread_cpu()? - cpu0;
    let after = thread_io()?;
    let n = iterations as f64;
    Ok(Run {
        iterations,
        real,
        cpu,
        counters: vec![
            (
                "write_syscalls_per_call",
                (after.writes - before.writes) as f64 / n,
            ),
            (
                "read_syscalls_per_call",
                (after.reads - before.reads) as f64 / n,
            ),
        ],
    })
}

// ---------------------------------------------------------------------------------
// many_producers: P threads wake one Poll as fast as they can for S seconds; one
// iteration is one loop sleep (a Poll::poll that reports the token). The counters are
// tests/benchmarks/many_producers.cc's.

fn many_producers(producers: usize, seconds: f64) -> Result<Run> {
    let mut waiter = Waiter::new("the loop")?;
    let waker = Arc::new(new_waker(&waiter, "the loop")?);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let mut threads = vec![];
    for i in 0..producers {
        let (waker, my_stop, started) = (waker.clone(), stop.clone(), started.clone());
        let spawned = spawn(&format!("producer {}", i), move || -> Result<(u64, u64)> {
            let before = thread_io()?;
            let cap = Instant::now() + PRODUCER_CAP;
            started.fetch_add(1, Ordering::SeqCst);
            let mut wakes: u64 = 0;
            while !my_stop.load(Ordering::Relaxed) {
                check(waker.wake(), "producer: Waker::wake (write to the eventfd)")?;
                wakes += 1;
                if wakes & 1023 == 0 && Instant::now() > cap {
                    break;
                }
            }
            let after = thread_io()?;
            Ok((wakes, after.writes - before.writes))
        });
        match spawned {
            Ok(h) => threads.push(h),
            Err(e) => {
                stop.store(true, Ordering::SeqCst);
                for h in threads {
                    let _ = h.join();
                }
                return Err(e);
            }
        }
    }
    let mut measure = || -> Result<(u64, Duration, Duration, u64)> {
        let start_deadline = Instant::now() + WAIT_DEADLINE;
        while started.load(Ordering::SeqCst) < producers && Instant::now() < start_deadline {
            thread::yield_now();
        }
        if started.load(Ordering::SeqCst) < producers {
            return Err("producers did not start within 5 s".to_string());
        }
        let before = thread_io()?;
        let polls0 = waiter.polls;
        let cpu0 = thread_cpu()?;
        let start = Instant::now();
        let length = Duration::from_secs_f64(seconds);
        let mut sleeps: u64 = 0;
        while sleeps == 0 || start.elapsed() < length {
            // Sleeps in epoll_wait until a producer's write makes the eventfd readable.
            if !waiter.wait(Instant::now() + WAIT_DEADLINE, "Poll::poll in the loop")? {
                return Err("no wake within 5 s".to_string());
            }
            sleeps += 1;
        }
        let real = start.elapsed();
        let cpu = thread_cpu()? - cpu0;
        let after = thread_io()?;
        let loop_syscalls = (after.reads - before.reads) + (waiter.polls - polls0);
        Ok((sleeps, real, cpu, loop_syscalls))
    };
    let result = measure();
    stop.store(true, Ordering::SeqCst);
    let (mut wakes, mut writes, mut errors) = (0u64, 0u64, vec![]);
    if let Err(e) = &result {
        errors.push(e.clone());
    }
    for (i, h) in threads.into_iter().enumerate() {
        match join(h, &format!("producer {}", i)) {
            Ok((w, s)) => {
                wakes += w;
                writes += s;
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let (sleeps, real, cpu, loop_syscalls) = result?;
    let (w, s) = (wakes as f64, sleeps as f64);
    Ok(Run {
        iterations: sleeps,
        real,
        cpu,
        counters: vec![
            ("wakes_per_sleep", w / s),
            ("writes_per_wake", writes as f64 / w),
            ("syscalls_per_wake", (writes + loop_syscalls) as f64 / w),
        ],
    })
}

// ---------------------------------------------------------------------------------
// The early drop (lesson 09) on mio: a thread wakes the Poll, then the only Waker is
// dropped, and only then does the loop poll.

fn early_drop_trial(keep_an_arc: bool) -> Result<bool> {
    let mut waiter = Waiter::new("the early drop")?;
    let waker = new_waker(&waiter, "the early drop")?;
    let kept: Option<Arc<Waker>>;
    let handle = if keep_an_arc {
        let shared = Arc::new(waker);
        let theirs = shared.clone();
        kept = Some(shared);
        spawn("waking", move || {
            let woke = check(theirs.wake(), "Waker::wake in the waking thread");
            drop(theirs); // its clone goes; the main thread's Arc keeps the Waker
            woke
        })?
    } else {
        kept = None;
        spawn("waking", move || {
            let woke = check(waker.wake(), "Waker::wake in the waking thread");
            drop(waker); // the only Waker: mio closes its eventfd here
            woke
        })?
    };
    // Joined: the thread's Waker is surely dropped before the poll below.
    join(handle, "waking")?;
    let seen = waiter.wait(
        Instant::now() + EARLY_DROP_TIMEOUT,
        "Poll::poll after the drop",
    )?;
    drop(kept); // only now, after the poll
    Ok(seen)
}

fn early_drop(trials: u64, keep_an_arc: bool) -> Result<()> {
    let mut seen = 0;
    for _ in 0..trials {
        if early_drop_trial(keep_an_arc)? {
            seen += 1;
        }
    }
    if keep_an_arc {
        println!(
            "mio {}, Waker kept alive by an Arc: seen {} of {} wakes",
            MIO_VERSION, seen, trials
        );
    } else {
        println!(
            "mio {}, Waker dropped before poll: lost {} of {} wakes (each poll: {} ms timeout)",
            MIO_VERSION,
            trials - seen,
            trials,
            EARLY_DROP_TIMEOUT.as_millis()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Google Benchmark's JSON.

fn json_entry(name: &str, fields: &[(&str, String)], counters: &[(&'static str, f64)]) -> String {
    let mut parts: Vec<String> = vec![format!("\"name\": \"{}\"", name)];
    parts.extend(fields.iter().map(|(k, v)| format!("\"{}\": {}", k, v)));
    parts.extend(
        counters
            .iter()
            .map(|(k, v)| format!("\"{}\": {}", k, number(*v))),
    );
    format!("    {{{}}}", parts.join(", "))
}

fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{:e}", v)
    } else {
        "0".to_string()
    }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn per_iteration(run: &Run) -> (f64, f64) {
    let n = run.iterations.max(1) as f64;
    (
        run.real.as_nanos() as f64 / n,
        run.cpu.as_nanos() as f64 / n,
    )
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn print_results(name: &str, runs: &[Run]) {
    let mut entries = vec![];
    let base = |run_type: &str| -> Vec<(&str, String)> {
        vec![
            ("run_name", quoted(name)),
            ("run_type", quoted(run_type)),
            ("repetitions", runs.len().to_string()),
            ("threads", "1".to_string()),
        ]
    };
    if runs.len() == 1 {
        let (real, cpu) = per_iteration(&runs[0]);
        let mut fields = base("iteration");
        fields.push(("repetition_index", "0".to_string()));
        fields.push(("iterations", runs[0].iterations.to_string()));
        fields.push(("real_time", number(real)));
        fields.push(("cpu_time", number(cpu)));
        fields.push(("time_unit", quoted("ns")));
        entries.push(json_entry(name, &fields, &runs[0].counters));
    } else {
        // The statistic of a column across runs: mean, median, stddev (n - 1), cv.
        let stat = |values: &[f64], which: &str| -> f64 {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let mut sorted = values.to_vec();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            match which {
                "mean" => mean,
                "median" => median(&sorted),
                "stddev" => sd,
                _ => {
                    if mean != 0.0 {
                        sd / mean
                    } else {
                        0.0
                    }
                }
            }
        };
        let real: Vec<f64> = runs.iter().map(|r| per_iteration(r).0).collect();
        let cpu: Vec<f64> = runs.iter().map(|r| per_iteration(r).1).collect();
        for which in ["mean", "median", "stddev", "cv"] {
            let mut fields = base("aggregate");
            fields.push(("aggregate_name", quoted(which)));
            let unit = if which == "cv" { "percentage" } else { "time" };
            fields.push(("aggregate_unit", quoted(unit)));
            fields.push(("iterations", runs.len().to_string()));
            fields.push(("real_time", number(stat(&real, which))));
            fields.push(("cpu_time", number(stat(&cpu, which))));
            fields.push(("time_unit", quoted("ns")));
            let counters: Vec<(&'static str, f64)> = runs[0]
                .counters
                .iter()
                .enumerate()
                .map(|(i, (k, _))| {
                    let column: Vec<f64> = runs.iter().map(|r| r.counters[i].1).collect();
                    (*k, stat(&column, which))
                })
                .collect();
            entries.push(json_entry(
                &format!("{}_{}", name, which),
                &fields,
                &counters,
            ));
        }
    }
    println!("{{");
    println!(
        "  \"context\": {{\"executable\": \"mio_peer\", \"mio_version\": {}, \"rustc_version\": {}}},",
        quoted(MIO_VERSION),
        quoted(RUSTC_VERSION)
    );
    println!("  \"benchmarks\": [\n{}\n  ]", entries.join(",\n"));
    println!("}}");
}

// ---------------------------------------------------------------------------------
// Arguments.

const USAGE: &str = "usage: mio_peer round_trip --iterations N [--repetitions R]
       mio_peer pending_wake --iterations N [--repetitions R]
       mio_peer many_producers --producers P --seconds S [--repetitions R]
       mio_peer early_drop --trials N
       mio_peer early_drop_arc --trials N
       mio_peer version";

struct Args {
    command: String,
    options: Vec<(String, String)>,
}

impl Args {
    fn parse(argv: &[String]) -> Result<Args> {
        let command = argv.get(0).cloned().ok_or("no subcommand")?;
        let mut options = vec![];
        let mut rest = argv[1..].iter();
        while let Some(flag) = rest.next() {
            if !flag.starts_with("--") {
                return Err(format!("unexpected argument {:?}", flag));
            }
            let value = rest.next().ok_or(format!("{} needs a value", flag))?;
            options.push((flag[2..].to_string(), value.clone()));
        }
        Ok(Args { command, options })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, name: &str, default: Option<u64>) -> Result<u64> {
        match self.get(name) {
            None => default.ok_or(format!("--{} N is required", name)),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("--{} needs a positive integer, not {:?}", name, v)),
            },
        }
    }

    fn only(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in &self.options {
            if !allowed.contains(&k.as_str()) {
                return Err(format!("{} takes no --{}", self.command, k));
            }
        }
        Ok(())
    }
}

enum Failure {
    Usage(String),
    Run(String),
}

fn repeat(reps: u64, mut f: impl FnMut() -> Result<Run>) -> std::result::Result<Vec<Run>, Failure> {
    (0..reps).map(|_| f().map_err(Failure::Run)).collect()
}

fn run(argv: &[String]) -> std::result::Result<(), Failure> {
    let args = Args::parse(argv).map_err(Failure::Usage)?;
    let usage = Failure::Usage;
    match args.command.as_str() {
        "round_trip" | "pending_wake" => {
            args.only(&["iterations", "repetitions"]).map_err(usage)?;
            let n = args.count("iterations", None).map_err(usage)?;
            let reps = args.count("repetitions", Some(1)).map_err(usage)?;
            let name = format!("{}/mio_waker", args.command);
            let runs = if args.command == "round_trip" {
                repeat(reps, || round_trip(n))?
            } else {
                repeat(reps, || pending_wake(n))?
            };
            print_results(&name, &runs);
        }
        "many_producers" => {
            args.only(&["producers", "seconds", "repetitions"])
                .map_err(usage)?;
            let p = args.count("producers", None).map_err(usage)? as usize;
            let reps = args.count("repetitions", Some(1)).map_err(usage)?;
            let seconds = match args.get("seconds").map(|s| s.parse::<f64>()) {
                Some(Ok(s)) if s > 0.0 && s <= 60.0 => s,
                _ => return Err(usage("--seconds needs a number in (0, 60]".to_string())),
            };
            let runs = repeat(reps, || many_producers(p, seconds))?;
            print_results(&format!("many_producers/mio_waker/producers:{}", p), &runs);
        }
        "early_drop" | "early_drop_arc" => {
            args.only(&["trials"]).map_err(usage)?;
            let trials = args.count("trials", None).map_err(usage)?;
            early_drop(trials, args.command == "early_drop_arc").map_err(Failure::Run)?;
        }
        "version" => {
            args.only(&[]).map_err(usage)?;
            println!("mio {} ({})", MIO_VERSION, RUSTC_VERSION);
        }
        other => return Err(usage(format!("unknown subcommand {:?}", other))),
    }
    Ok(())
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(&argv) {
        Ok(()) => {}
        Err(Failure::Usage(e)) => {
            eprintln!("mio_peer: {}\n{}", e, USAGE);
            std::process::exit(2);
        }
        Err(Failure::Run(e)) => {
            eprintln!("mio_peer {}: {}", argv.join(" "), e);
            std::process::exit(1);
        }
    }
}
