// SPDX-License-Identifier: BSD-2-Clause
// Helpers for tests of the C interface.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "handles.hpp"  // white-box: the C++ Vm behind a vm_t, to compare state
#include "sel4vm/guest_memory.h"
#include "sel4vm/guest_memory_helpers.h"
#include "sel4vm/guest_vcpu_fault.h"
#include "sel4vm/guestmem.h"

namespace guestmem::test {

/// Captures log lines through the C hook, guestmem_set_log_handler, while alive.
class CLogCapture {
public:
    CLogCapture() { guestmem_set_log_handler(&CLogCapture::receive, this); }
    ~CLogCapture() { guestmem_set_log_handler(nullptr, nullptr); }
    CLogCapture(const CLogCapture&) = delete;
    CLogCapture& operator=(const CLogCapture&) = delete;

    /// True when an error line starts with "<function>: " and contains `reason`.
    bool has_error(std::string_view function, std::string_view reason = {}) const {
        std::lock_guard lock(mutex_);
        const std::string prefix = std::string(function) + ": ";
        for (const auto& [level, text] : lines_) {
            if (level == GUESTMEM_LOG_ERROR && text.rfind(prefix, 0) == 0 && text.find(reason) != std::string::npos) {
                return true;
            }
        }
        return false;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return lines_.size();
    }
    void clear() {
        std::lock_guard lock(mutex_);
        lines_.clear();
    }
    std::string dump() const {
        std::lock_guard lock(mutex_);
        std::string out = "captured log:\n";
        for (const auto& line : lines_) out += "  " + line.second + "\n";
        return out;
    }

private:
    static void receive(guestmem_log_level_t level, const char* message, void* cookie) {
        auto* self = static_cast<CLogCapture*>(cookie);
        std::lock_guard lock(self->mutex_);
        self->lines_.emplace_back(level, message);
    }

    mutable std::mutex mutex_;
    std::vector<std::pair<guestmem_log_level_t, std::string>> lines_;
};

/// A sim VM made through the C interface, with memory initialised and one vCPU.
struct CVm {
    vm_t* vm = nullptr;
    vm_vcpu_t* vcpu = nullptr;

    explicit CVm(bool init = true) {
        vm = vm_create(VM_BACKEND_SIM);
        if (!vm) throw std::runtime_error("vm_create failed");
        if (init && vm_memory_init(vm) != 0) throw std::runtime_error("vm_memory_init failed");
        vcpu = vm_create_vcpu(vm, 0);
        if (!vcpu) throw std::runtime_error("vm_create_vcpu failed");
    }
    ~CVm() { vm_destroy(vm); }
    CVm(const CVm&) = delete;
    CVm& operator=(const CVm&) = delete;

    Vm& core() const { return *guestmem::capi::live_vm(vm); }

    int read(uintptr_t addr, size_t len, uint64_t* out) const { return vm_sim_access(vcpu, addr, len, false, out); }
    int write(uintptr_t addr, size_t len, uint64_t value) const { return vm_sim_access(vcpu, addr, len, true, &value); }
    /// The value a read yields; fails the test if the read does not complete.
    uint64_t read_value(uintptr_t addr, size_t len) const {
        uint64_t value = 0xbad;
        EXPECT_EQ(read(addr, len, &value), 0) << "read of " << len << " bytes at 0x" << std::hex << addr;
        return value;
    }
};

/// Frames allocated with vmm_frame_alloc, deleted when the test ends (each
/// test leaves the process-wide capability space as it found it).
struct CFrames {
    std::vector<seL4_CPtr> caps;
    seL4_CPtr alloc(size_t bits = seL4_PageBits) {
        const seL4_CPtr cap = vmm_frame_alloc(bits);
        if (cap == seL4_CapNull) throw std::runtime_error("vmm_frame_alloc failed");
        caps.push_back(cap);
        return cap;
    }
    seL4_CPtr copy(seL4_CPtr cap, seL4_CapRights_t rights) {
        const seL4_CPtr copied = vmm_cap_copy(cap, rights);
        if (copied == seL4_CapNull) throw std::runtime_error("vmm_cap_copy failed");
        caps.push_back(copied);
        return copied;
    }
    /// Deletes one of them now (vmm_cap_delete) and forgets it.
    int remove(seL4_CPtr cap) {
        std::erase(caps, cap);
        return vmm_cap_delete(cap);
    }
    ~CFrames() {
        for (seL4_CPtr cap : caps) EXPECT_EQ(vmm_cap_delete(cap), 0) << "capability " << cap;
    }
};

inline std::uint8_t* frame_bytes(seL4_CPtr cap) { return static_cast<std::uint8_t*>(vmm_frame_vaddr(cap)); }

inline std::uint64_t load(const void* p, std::size_t size) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, size);
    return v;
}
inline void store(void* p, std::size_t size, std::uint64_t v) { std::memcpy(p, &v, size); }

}  // namespace guestmem::test
