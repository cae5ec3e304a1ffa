// SPDX-License-Identifier: BSD-2-Clause
//! rust-vmm vm-memory 0.10 on the workload of guestmem's issue 13: for n
//! regions of anonymous memory (GuestMemoryMmap::from_ranges, 4 KiB each,
//! 0x2000 apart from 4 GiB) and the addresses of workload.rs, the time of
//! GuestMemory::find_region, Bytes::read_obj::<u64> and Bytes::write_obj::<u64>.
//!
//! Usage: bench-vm-memory [--out FILE] [--repetitions R] [--min-time SECONDS]
//! Writes Google Benchmark JSON (report.rs) to FILE, or to stdout. Every
//! benchmark runs R times (default 5), each time for at least SECONDS (default
//! 0.1), the repetitions of all benchmarks in one shuffled order, so that host
//! speed drift spreads over all of them, as --benchmark_enable_random_interleaving
//! does for the C++ benchmarks.

mod mt19937_64;
mod report;
mod workload;

use std::hint::black_box;
use std::time::Instant;

use vm_memory::{Bytes, GuestAddress, GuestMemory, GuestMemoryMmap};

use report::{Benchmark, Repetition};

const COUNTS: [usize; 6] = [10, 256, 1000, 4096, 10_000, 100_000];

#[derive(Clone, Copy)]
enum Op {
    FindRegion,
    ReadObj,
    WriteObj,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::FindRegion => "BM_VmMemory_FindRegion",
            Op::ReadObj => "BM_VmMemory_ReadObj",
            Op::WriteObj => "BM_VmMemory_WriteObj",
        }
    }
}

struct Options {
    out: Option<String>,
    repetitions: usize,
    min_time: f64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options { out: None, repetitions: 5, min_time: 0.1 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{} needs a value", arg));
        match arg.as_str() {
            "--out" => options.out = Some(value()?),
            "--repetitions" => {
                options.repetitions = value()?.parse().map_err(|e| format!("--repetitions: {}", e))?
            }
            "--min-time" => options.min_time = value()?.parse().map_err(|e| format!("--min-time: {}", e))?,
            _ => return Err(format!("unknown argument {}", arg)),
        }
    }
    if options.repetitions == 0 || options.min_time <= 0.0 {
        return Err("--repetitions and --min-time must be positive".into());
    }
    Ok(options)
}

/// Process CPU time in ns (what Google Benchmark reports as cpu_time).
fn cpu_now_ns() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// Performs `iterations` operations over the address cycle; returns the
/// repetition, or an error if an operation failed (an address outside the
/// regions: a bug in the workload).
fn time_op(memory: &GuestMemoryMmap, addrs: &[u64], op: Op, iterations: u64) -> Result<Repetition, String> {
    let mask = addrs.len() - 1;
    let mut failed = false;
    let cpu0 = cpu_now_ns();
    let t0 = Instant::now();
    match op {
        Op::FindRegion => {
            for i in 0..iterations as usize {
                let region = memory.find_region(GuestAddress(addrs[i & mask]));
                failed |= region.is_none();
                black_box(region);
            }
        }
        Op::ReadObj => {
            for i in 0..iterations as usize {
                let value = memory.read_obj::<u64>(GuestAddress(addrs[i & mask]));
                failed |= value.is_err();
                black_box(value.unwrap_or(0));
            }
        }
        Op::WriteObj => {
            for i in 0..iterations as usize {
                let addr = addrs[i & mask];
                failed |= memory.write_obj::<u64>(addr, GuestAddress(addr)).is_err();
            }
        }
    }
    let real = t0.elapsed().as_nanos() as f64;
    let cpu = cpu_now_ns() - cpu0;
    if failed {
        return Err(format!("{} failed at an address of the workload", op.name()));
    }
    Ok(Repetition { iterations, real_ns: real / iterations as f64, cpu_ns: cpu / iterations as f64 })
}

