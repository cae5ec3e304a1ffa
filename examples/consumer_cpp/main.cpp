// SPDX-License-Identifier: BSD-2-Clause
// consumer_cpp: the C++ API of an installed guestmem. A VM on the
// hypervisor-free backend gets RAM, a boot header written with the checked
// accessors, a ROM, and an emulated device; a vCPU then reads them. Exits 0
// and prints "consumer_cpp: ok" when everything behaved as documented.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>
#include <vector>

#include <guestmem/guest_memory.hpp>
#include <guestmem/guest_ram.hpp>
#include <guestmem/sim.hpp>
#include <guestmem/vm.hpp>

namespace {

int failures = 0;

void check(bool ok, std::string_view what) {
    if (!ok) {
        std::fprintf(stderr, "consumer_cpp: failed: %.*s\n", static_cast<int>(what.size()), what.data());
        ++failures;
    }
}

struct BootHeader {
    std::uint32_t magic;
    std::uint32_t ram_kib;
    std::uint64_t entry;
};

}  // namespace

int main() {
    using namespace guestmem;
    auto caps = std::make_shared<CapabilitySpace>();
    auto created = Vm::create(BackendKind::sim, caps);
    if (!created) return 1;
    Vm& vm = **created;
    check(vm.init_memory().ok(), "init_memory");

    // 8 MiB of RAM at 2 MiB, as four 2 MiB frames.
    check(vm.ram().register_at(0x200000, 0x800000).ok(), "register RAM");
    auto header_at = vm.ram().allocate(sizeof(BootHeader), alignof(BootHeader));
    check(header_at.ok(), "allocate");
    const BootHeader header{0x47554553, 8192, 0x400000};
    check(write_guest_value(vm, *header_at, header).ok(), "write header");

    // A ROM: read-only to the guest, filled by the VMM.
    auto rom_frame = caps->allocate_frame(FrameSize::k4KiB);
    check(rom_frame.ok(), "allocate ROM frame");
    auto rom = vm.reserve_at(0xf0000, 0x1000, [](Fault&) { return FaultResult::ignore; });
    check(rom.ok(), "reserve ROM");
    check(vm.map(*rom,
                 [&](GuestAddr addr) {
                     return FrameRequest{*rom_frame, Rights::read, addr, 12};
                 })
              .ok(),
          "map ROM");
    const std::vector<std::uint16_t> code{0x9090, 0xf4f4};
    check(write_guest_span<std::uint16_t>(vm, 0xf0000, code).code() == Errc::permission_denied,
          "the guest's rights refuse a ROM write");
    check(write_guest_span<std::uint16_t>(vm, 0xf0000, code, WriteRights::vmm).ok(), "the VMM fills its ROM");

    // A device register that counts reads.
    std::uint32_t reads = 0;
    check(vm.reserve_at(0xfe000000, 4,
                        [&](Fault& fault) {
                            fault.set_data(++reads);
                            return FaultResult::handled;
                        })
              .ok(),
          "reserve device");

    auto vcpu = vm.create_vcpu();
    check(vcpu.ok(), "create vCPU");
    auto magic = sim::read(**vcpu, *header_at, 4);
    check(magic.ok() && *magic == header.magic, "guest reads the header");
    auto op = sim::read(**vcpu, 0xf0000, 2);
    check(op.ok() && *op == 0x9090, "guest reads the ROM");
    check(sim::write(**vcpu, 0xf0000, 2, 0).ok(), "a ROM write is ignored by its handler");
    auto count = sim::read(**vcpu, 0xfe000000, 4);
    check(count.ok() && *count == 1, "guest reads the device");
    auto back = read_guest_value<BootHeader>(vm, *header_at);
    check(back.ok() && back->entry == header.entry, "read header back");

    if (failures) return 1;
    std::puts("consumer_cpp: ok");
    return 0;
}
