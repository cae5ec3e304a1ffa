// SPDX-License-Identifier: BSD-2-Clause
//! The 64-bit Mersenne Twister (MT19937-64), as C++'s std::mt19937_64
//! defines it, so that this driver draws the same addresses as
//! bench/bench_dispatch.cpp from the same seed. Written from the published
//! parameters of the generator.

const N: usize = 312;
const M: usize = 156;
const MATRIX_A: u64 = 0xB502_6F5A_A966_19E9;
const UPPER_MASK: u64 = !0u64 << 31;
const LOWER_MASK: u64 = !UPPER_MASK;
const INIT_MULTIPLIER: u64 = 6_364_136_223_846_793_005;

pub struct Mt19937_64 {
    state: [u64; N],
    next: usize,
}

impl Mt19937_64 {
    /// The generator std::mt19937_64(seed) starts as.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u64; N];
        state[0] = seed;
        for i in 1..N {
            let prev = state[i - 1];
            state[i] = INIT_MULTIPLIER.wrapping_mul(prev ^ (prev >> 62)).wrapping_add(i as u64);
        }
        Mt19937_64 { state, next: N }
    }

    /// The next output, as std::mt19937_64::operator() returns it.
    pub fn next_u64(&mut self) -> u64 {
        if self.next == N {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= (y >> 29) & 0x5555_5555_5555_5555;
        y ^= (y << 17) & 0x71D6_7FFF_EDA6_0000;
        y ^= (y << 37) & 0xFFF7_EEE0_0000_0000;
        y ^ (y >> 43)
    }

    fn twist(&mut self) {
        for i in 0..N {
            let x = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % N] & LOWER_MASK);
            let mut x_a = x >> 1;
            if x & 1 != 0 {
                x_a ^= MATRIX_A;
            }
            self.state[i] = self.state[(i + M) % N] ^ x_a;
        }
        self.next = 0;
    }
}

/// True when the generator matches the C++ standard's check value: the
/// 10,000th output of a default-constructed std::mt19937_64 (seed 5489).
pub fn matches_cpp_standard() -> bool {
    let mut rng = Mt19937_64::new(5489);
    let mut value = 0;
    for _ in 0..10_000 {
        value = rng.next_u64();
    }
    value == 9_981_545_732_273_789_042
}
