// SPDX-License-Identifier: BSD-2-Clause
// Helpers shared by the guestmem test suites.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "guestmem/capability_space.hpp"
#include "guestmem/log.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::test {

/// Captures guestmem's log lines while alive (the process-wide handler is
/// restored to the default afterwards). Threads that log must be joined before
/// the capture goes away.
class LogCapture {
public:
    LogCapture() {
        set_log_handler([this](LogLevel level, std::string_view message) {
            std::lock_guard lock(mutex_);
            lines_.push_back(Line{level, std::string(message)});
        });
    }
    ~LogCapture() { set_log_handler(nullptr); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    struct Line {
        LogLevel level;
        std::string text;
    };

    std::vector<Line> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return lines_.size();
    }
    void clear() {
        std::lock_guard lock(mutex_);
        lines_.clear();
    }
    /// True when one error line starts with "<function>: " and contains every
    /// one of `parts`.
    bool has_error(std::string_view function, std::initializer_list<std::string_view> parts = {}) const {
        return any_error(std::string(function) + ": ", parts);
    }
    /// True when one error line contains every one of `parts`, anywhere.
    bool has_error_with(std::initializer_list<std::string_view> parts) const { return any_error("", parts); }
    /// The last error line, or "" if there is none.
    std::string last_error() const {
        std::lock_guard lock(mutex_);
        for (auto line = lines_.rbegin(); line != lines_.rend(); ++line) {
            if (line->level == LogLevel::error) return line->text;
        }
        return {};
    }
    std::size_t error_count() const {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count_if(lines_.begin(), lines_.end(),
                                                      [](const Line& line) { return line.level == LogLevel::error; }));
    }
    /// Every line, one per row, for failure messages.
    std::string dump() const {
        std::lock_guard lock(mutex_);
        std::string out = "captured log:\n";
        for (const auto& line : lines_) out += "  " + line.text + "\n";
        return out;
    }

private:
    bool any_error(const std::string& prefix, std::initializer_list<std::string_view> parts) const {
        std::lock_guard lock(mutex_);
        return std::any_of(lines_.begin(), lines_.end(), [&](const Line& line) {
            return line.level == LogLevel::error && line.text.rfind(prefix, 0) == 0 &&
                   std::all_of(parts.begin(), parts.end(),
                               [&](std::string_view part) { return line.text.find(part) != std::string::npos; });
        });
    }

    mutable std::mutex mutex_;
    std::vector<Line> lines_;
};

/// A sim VM with initialised memory and one vCPU, on its own capability space.
struct SimVm {
    std::shared_ptr<CapabilitySpace> caps;
    std::unique_ptr<Vm> vm;
    Vcpu* vcpu = nullptr;

    explicit SimVm(std::shared_ptr<CapabilitySpace> space = std::make_shared<CapabilitySpace>(),
                   Arch arch = host_arch())
        : caps(std::move(space)) {
        auto created = Vm::create(BackendKind::sim, caps, arch);
        if (!created) throw std::runtime_error(created.error().message);
        vm = std::move(*created);
        if (!vm->init_memory()) throw std::runtime_error("init_memory failed");
        auto cpu = vm->create_vcpu();
        if (!cpu) throw std::runtime_error(cpu.error().message);
        vcpu = *cpu;
    }

    Cap frame(FrameSize size = FrameSize::k4KiB) const {
        auto cap = caps->allocate_frame(size);
        if (!cap) throw std::runtime_error(cap.error().message);
        return *cap;
    }
    std::span<std::byte> memory(Cap cap) const {
        auto mem = caps->frame_memory(cap);
        if (!mem) throw std::runtime_error(mem.error().message);
        return *mem;
    }
    GuestAddr ip() const { return *sim::instruction_pointer(*vcpu); }
};

/// Reads a little-endian value of `size` bytes from host memory.
inline std::uint64_t peek(const std::byte* p, std::size_t size) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, size);
    return v;
}
inline void poke(std::byte* p, std::size_t size, std::uint64_t v) { std::memcpy(p, &v, size); }

/// The value of a read, or 0 if it failed (for threads, where ASSERT cannot stop the test).
inline std::uint64_t or_zero(const Result<std::uint64_t>& r) { return r ? *r : 0; }

/// The access-size mask (all ones for 8 bytes).
constexpr std::uint64_t size_mask(std::size_t size) {
    return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (size * 8)) - 1;
}

/// A handler that counts its calls and returns a fixed result.
struct CountingHandler {
    std::shared_ptr<int> calls = std::make_shared<int>(0);
    FaultResult result = FaultResult::handled;
    FaultHandler handler() const {
        return [calls = calls, result = result](Fault&) {
            ++*calls;
            return result;
        };
    }
};

/// A handler that always gives `result`.
inline FaultHandler returns(FaultResult result) {
    return [result](Fault&) { return result; };
}

/// One iterator answer per frame, from a list, recording the addresses asked.
struct ScriptedIterator {
    std::vector<FrameRequest> frames;
    std::shared_ptr<std::vector<GuestAddr>> asked = std::make_shared<std::vector<GuestAddr>>();
    MapIterator iterator() const {
        return [frames = frames, asked = asked](GuestAddr addr) {
            const std::size_t i = asked->size();
            asked->push_back(addr);
            return i < frames.size() ? frames[i] : FrameRequest{};
        };
    }
};

}  // namespace guestmem::test
