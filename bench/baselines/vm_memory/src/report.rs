// SPDX-License-Identifier: BSD-2-Clause
//! Results in Google Benchmark's JSON schema (the fields
//! scripts/bench_table.py reads): one "iteration" entry per repetition and
//! "mean", "median" and "stddev" aggregates, times in ns per operation.

use std::fmt::Write;

/// One repetition: operations timed, and real and CPU ns per operation.
pub struct Repetition {
    pub iterations: u64,
    pub real_ns: f64,
    pub cpu_ns: f64,
}

/// All repetitions of one benchmark, or why it could not run.
pub struct Benchmark {
    pub name: String,
    pub repetitions: Vec<Repetition>,
    pub error: Option<String>,
}

fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn stddev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

fn entry(out: &mut Vec<String>, fields: &[(&str, String)]) {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("      \"{}\": {}", k, v)).collect();
    out.push(format!("    {{\n{}\n    }}", body.join(",\n")));
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

/// The whole JSON document; `context` holds extra (key, value) strings.
pub fn to_json(context: &[(&str, String)], benchmarks: &[Benchmark]) -> String {
    let mut entries = Vec::new();
    for b in benchmarks {
        let reps = b.repetitions.len();
        if let Some(why) = &b.error {
            entry(&mut entries, &[
                ("name", quoted(&b.name)),
                ("run_name", quoted(&b.name)),
                ("run_type", quoted("iteration")),
                ("error_occurred", "true".into()),
                ("error_message", quoted(why)),
            ]);
            continue;
        }
        for (i, r) in b.repetitions.iter().enumerate() {
            entry(&mut entries, &[
                ("name", quoted(&b.name)),
                ("run_name", quoted(&b.name)),
                ("run_type", quoted("iteration")),
                ("repetitions", reps.to_string()),
                ("repetition_index", i.to_string()),
                ("threads", "1".into()),
                ("iterations", r.iterations.to_string()),
                ("real_time", format!("{:.6e}", r.real_ns)),
                ("cpu_time", format!("{:.6e}", r.cpu_ns)),
                ("time_unit", quoted("ns")),
            ]);
        }
        let real: Vec<f64> = b.repetitions.iter().map(|r| r.real_ns).collect();
        let cpu: Vec<f64> = b.repetitions.iter().map(|r| r.cpu_ns).collect();
        let aggregates: [(&str, fn(&[f64]) -> f64); 3] = [
            ("mean", mean),
            ("median", |v| median(&mut v.to_vec())),
            ("stddev", stddev),
        ];
        for (aggregate, f) in aggregates {
            entry(&mut entries, &[
                ("name", quoted(&format!("{}_{}", b.name, aggregate))),
                ("run_name", quoted(&b.name)),
                ("run_type", quoted("aggregate")),
                ("repetitions", reps.to_string()),
                ("threads", "1".into()),
                ("aggregate_name", quoted(aggregate)),
                ("aggregate_unit", quoted("time")),
                ("iterations", reps.to_string()),
                ("real_time", format!("{:.6e}", f(&real))),
                ("cpu_time", format!("{:.6e}", f(&cpu))),
                ("time_unit", quoted("ns")),
            ]);
        }
    }
    let context: Vec<String> =
        context.iter().map(|(k, v)| format!("    \"{}\": {}", k, quoted(v))).collect();
    format!(
        "{{\n  \"context\": {{\n{}\n  }},\n  \"benchmarks\": [\n{}\n  ]\n}}\n",
        context.join(",\n"),
        entries.join(",\n")
    )
}
