// SPDX-License-Identifier: BSD-2-Clause
//! The reservations and addresses every guestmem figure in issue 13 uses
//! (bench/bench_dispatch.cpp builds the same ones): n regions of 4 KiB,
//! 0x2000 apart from 4 GiB, and a cycle of 65,536 addresses in them.

use crate::mt19937_64::Mt19937_64;

pub const BASE: u64 = 0x1_0000_0000;
pub const REGION_SIZE: u64 = 0x1000;
pub const STRIDE: u64 = 0x2000;
pub const ADDRESSES: usize = 65_536;
/// Offsets are multiples of 8, so that an 8-byte access never leaves its region.
const ALIGN: u64 = 8;
const SEED: u64 = 42;

/// Guest-physical base address of each of the n regions.
pub fn bases(n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| BASE + i * STRIDE).collect()
}

/// The address cycle, drawn as bench_dispatch.cpp's pick() draws it from
/// std::mt19937_64(42): random: for each address a region (next() % n), then
/// an offset ((next() % 512) * 8); repeated: the middle region (n / 2) and
/// one offset drawn once, the same address 65,536 times.
pub fn addresses(bases: &[u64], repeated: bool) -> Vec<u64> {
    let mut rng = Mt19937_64::new(SEED);
    let mut out = Vec::with_capacity(ADDRESSES);
    for _ in 0..ADDRESSES {
        let base = if repeated {
            bases[bases.len() / 2]
        } else {
            bases[(rng.next_u64() % bases.len() as u64) as usize]
        };
        out.push(base + (rng.next_u64() % (REGION_SIZE / ALIGN)) * ALIGN);
    }
    if repeated {
        let first = out[0];
        out.fill(first);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Addresses std::mt19937_64(42) gives in bench_dispatch.cpp's pick(),
    // printed by a C++ program using the standard library's generator.
    #[test]
    fn same_addresses_as_bench_dispatch() {
        let cases: [(usize, bool, [u64; 4]); 4] = [
            (10, false, [0x1_0000_c540, 0x1_0000_0a70, 0x1_0000_2be0, 0x1_0001_22f0]),
            (1000, false, [0x1_0032_c540, 0x1_0038_4a70, 0x1_002f_abe0, 0x1_0074_22f0]),
            (100_000, false, [0x1_09f6_c540, 0x1_143d_4a70, 0x1_133a_abe0, 0x1_1b4f_22f0]),
            (100_000, true, [0x1_186a_06b0, 0x1_186a_06b0, 0x1_186a_06b0, 0x1_186a_06b0]),
        ];
        for (n, repeated, want) in cases {
            let got = addresses(&bases(n), repeated);
            assert_eq!(got.len(), ADDRESSES);
            assert_eq!([got[0], got[1], got[2], got[ADDRESSES - 1]], want, "n={} repeated={}", n, repeated);
        }
    }

    #[test]
    fn generator_matches_the_cpp_standard() {
        assert!(crate::mt19937_64::matches_cpp_standard());
    }
}
