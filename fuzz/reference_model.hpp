// SPDX-License-Identifier: BSD-2-Clause
// A small, obviously-correct model of one VM's address space, written for
// clarity rather than speed: linear scans everywhere, no shared code with the
// library. The fuzzer checks every library result against it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace fuzzmodel {

using Addr = std::uint64_t;

/// What a reservation's fault callback does (chosen by the fuzzer).
enum class Policy { handled, unhandled, restart, ignore, error };  // FaultResult's order

struct Frame {
    unsigned size_bits = 12;
    std::map<std::uint64_t, std::uint8_t> bytes;  // sparse; absent bytes are 0
};

struct Cap {
    int frame = -1;
    unsigned rights = 0;  // seL4 layout: bit 0 write, bit 1 read, bits 2-3 grants
};

/// One frame the iterator will return, in order.
struct FrameRequest {
    std::uint64_t cap = 0;
    unsigned rights = 0;
    Addr addr = 0;
    unsigned size_bits = 0;
};

struct Mapping {
    Addr base = 0;
    std::uint64_t size = 0;
    int frame = -1;
    bool writable = false;  // mapped readable (no-read frames are not recorded)
};

struct Reservation {
    Addr base = 0;
    std::uint64_t size = 0;
    bool anonymous = false;
    Policy policy = Policy::handled;
    std::uint64_t value = 0;  // what a handled read returns
    bool mapped = false;
    bool deferred = false;  // a deferred mapping waits for the first fault
    std::vector<FrameRequest> pending;
    std::vector<Mapping> mappings;
};

struct Pool {
    Addr base = 0;
    std::uint64_t size = 0;
};

/// The expected outcome of one access.
struct AccessResult {
    bool ok = false;
    std::uint64_t value = 0;  // for reads
};

class Model {
public:
    bool initialized = false;
    bool deferred_mode = false;
    std::optional<Policy> unhandled_policy;  // none: an unhandled access is an error
    std::uint64_t unhandled_value = 0;
    std::map<std::uint64_t, Reservation> reservations;  // by library id
    std::vector<Pool> pools;
    std::vector<Frame> frames;
    std::map<std::uint64_t, Cap> caps;

    bool overlaps_anything(Addr base, std::uint64_t size) const;
    /// The lowest fitting address, pools in address order; nullopt when full.
    std::optional<Addr> anon_fit(std::uint64_t rounded, std::uint64_t align) const;
    /// Validates an iterator's frames for `r`; the mappings if all are valid.
    std::optional<std::vector<Mapping>> plan_mapping(const Reservation& r,
                                                     const std::vector<FrameRequest>& frames) const;
    AccessResult access(Addr addr, unsigned size, bool is_write, std::uint64_t value);

private:
    Reservation* holder(Addr addr);
    std::optional<Addr> next_base_above(Addr addr) const;
    AccessResult access_piece(Reservation* r, Addr addr, unsigned size, bool is_write, std::uint64_t value);
    bool memory_access(const Reservation& r, Addr addr, unsigned size, bool is_write, std::uint64_t& value);
    AccessResult apply(Policy policy, std::uint64_t handled_value, unsigned size, bool is_write);
};

}  // namespace fuzzmodel
