// SPDX-License-Identifier: BSD-2-Clause
// The numbers of the VMM's command line, parsed strictly: one parser per kind
// of number, used by every flag of that kind, so that no flag takes text the
// others refuse (a sign, a space, an exponent, inf, nan, trailing letters).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vmm {

/// A count: decimal digits, or "0x" and hexadecimal digits; nothing else.
/// nullopt when malformed or above 2^64 - 1.
std::optional<std::uint64_t> parse_count(std::string_view text);

/// A size in bytes: a count, optionally followed by K, M or G (also k, m, g,
/// KiB, MiB, GiB) for units of 2^10, 2^20 and 2^30 bytes. nullopt when
/// malformed or above 2^64 - 1 bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// A duration of `unit`s (at most a second): decimal digits, optionally a
/// point and up to nine more digits ("20", "0.5"). nullopt when malformed,
/// when the fraction is finer than a nanosecond, or when the duration does not
/// fit std::chrono::nanoseconds (about 292 years).
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text, std::chrono::nanoseconds unit);

}  // namespace vmm