struct Case {
    name: String,
    memory: usize, // index into the memories
    addrs: Vec<u64>,
    op: Op,
    iterations: u64,
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(why) => {
            eprintln!("bench-vm-memory: {}", why);
            std::process::exit(2);
        }
    };
    if !mt19937_64::matches_cpp_standard() {
        eprintln!("bench-vm-memory: the Mersenne Twister does not match std::mt19937_64");
        std::process::exit(1);
    }

    let mut benchmarks: Vec<Benchmark> = Vec::new();
    let mut memories: Vec<GuestMemoryMmap> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    for &n in &COUNTS {
        let bases = workload::bases(n);
        let ranges: Vec<(GuestAddress, usize)> =
            bases.iter().map(|&b| (GuestAddress(b), workload::REGION_SIZE as usize)).collect();
        let memory = match GuestMemoryMmap::<()>::from_ranges(&ranges) {
            Ok(m) => m,
            Err(e) => {
                for op in [Op::FindRegion, Op::ReadObj, Op::WriteObj] {
                    for repeated in [0, 1] {
                        benchmarks.push(Benchmark {
                            name: format!("{}/n:{}/repeated:{}", op.name(), n, repeated),
                            repetitions: Vec::new(),
                            error: Some(format!("GuestMemoryMmap::from_ranges failed: {}", e)),
                        });
                    }
                }
                continue;
            }
        };
        // Populate every page before timing (guestmem's bench does the same).
        for &b in &bases {
            let _ = memory.write_obj::<u64>(0, GuestAddress(b));
        }
        memories.push(memory);
        for op in [Op::FindRegion, Op::ReadObj, Op::WriteObj] {
            for repeated in [false, true] {
                cases.push(Case {
                    name: format!("{}/n:{}/repeated:{}", op.name(), n, repeated as u8),
                    memory: memories.len() - 1,
                    addrs: workload::addresses(&bases, repeated),
                    op,
                    iterations: 0,
                });
            }
        }
    }

    // Calibrate: one pass over the address cycle (which also warms the
    // caches), then enough operations for min_time per repetition.
    let mut results: Vec<Result<Vec<Repetition>, String>> = Vec::new();
    for case in &mut cases {
        let warm = time_op(&memories[case.memory], &case.addrs, case.op, workload::ADDRESSES as u64);
        results.push(warm.map(|r| {
            case.iterations = ((options.min_time * 1e9 / r.real_ns.max(0.01)) as u64).max(workload::ADDRESSES as u64);
            Vec::new()
        }));
    }

    // Repetitions of all cases in one shuffled order (Fisher-Yates, fixed seed).
    let mut order: Vec<usize> = (0..cases.len()).flat_map(|c| std::iter::repeat(c).take(options.repetitions)).collect();
    let mut rng = mt19937_64::Mt19937_64::new(7);
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    for &c in &order {
        let case = &cases[c];
        if let Ok(reps) = &mut results[c] {
            match time_op(&memories[case.memory], &case.addrs, case.op, case.iterations) {
                Ok(r) => reps.push(r),
                Err(why) => results[c] = Err(why),
            }
        }
    }

    for (case, result) in cases.iter().zip(results) {
        match result {
            Ok(repetitions) => benchmarks.push(Benchmark { name: case.name.clone(), repetitions, error: None }),
            Err(why) => benchmarks.push(Benchmark { name: case.name.clone(), repetitions: Vec::new(), error: Some(why) }),
        }
    }
    for b in &benchmarks {
        let mut real: Vec<f64> = b.repetitions.iter().map(|r| r.real_ns).collect();
        real.sort_by(|a, b| a.total_cmp(b));
        match (&b.error, real.get(real.len() / 2)) {
            (Some(why), _) => eprintln!("{:<45} error: {}", b.name, why),
            (None, Some(m)) => eprintln!("{:<45} {:>9.1} ns (median of {})", b.name, m, real.len()),
            (None, None) => {}
        }
    }

    let context = [
        ("executable", std::env::args().next().unwrap_or_default()),
        ("library", "vm-memory 0.10 (Debian librust-vm-memory-dev), GuestMemoryMmap<()>".to_string()),
        ("workload", format!("{} addresses from std::mt19937_64(42), regions 4 KiB, 0x2000 apart from 4 GiB", workload::ADDRESSES)),
        ("num_cpus", std::thread::available_parallelism().map(|n| n.to_string()).unwrap_or_default()),
    ];
    let json = report::to_json(&context, &benchmarks);
    match &options.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, json) {
                eprintln!("bench-vm-memory: cannot write {}: {}", path, e);
                std::process::exit(1);
            }
        }
        None => print!("{}", json),
    }
}
