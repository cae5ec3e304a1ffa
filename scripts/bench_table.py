#!/usr/bin/env python3
"""Prints the benchmark table from the JSON files scripts/bench.sh writes."""
import json
import os
import sys

out = sys.argv[1]


def load(name):
    path = os.path.join(out, name + ".json")
    if not os.path.exists(path):
        return {}
    runs = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("error_occurred"):
            continue
        agg = b.get("aggregate_name")
        if agg and agg != "median":
            continue
        key = b["run_name"]
        # Prefer the median of repetitions; otherwise the single run.
        if agg == "median" or key not in runs:
            runs[key] = b
    return runs


def ns(b):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def find(runs, prefix):
    for k, v in runs.items():
        if k.startswith(prefix):
            return v
    return None


rows = []


def row(figure, value, unit, baseline_name, baseline, ratio, target, met):
    rows.append((figure, f"{value:,.1f} {unit}" if value is not None else "n/a",
                 f"{baseline_name} {baseline:,.1f} {unit}" if baseline is not None else baseline_name,
                 f"{ratio:.3g}x" if ratio is not None else "-", target,
                 ("yes" if met else "NO") if met is not None else "-"))


d = load("bench_dispatch")
if d:
    for anon, label in ((0, "regular"), (1, "anonymous")):
        for rep, pat in ((0, "random"), (1, "repeated")):
            small = find(d, f"BM_Dispatch/n:10/anon:{anon}/repeated:{rep}")
            big = find(d, f"BM_Dispatch/n:100000/anon:{anon}/repeated:{rep}")
            if small and big:
                r = ns(big) / ns(small)
                row(f"dispatch 100k {label} {pat}", ns(big), "ns", "same at n=10", ns(small), r, "<= 2x", r <= 2)
            mp = find(d, f"BM_Baseline_Map/n:100000/anon:{anon}/repeated:{rep}")
            if big and mp:
                row(f"dispatch 100k {label} {pat} vs std::map", ns(big), "ns", "std::map", ns(mp),
                    ns(mp) / ns(big), "(info) baseline/lib", None)
    miss = find(d, "BM_Baseline_MissLatency")
    small = find(d, "BM_Dispatch/n:10/anon:0/repeated:0")
    big = find(d, "BM_Dispatch/n:100000/anon:0/repeated:0")
    if miss and small and big:
        extra = ns(big) - ns(small)
        row("dispatch 100k random: time over n=10", extra, "ns", "one L2+TLB miss", ns(miss), extra / ns(miss),
            "(info) misses", None)
    for n in (10, 100, 1000, 10000, 100000):
        lib = find(d, f"BM_Dispatch/n:{n}/anon:1/repeated:0")
        lin = find(d, f"BM_Baseline_LinearAnon/n:{n}/anon:1/repeated:0")
        if lib and lin:
            r = ns(lin) / ns(lib)
            target = ">= 10x" if n == 10000 else "(info)"
            row(f"dispatch {n} anon random vs linear scan", ns(lib), "ns", "linear", ns(lin), r, target,
                (r >= 10) if n == 10000 else None)

k = load("bench_kvm")
if k:
    def per_op(name):
        b = find(k, name)
        return ns(b) / b["ops"] / 1000 if b else None  # us per op

    rr, lr = per_op("BM_MmioRead_Raw"), per_op("BM_MmioRead_Lib")
    if rr and lr:
        row("KVM MMIO read round trip", lr, "us", "raw KVM_RUN", rr, lr / rr, "<= 1.05x", lr / rr <= 1.05)
    rw, lw = per_op("BM_MmioWrite_Raw"), per_op("BM_MmioWrite_Lib")
    if rw and lw:
        row("KVM MMIO write exit", lw, "us", "raw KVM_RUN", rw, lw / rw, "(info)", None)
    ri, ld = per_op("BM_Ioeventfd_Raw"), per_op("BM_Doorbell_Lib")
    if ri and ld:
        row("KVM doorbell write (ioeventfd)", ld, "us", "raw KVM_IOEVENTFD", ri, ld / ri, "<= 1.10x", ld / ri <= 1.10)
    if ld and lw:
        row("KVM doorbell vs plain MMIO write", ld, "us", "lib MMIO write", lw, lw / ld, ">= 2x faster",
            lw / ld >= 2)
    lp = per_op("BM_WritePosting_Lib")
    if lp and lw:
        row("KVM posted write (coalesced)", lp, "us", "lib MMIO write", lw, lw / lp, "(info) speedup", None)

e = load("bench_emu")
if e:
    for arch in ("x86_64", "aarch64"):
        raw = find(e, f"BM_RawUnicorn_MmioRead/{arch}/")
        if raw:
            row(f"emu MMIO read ({arch}), raw Unicorn", ns(raw) / raw["ops"], "ns", "-", None, None,
                "(info) baseline", None)

m = load("bench_memory")
if m:
    for size, label in (("4KiB", "4 KiB frames, iterator"), ("2MiB", "2 MiB frames")):
        b = find(m, f"BM_Map1GiB_{size}")
        if b:
            t = ns(b) / 1e6
            slots = int(b.get("slots", 0))
            ok = (t < 50 and slots <= 4) if size == "4KiB" else None
            row(f"map 1 GiB from {label} ({slots} slots)", t, "ms", "-", None, None,
                "< 50 ms, few slots" if size == "4KiB" else "(info)", ok)
    mc = find(m, "BM_Copy_Memcpy")
    for name, label in (("BM_Copy_ReadGuest", "copy 1 MiB out of guest RAM"),
                        ("BM_Copy_WriteGuest", "copy 1 MiB into guest RAM")):
        for scattered, layout in ((1, "256 scattered frames"), (0, "256 frames in order")):
            b = find(m, f"{name}/scattered:{scattered}/")
            if b and mc:
                r = ns(mc) / ns(b)
                row(f"{label} ({layout})", ns(b) / 1000, "us", "memcpy", ns(mc) / 1000, r, ">= 0.80 of memcpy",
                    r >= 0.8)
    for name, label in (("BM_Metadata_Regular", "regular"), ("BM_Metadata_Anonymous", "anonymous")):
        b = find(m, name)
        if b:
            v = b["bytes_per_reservation"]
            row(f"metadata per {label} reservation (100k)", v, "B", "-", None, None, "< 256 B", v < 256)

headers = ("figure", "value", "baseline", "ratio", "target", "met?")
widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(6)]
fmt = "  ".join("{:<%d}" % w for w in widths)
print(fmt.format(*headers))
print(fmt.format(*("-" * w for w in widths)))
for r in rows:
    print(fmt.format(*r))
