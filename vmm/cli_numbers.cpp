// SPDX-License-Identifier: BSD-2-Clause
#include "cli_numbers.hpp"

#include <limits>

namespace vmm {

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::optional<unsigned> digit_value(char c, unsigned base) {
    unsigned value = 0;
    if (c >= '0' && c <= '9') {
        value = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
        value = static_cast<unsigned>(c - 'a') + 10;
    } else if (c >= 'A' && c <= 'F') {
        value = static_cast<unsigned>(c - 'A') + 10;
    } else {
        return std::nullopt;
    }
    if (value >= base) return std::nullopt;
    return value;
}

/// Digits only, in `base`, at least one.
std::optional<std::uint64_t> parse_digits(std::string_view text, unsigned base) {
    if (text.empty()) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : text) {
        auto digit = digit_value(c, base);
        if (!digit || value > (kMax - *digit) / base) return std::nullopt;
        value = value * base + *digit;
    }
    return value;
}

}  // namespace

std::optional<std::uint64_t> parse_count(std::string_view text) {
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        return parse_digits(text.substr(2), 16);
    }
    return parse_digits(text, 10);
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    // A hexadecimal count ends in digits that look like suffixes ("0x1b"):
    // only decimal counts take a suffix.
    const bool hexadecimal = text.size() > 1 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    unsigned shift = 0;
    if (!hexadecimal) {
        struct Suffix {
            std::string_view text;
            unsigned shift;
        };
        for (const Suffix& s : {Suffix{"KiB", 10}, Suffix{"MiB", 20}, Suffix{"GiB", 30}, Suffix{"K", 10},
                                Suffix{"k", 10}, Suffix{"M", 20}, Suffix{"m", 20}, Suffix{"G", 30}, Suffix{"g", 30}}) {
            if (text.size() > s.text.size() && text.ends_with(s.text)) {
                text.remove_suffix(s.text.size());
                shift = s.shift;
                break;
            }
        }
    }
    auto count = parse_count(text);
    if (!count || *count > kMax >> shift) return std::nullopt;
    return *count << shift;
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text, std::chrono::nanoseconds unit) {
    constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;
    if (unit.count() <= 0 || static_cast<std::uint64_t>(unit.count()) > kNanosPerSecond) return std::nullopt;
    const auto unit_ns = static_cast<std::uint64_t>(unit.count());
    std::string_view whole_text = text;
    std::string_view fraction_text;
    if (const auto point = text.find('.'); point != std::string_view::npos) {
        whole_text = text.substr(0, point);
        fraction_text = text.substr(point + 1);
        if (fraction_text.empty() || fraction_text.size() > 9) return std::nullopt;
    }
    auto whole = parse_digits(whole_text, 10);
    if (!whole) return std::nullopt;
    std::uint64_t fraction = 0;
    std::uint64_t scale = 1;
    if (!fraction_text.empty()) {
        auto digits = parse_digits(fraction_text, 10);
        if (!digits) return std::nullopt;
        fraction = *digits;
        for (std::size_t i = 0; i < fraction_text.size(); ++i) scale *= 10;
    }
    // fraction < 10^9 and unit_ns <= 10^9: the product stays below 2^63.
    const std::uint64_t fraction_ns = fraction * unit_ns / scale;
    if (fraction != 0 && fraction_ns == 0) return std::nullopt;  // finer than a nanosecond
    constexpr auto kMaxNs = static_cast<std::uint64_t>(std::numeric_limits<std::chrono::nanoseconds::rep>::max());
    if (*whole > (kMaxNs - fraction_ns) / unit_ns) return std::nullopt;
    return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(*whole * unit_ns + fraction_ns));
}

}  // namespace vmm
