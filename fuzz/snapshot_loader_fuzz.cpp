// SPDX-License-Identifier: BSD-2-Clause
// Fuzzes the snapshot loader: arbitrary bytes as a snapshot file, given to
// snapshot::inspect and to an eager snapshot::restore into a fresh sim VM.
// Neither may crash, and a refused restore must leave the VM empty.
//
// Built as snapshot_loader_fuzzer (libFuzzer, with GUESTMEM_BUILD_FUZZERS)
// and always as snapshot_loader_replay, which runs files or folders of
// inputs (the seed corpus fuzz/snapshot_corpus is a test) and, with
// --write-seeds DIR, writes the seed snapshots.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "guestmem/guest_ram.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/snapshot.hpp"
#include "guestmem/vm.hpp"
#include "format.hpp"  // src/snapshot: the checksum, to fix it up

namespace {

namespace fs = std::filesystem;
using namespace guestmem;

const fs::path& scratch() {
    static const fs::path dir = [] {
        std::string pattern = (fs::temp_directory_path() / "gmsnap-fuzz-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) std::abort();
        std::atexit([] {
            std::error_code ec;
            fs::remove_all(scratch(), ec);
        });
        return fs::path(pattern);
    }();
    return dir;
}

std::unique_ptr<Vm> fresh_vm() {
    CapabilitySpace::Options options;
    options.frame_budget = std::uint64_t{64} << 20;  // a fuzzed layout may ask for many large frames
    options.arena_bytes = std::uint64_t{1} << 30;
    auto vm = Vm::create(BackendKind::sim, std::make_shared<CapabilitySpace>(options), Arch::x86_64);
    if (!vm || !(*vm)->init_memory()) std::abort();
    return std::move(*vm);
}

std::uint64_t u64_at(const std::vector<std::uint8_t>& b, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= std::uint64_t{b[at + i]} << (8 * i);
    return v;
}

// Mutated inputs would almost never get past the header's checksum, so the
// layout and vCPU parsers behind it would go unexplored: where the header's
// section offsets lie in the input, the checksum is recomputed (odd first
// byte of the id: left alone, so the checksum test itself stays covered).
void fix_checksum(std::vector<std::uint8_t>& b) {
    namespace f = snapshot::format;
    if (b.size() < f::kFixedHeaderBytes || (b[16] & 1) != 0) return;
    const std::size_t name = b[f::kChecksumOffset + 4] | (b[f::kChecksumOffset + 5] << 8);
    const std::uint32_t version = static_cast<std::uint32_t>(u64_at(b, 8) & 0xffffffffu);
    const bool has_application = version >= f::kApplicationVersion;
    const std::size_t header = f::kFixedHeaderBytes + name + (has_application ? f::kApplicationFieldBytes : 0);
    const std::uint64_t layout = u64_at(b, 40), layout_bytes = u64_at(b, 48);
    const std::uint64_t vcpu = u64_at(b, 56), vcpu_bytes = u64_at(b, 64);
    auto inside = [&](std::uint64_t at, std::uint64_t n) { return at <= b.size() && n <= b.size() - at; };
    if (!inside(0, header) || !inside(layout, layout_bytes) || !inside(vcpu, vcpu_bytes)) return;
    std::uint64_t application = 0, application_bytes = 0;
    if (has_application) {
        application = u64_at(b, f::kFixedHeaderBytes + name);
        application_bytes = u64_at(b, f::kFixedHeaderBytes + name + 8);
        if (!inside(application, application_bytes)) return;
    }
    std::vector<std::byte> head(reinterpret_cast<const std::byte*>(b.data()),
                                reinterpret_cast<const std::byte*>(b.data()) + header);
    std::memset(head.data() + f::kChecksumOffset, 0, 4);
    auto span_of = [&](std::uint64_t at, std::uint64_t n) {
        return std::span(reinterpret_cast<const std::byte*>(b.data()) + at, n);
    };
    std::uint32_t crc = f::crc32c(head);
    crc = f::crc32c(span_of(layout, layout_bytes), crc);
    crc = f::crc32c(span_of(vcpu, vcpu_bytes), crc);
    crc = f::crc32c(span_of(application, application_bytes), crc);
    for (std::size_t i = 0; i < 4; ++i) b[f::kChecksumOffset + i] = static_cast<std::uint8_t>(crc >> (8 * i));
}

void run_input(const std::uint8_t* data, std::size_t size) {
    const fs::path path = scratch() / "input.snap";
    {
        std::vector<std::uint8_t> bytes(data, data + size);
        fix_checksum(bytes);
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    (void)snapshot::inspect(path);
    auto vm = fresh_vm();
    snapshot::DeviceHandlers handlers;
    handlers.fault = [](const snapshot::ReservationRecord&) { return [](Fault&) { return FaultResult::handled; }; };
    handlers.doorbell = [](const snapshot::ReservationRecord&) { return [](std::uint64_t) {}; };
    auto restored = snapshot::restore(*vm, path, handlers, snapshot::RestoreMode::eager);
    if (!restored && (!vm->reservations().empty() || !vm->pools().empty() || !vm->ram().regions().empty())) {
        std::fprintf(stderr, "a refused restore left state behind: %s\n", restored.error().message.c_str());
        std::abort();
    }
}

}  // namespace

#ifdef GUESTMEM_SNAPSHOT_REPLAY_MAIN

namespace {

int write_seeds(const fs::path& dir) {
    fs::create_directories(dir);
    auto vm = fresh_vm();
    auto cpu = vm->create_vcpu();
    if (!cpu || !vm->ram().register_at(0x100000, 0x4000) || !vm->make_anon(0x10000000, 0x100000)) return 1;
    if (!vm->reserve_at(0xfee00000, 0x1000, [](Fault&) { return FaultResult::handled; })) return 1;
    if (!vm->reserve_doorbell(
            0xf0000000, 4, [](std::uint64_t) {}, 1))
        return 1;
    if (!sim::write(**cpu, 0x100008, 8, 0x1122334455667788) || !vm->start_dirty_tracking()) return 1;
    if (!snapshot::save(*vm, dir / "full.snap")) return 1;
    if (!sim::write(**cpu, 0x102000, 4, 7)) return 1;
    snapshot::SaveOptions diff;
    diff.parent = dir / "full.snap";
    if (!snapshot::save(*vm, dir / "diff.snap", diff)) return 1;
    auto empty = fresh_vm();
    return snapshot::save(*empty, dir / "empty.snap") ? 0 : 1;
}

int replay(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    run_input(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--write-seeds") return write_seeds(argv[2]);
    std::size_t inputs = 0;
    for (int i = 1; i < argc; ++i) {
        if (fs::is_directory(argv[i])) {
            for (const auto& entry : fs::directory_iterator(argv[i])) {
                replay(entry.path());
                ++inputs;
            }
        } else {
            replay(argv[i]);
            ++inputs;
        }
    }
    std::printf("snapshot_loader_replay: %zu inputs, no crash\n", inputs);
    return inputs > 0 ? 0 : 1;
}

#else

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    run_input(data, size);
    return 0;
}

#endif
