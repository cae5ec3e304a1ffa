// SPDX-License-Identifier: BSD-2-Clause
#include "deferred_fetch.hpp"

#include <cstdint>
#include <optional>
#include <vector>

#include "fault_dispatcher.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/vcpu.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::kvm {

namespace {

constexpr std::uint64_t kCr0Pg = std::uint64_t{1} << 31;
constexpr std::uint64_t kCr4La57 = std::uint64_t{1} << 12;
constexpr std::uint64_t kEferLma = std::uint64_t{1} << 10;
constexpr std::uint64_t kPresent = 1;
constexpr std::uint64_t kLargePage = std::uint64_t{1} << 7;
constexpr std::uint64_t kAddressBits = 0x000ffffffffff000;  // bits 12-51 of an entry or CR3
// The longest x86 instruction: its last byte may lie on the next page.
constexpr std::uint64_t kMaxInstruction = 15;

GuestAddr page_of(GuestAddr addr) { return addr & ~(kPageSize - 1); }

class CodeMapper {
public:
    CodeMapper(Vm& vm, const kvm_sregs& sregs) : vm_(vm), dispatcher_(FaultDispatcher::of(vm)), sregs_(sregs) {}

    /// Completes the deferred mapping holding `gpa`, if any.
    Result<void> map(GuestAddr gpa) {
        auto completed = dispatcher_.complete_deferred_at(gpa);
        if (!completed) return completed.error();
        mapped_ = mapped_ || *completed;
        return {};
    }

    /// The guest-physical address of `linear`, mapping the deferred
    /// reservations its page-table entries lie in; nullopt when it has none
    /// (not present, tables outside RAM, a paging mode not walked here).
    Result<std::optional<GuestAddr>> translate(GuestAddr linear) {
        if ((sregs_.cr0 & kCr0Pg) == 0) return std::optional<GuestAddr>{linear};
        if ((sregs_.efer & kEferLma) == 0) return std::optional<GuestAddr>{};
        const int levels = (sregs_.cr4 & kCr4La57) != 0 ? 5 : 4;
        GuestAddr table = sregs_.cr3 & kAddressBits;
        for (int level = levels; level >= 1; --level) {
            const int shift = 12 + 9 * (level - 1);
            const GuestAddr entry_at = table + ((linear >> shift) & 0x1ff) * 8;
            if (auto ok = map(entry_at); !ok) return ok.error();
            auto entry = read_guest_value<std::uint64_t>(vm_, entry_at);
            if (!entry || (*entry & kPresent) == 0) return std::optional<GuestAddr>{};
            const std::uint64_t page = std::uint64_t{1} << shift;
            if ((level == 2 || level == 3) && (*entry & kLargePage) != 0) {
                return std::optional<GuestAddr>{(*entry & kAddressBits & ~(page - 1)) | (linear & (page - 1))};
            }
            table = *entry & kAddressBits;
        }
        return std::optional<GuestAddr>{table | (linear & (kPageSize - 1))};
    }

    bool mapped() const { return mapped_; }

private:
    Vm& vm_;
    FaultDispatcher& dispatcher_;
    const kvm_sregs& sregs_;
    bool mapped_ = false;
};

}  // namespace

Result<DeferredTouchOutcome> map_deferred_for(KvmVcpu& vcpu, DeferredTouch touch) {
    auto regs = vcpu.get_regs();
    if (!regs) return regs.error();
    auto sregs = vcpu.get_sregs();
    if (!sregs) return sregs.error();
    DeferredTouchOutcome outcome;
    outcome.ip = regs->rip;
    // Only a walk shuts the guest down this way, and without paging there is
    // none (a vCPU that KVM reset after its shutdown has paging off too).
    if (touch == DeferredTouch::shutdown && (sregs->cr0 & kCr0Pg) == 0) return outcome;
    // 64-bit code ignores the CS base; elsewhere it counts and addresses are 32 bits.
    const bool code64 = (sregs->efer & kEferLma) != 0 && sregs->cs.l != 0;
    const GuestAddr first = code64 ? regs->rip : (sregs->cs.base + regs->rip) & 0xffffffff;
    std::vector<GuestAddr> code{first};
    if (page_of(first + (kMaxInstruction - 1)) != page_of(first)) code.push_back(first + (kMaxInstruction - 1));
    Vm& vm = vcpu.core().vm();
    CodeMapper mapper(vm, *sregs);
    outcome.resolved = true;
    for (GuestAddr linear : code) {
        auto gpa = mapper.translate(linear);
        if (!gpa) return gpa.error();
        if (!*gpa) {
            outcome.resolved = false;
            continue;
        }
        if (auto ok = mapper.map(**gpa); !ok) return ok.error();
        if (!vm.find_run(**gpa)) outcome.resolved = false;
    }
    // CR2 may be stale: it counts for what to map, not for `resolved`.
    if (touch == DeferredTouch::shutdown) {
        auto gpa = mapper.translate(sregs->cr2);
        if (!gpa) return gpa.error();
        if (*gpa) {
            if (auto ok = mapper.map(**gpa); !ok) return ok.error();
        }
    }
    outcome.mapped = mapper.mapped();
    if (touch == DeferredTouch::shutdown && (outcome.mapped || outcome.resolved)) {
        // KVM keeps the root it made for a CR3 page without a memory slot
        // (and shuts down again at the next entry) until the paging state
        // changes; KVM_SET_SREGS rebuilds it only when a control register
        // differs, hence a different CR3 first. The guest never runs with it.
        kvm_sregs other = *sregs;
        other.cr3 ^= kPageSize;
        if (auto ok = vcpu.set_sregs(other); !ok) return ok.error();
        if (auto ok = vcpu.set_sregs(*sregs); !ok) return ok.error();
    }
    return outcome;
}

}  // namespace guestmem::kvm
