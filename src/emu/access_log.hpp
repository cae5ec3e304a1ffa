// SPDX-License-Identifier: BSD-2-Clause
// The last emulated accesses a vCPU delivered, so that an instruction run
// again can be given the answers its first run got.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "guestmem/types.hpp"

namespace guestmem::emu {

/// A ring of the last kSize emulated accesses the VMM saw, with the value a
/// read returned. Without a hook per instruction the engine cannot stop
/// between instructions: a handler's stop request ends the run in the middle
/// of its instruction, and the backend then runs that instruction once more
/// by itself. The accesses of that first, interrupted run (up to the one
/// that asked to stop) are answered from here instead of reaching the VMM
/// twice. vCPU thread only.
class AccessLog {
public:
    static constexpr unsigned kSize = 16;  // more than one instruction's accesses

    void record(GuestAddr addr, unsigned size, bool is_write, std::uint64_t value) {
        entries_[next_ % kSize] = {addr, value, static_cast<std::uint8_t>(size), is_write};
        ++next_;
    }
    /// Position the next record() takes.
    std::uint64_t next() const { return next_; }

    struct Answer {
        std::uint64_t value;
        bool last;  // the access at the replay's end
    };
    /// The answer to an access of the replayed instruction: the latest
    /// recorded one like it at or before position `end` (an instruction does
    /// not repeat an access, so earlier instructions' ones lie further back),
    /// or nothing if none is recorded.
    std::optional<Answer> find(std::uint64_t end, GuestAddr addr, unsigned size, bool is_write) const {
        for (std::uint64_t i = end + 1; i-- > 0 && end - i < kSize && i + kSize >= next_;) {
            const Entry& e = entries_[i % kSize];
            if (e.addr == addr && e.size == size && e.is_write == is_write) return Answer{e.value, i == end};
        }
        return std::nullopt;
    }

private:
    struct Entry {
        GuestAddr addr = 0;
        std::uint64_t value = 0;
        std::uint8_t size = 0;
        bool is_write = false;
    };
    std::array<Entry, kSize> entries_{};
    std::uint64_t next_ = 0;
};

}  // namespace guestmem::emu
