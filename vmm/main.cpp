// SPDX-License-Identifier: BSD-2-Clause
// guestmem-vmm: a demo VMM built on guestmem. It builds each VM's address
// space from library calls only (RAM, a ROM, a UART, an exit register, and for
// pairs a doorbell and a shared frame), runs real guests through the vCPU
// interface on whichever backend can run them (KVM or the CPU emulator), and
// reports what happened. Read it as the reference for using the API.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_numbers.hpp"
#include "guest_runner.hpp"
#include "guestmem/backend_registry.hpp"
#include "guestmem/guest_memory.hpp"
#include "guestmem/sim.hpp"
#include "machine.hpp"
#include "report/fault_table.hpp"
#include "report/memory_map.hpp"
#include "report/snapshot_summary.hpp"
#include "report/units.hpp"
#include "sim_script.hpp"
#include "snapshots.hpp"

namespace {

using guestmem::BackendKind;

constexpr int kExitUsage = 2;
constexpr int kExitGuestFailed = 3;
constexpr int kExitVmmError = 4;
/// After a stop by a signal, as shells report a command the signal killed.
constexpr int exit_status_for_signal(int signal_number) { return 128 + signal_number; }

using std::chrono::nanoseconds;
using namespace std::chrono_literals;

/// What the numeric flags accept (the usage text says the same).
constexpr nanoseconds kMaxTimeout = 7 * 24h;
constexpr nanoseconds kMinTimeout = 1ms;
constexpr nanoseconds kMinSnapshotEvery = 1ms;
constexpr nanoseconds kMaxSnapshotEvery = 1h;
/// Scripts are read whole; larger ones are surely a wrong file.
constexpr std::uint64_t kMaxScriptBytes = std::uint64_t{64} << 20;

const char* const kUsage = R"(guestmem-vmm: a demo VMM built on the guestmem library.

Usage:
  guestmem-vmm run [options]        run a guest (default: the bundled "hello")
  guestmem-vmm restore FILE [opts]  continue a guest from a snapshot (e.g. DIR/LATEST)
  guestmem-vmm snapshot-info FILE   print a snapshot's layout and sizes
  guestmem-vmm snapshot-merge FILE OUT
                                    write the chain ending at FILE as one full
                                    snapshot OUT (OUT may be FILE: the chain is
                                    shortened in place; OUT restores as FILE)
  guestmem-vmm guests               list the bundled guests
  guestmem-vmm --help               this text

Options of run:
  --guest NAME        a bundled guest: hello, memtest, pingpong (two VMs),
                      ticks (x86-64 on emu: local APIC timer interrupts)
  --image FILE        your own guest: an ELF executable for --arch (loaded by
                      its segments' physical addresses, entered at e_entry),
                      or any other file as a flat binary (loaded and
                      entered at 0x100000; the VMM says so). Every segment
                      must fit in RAM: [0, --ram), not overlapping another.
                      x86-64 guests run in 64-bit long mode with the first
                      4 GiB identity mapped; AArch64 guests at EL1 with the
                      MMU off. Both get the stack at 0x80000 and the VM's
                      index (0 or 1) in the first argument register.
  --ram SIZE          guest RAM: 2M to 4064M in 4 KiB steps (default 4M);
                      a number of bytes (decimal, or hex with 0x), or with a
                      suffix K, M or G (KiB, MiB, GiB), e.g. 64M, 1G
  --deferred-ram      reserve RAM in 64 KiB chunks mapped on their first touch
                      (deferred mapping) instead of mapping it all up front;
                      above 16 MiB of RAM the chunks grow (powers of two) so
                      that RAM takes at most 256 of them
  --map               print the guest-physical memory map before running
  --map-svg FILE      write the memory map as an SVG picture
  --quiet             do not echo the guest's UART output
  --timeout SECONDS   stop a guest that runs longer: 0.001 to 604800 (a
                      week), decimals allowed (default 30); 0: never
  --backend NAME      auto (default): kvm where /dev/kvm works, else emu;
                      kvm: Linux KVM (x86_64 guests); emu: the CPU emulator
                      (any host, either --arch); sim: runs no guest code,
                      replays the accesses of a --script
  --arch ARCH         the guest's architecture: x86_64 or aarch64 (default:
                      the host's). Bundled AArch64 guests live in the guests
                      folder's aarch64/ subfolder.
  --snapshot-every MS DIR
                      snapshot the guest into folder DIR before it starts
                      (snap-0000.gms, a full snapshot) and then each time it
                      has run MS more milliseconds (diff snapshots: the pages
                      written since the one before; the time a snapshot
                      takes does not count); MS from 1 to 3600000, decimals
                      allowed. DIR/LATEST links to the newest. Single VMs
                      only.
  --script FILE       with --backend sim: replay guest accesses from FILE
                      against the same devices, without running guest code.
                      Lines: "write ADDR SIZE VALUE" or "read ADDR SIZE
                      [expect VALUE]"; '#' starts a comment.

Options of restore: --backend, --quiet, --timeout, --map, --snapshot-every as
for run, and --eager (read all memory before the guest continues; default:
lazily, each RAM reservation on its first touch). The guest continues where
the snapshot stopped it, with the UART output it had printed, on any backend
that runs its architecture (a snapshot taken on kvm restores on emu).

Guest-physical layout: RAM from 0, ROM (boot information, read-only) at
0xfe000000, UART at 0xfe001000, exit register at 0xfe002000, doorbell at
0xfe002010 and a shared frame at 0xfe100000 (pairs only).

Examples:
  guestmem-vmm run --guest hello --map
  guestmem-vmm run --guest memtest --ram 8M --deferred-ram
  guestmem-vmm run --guest pingpong --map-svg pingpong.svg
  guestmem-vmm run --guest hello --arch aarch64 --backend emu
  guestmem-vmm run --image my-guest.elf --ram 64M
  guestmem-vmm run --backend sim --script accesses.txt --map
  guestmem-vmm run --guest memtest --ram 64M --snapshot-every 20 snaps
  guestmem-vmm restore snaps/LATEST --backend emu
  guestmem-vmm snapshot-info snaps/LATEST

Signals: SIGINT (Ctrl-C) or SIGTERM during run or restore stops the guest
cleanly: a snapshot being written is completed first (every snapshot file in
DIR is whole), the report is printed, and the VMM exits with 130 (SIGINT) or
143 (SIGTERM). A second signal ends it at once.

Exit status: the guest's exit status (what it wrote to the exit register);
2 for a usage error; 3 when a guest faulted, crashed, timed out or halted
without writing its exit status; 4 when the VMM could not set the VM up
(e.g. no backend can run the guest here); 130 or 143 after a stop by SIGINT
or SIGTERM.
)";

struct Options {
    std::string command = "run";
    std::string guest = "hello";
    bool guest_given = false;  // --guest on the command line, not the default
    std::string image;
    std::uint64_t ram = vmm::layout::kDefaultRamSize;
    bool deferred_ram = false;
    bool map = false;
    std::string map_svg;
    bool quiet = false;
    nanoseconds timeout = 30s;  // 0: none
    BackendKind backend = BackendKind::automatic;
    guestmem::Arch arch = guestmem::host_arch();
    std::string script;
    nanoseconds snapshot_every{0};
    std::string snapshot_dir;
    std::string snapshot_file;  // restore, snapshot-info, snapshot-merge
    std::string merged_file;    // snapshot-merge
    bool eager = false;
};

/// Says why the value of a numeric flag is refused: what it accepts.
void bad_number(const std::string& flag, const std::string& text, const char* accepted) {
    std::cerr << "guestmem-vmm: " << flag << " " << (text.empty() ? "\"\"" : text) << ": " << accepted << "\n";
}

/// Parses argv; on a usage error prints why and returns nullopt.
std::optional<Options> parse_args(int argc, char** argv) {
    Options o;
    std::vector<std::string> args(argv + 1, argv + argc);
    std::size_t i = 0;
    if (i < args.size() && args[i].rfind("--", 0) != 0) o.command = args[i++];
    const bool names_snapshot = o.command == "restore" || o.command == "snapshot-info" || o.command == "snapshot-merge";
    if (names_snapshot && i < args.size() && args[i].rfind("--", 0) != 0) o.snapshot_file = args[i++];
    if (o.command == "snapshot-merge" && i < args.size() && args[i].rfind("--", 0) != 0) o.merged_file = args[i++];
    // An empty value ("") is refused, not taken for the flag's absence (a
    // number's parser refuses it itself, saying what the flag accepts).
    auto value = [&](const std::string& flag, bool number = false) -> std::optional<std::string> {
        if (i + 1 >= args.size() || (args[i + 1].empty() && !number)) {
            std::cerr << "guestmem-vmm: " << flag << " needs a value (see --help)"
                      << (i + 1 < args.size() ? ": an empty one was given" : "") << "\n";
            return std::nullopt;
        }
        return args[++i];
    };
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            o.command = "help";
        } else if (a == "--guest") {
            auto v = value(a);
            if (!v) return std::nullopt;
            o.guest = *v;
            o.guest_given = true;
        } else if (a == "--image") {
            auto v = value(a);
            if (!v) return std::nullopt;
            o.image = *v;
        } else if (a == "--ram") {
            auto v = value(a, /*number=*/true);
            if (!v) return std::nullopt;
            auto size = vmm::parse_size(*v);
            if (!size || !vmm::layout::valid_ram_size(*size)) {
                bad_number(a, *v, "give a size from 2M to 4064M in 4 KiB steps, like 4M or 64M");
                return std::nullopt;
            }
            o.ram = *size;
        } else if (a == "--deferred-ram") {
            o.deferred_ram = true;
        } else if (a == "--map") {
            o.map = true;
        } else if (a == "--map-svg") {
            auto v = value(a);
            if (!v) return std::nullopt;
            o.map_svg = *v;
        } else if (a == "--quiet") {
            o.quiet = true;
        } else if (a == "--timeout") {
            auto v = value(a, /*number=*/true);
            if (!v) return std::nullopt;
            auto timeout = vmm::parse_duration(*v, 1s);
            if (!timeout || (*timeout != 0s && (*timeout < kMinTimeout || *timeout > kMaxTimeout))) {
                bad_number(a, *v, "give seconds from 0.001 to 604800 (a week), like 30, or 0 for no limit");
                return std::nullopt;
            }
            o.timeout = *timeout;
        } else if (a == "--backend") {
            auto v = value(a);
            if (!v) return std::nullopt;
            auto kind = guestmem::backend_from_string(*v);
            if (!kind) {
                std::cerr << "guestmem-vmm: --backend " << *v << ": choose auto, kvm, emu or sim\n";
                return std::nullopt;
            }
            o.backend = *kind;
        } else if (a == "--arch") {
            auto v = value(a);
            if (!v) return std::nullopt;
            auto arch = guestmem::arch_from_string(*v);
            if (!arch) {
                std::cerr << "guestmem-vmm: --arch " << *v << ": choose x86_64 or aarch64\n";
                return std::nullopt;
            }
            o.arch = *arch;
        } else if (a == "--snapshot-every") {
            auto v = value(a, /*number=*/true);
            if (!v) return std::nullopt;
            auto every = vmm::parse_duration(*v, 1ms);
            if (!every || *every < kMinSnapshotEvery || *every > kMaxSnapshotEvery) {
                bad_number(a, *v, "give milliseconds from 1 to 3600000 (an hour), like 20, then a folder");
                return std::nullopt;
            }
            o.snapshot_every = *every;
            auto dir = value(a);
            if (!dir) return std::nullopt;
            o.snapshot_dir = *dir;
        } else if (a == "--eager") {
            o.eager = true;
        } else if (a == "--script") {
            auto v = value(a);
            if (!v) return std::nullopt;
            o.script = *v;
        } else {
            std::cerr << "guestmem-vmm: unknown option " << a << " (see --help)\n";
            return std::nullopt;
        }
    }
    if (o.command != "run" && o.command != "guests" && o.command != "help" && o.command != "restore" &&
        !names_snapshot) {
        std::cerr << "guestmem-vmm: unknown command " << o.command << " (see --help)\n";
        return std::nullopt;
    }
    if (o.guest_given && !o.image.empty()) {
        std::cerr << "guestmem-vmm: --guest and --image each name the guest to run: give one of them\n";
        return std::nullopt;
    }
    if (names_snapshot && o.snapshot_file.empty()) {
        std::cerr << "guestmem-vmm: " << o.command << " needs a snapshot FILE, like DIR/LATEST (see --help)\n";
        return std::nullopt;
    }
    if (o.command == "snapshot-merge" && o.merged_file.empty()) {
        std::cerr << "guestmem-vmm: snapshot-merge needs the FILE to write after the snapshot FILE (see --help)\n";
        return std::nullopt;
    }
    if (o.eager && o.command != "restore") {
        std::cerr << "guestmem-vmm: --eager is an option of restore\n";
        return std::nullopt;
    }
    if (!o.snapshot_dir.empty() && (o.backend == BackendKind::sim || o.guest == "pingpong" || o.guest == "ticks")) {
        std::cerr << "guestmem-vmm: --snapshot-every needs a single VM running guest code without interrupts (not "
                     "--backend sim, not pingpong, not ticks)\n";
        return std::nullopt;
    }
    if (o.command == "restore" && o.backend == BackendKind::sim) {
        std::cerr << "guestmem-vmm: restore runs the guest: choose --backend auto, kvm or emu\n";
        return std::nullopt;
    }
    if (o.backend == BackendKind::sim && o.command == "run" && o.script.empty()) {
        std::cerr << "guestmem-vmm: --backend sim runs no guest code: give --script FILE (see --help)\n";
        return std::nullopt;
    }
    if (!o.script.empty() && o.backend != BackendKind::sim) {
        std::cerr << "guestmem-vmm: --script needs --backend sim\n";
        return std::nullopt;
    }
    if (o.command == "run" && o.backend != BackendKind::sim && o.image.empty() && o.guest != "hello" &&
        o.guest != "memtest" && o.guest != "pingpong" && o.guest != "ticks") {
        std::cerr << "guestmem-vmm: no bundled guest named " << o.guest << " (try: guestmem-vmm guests)\n";
        return std::nullopt;
    }
    return o;
}

/// The folder holding the bundled x86-64 guest images: beside the executable
/// in a build tree, or ../share/guestmem/guests when installed.
std::string guest_dir() {
    if (const char* env = std::getenv("GUESTMEM_GUEST_DIR")) return env;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string dir = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : std::string(".");
    dir = dir.substr(0, dir.find_last_of('/'));
    // Looked at without opening it: an open for reading could block (a FIFO).
    for (const std::string& candidate : {dir + "/guests", dir + "/../share/guestmem/guests"}) {
        std::error_code ec;
        if (std::filesystem::exists(candidate + "/hello.bin", ec)) return candidate;
    }
    return dir + "/guests";
}

/// The folder holding the bundled guest images for `arch`: AArch64 images are
/// in the aarch64/ subfolder of guest_dir().
std::string guest_dir(guestmem::Arch arch) {
    return arch == guestmem::Arch::aarch64 ? guest_dir() + "/aarch64" : guest_dir();
}

/// Prints UART output line by line, prefixed with the VM's name when two VMs share the terminal.
class Console {
public:
    Console(std::mutex& mutex, std::string prefix, bool quiet)
        : mutex_(mutex), prefix_(std::move(prefix)), quiet_(quiet) {}
    void put(char c) {
        if (quiet_) return;
        line_.push_back(c);
        if (c == '\n') flush();
    }
    void flush() {
        if (line_.empty()) return;
        std::lock_guard lock(mutex_);
        std::cout << prefix_ << line_;
        if (line_.back() != '\n') std::cout << '\n';
        std::cout.flush();
        line_.clear();
    }

private:
    std::mutex& mutex_;
    std::string prefix_;
    bool quiet_;
    std::string line_;
};

void show_maps(const Options& o, const std::vector<vmm::Machine*>& machines) {
    std::string svg_title = "guest-physical memory map";
    std::vector<vmm::MapRow> svg_rows;
    for (auto* m : machines) {
        auto rows = vmm::memory_map(*m);
        if (o.map) {
            std::cout << "Memory map of vm" << m->options().vm_index << ":\n" << vmm::memory_map_table(rows) << "\n";
        }
        if (svg_rows.empty()) svg_rows = rows;  // pairs have the same layout: draw the first
    }
    if (!o.map_svg.empty()) {
        std::ofstream out(o.map_svg);
        out << vmm::memory_map_svg(svg_rows, svg_title);
        if (!out) {
            std::cerr << "guestmem-vmm: cannot write " << o.map_svg << "\n";
        } else {
            std::cout << "Wrote the memory map to " << o.map_svg << "\n";
        }
    }
}

int run_sim_script(const Options& o) {
    auto bytes = guestmem::read_regular_file(o.script, "--script", kMaxScriptBytes);
    if (!bytes) {
        std::cerr << "guestmem-vmm: " << bytes.error().message << "\n";
        return kExitUsage;
    }
    std::istringstream script(std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
    auto caps = std::make_shared<guestmem::CapabilitySpace>();
    std::mutex out_mutex;
    Console console(out_mutex, "uart: ", o.quiet);
    vmm::MachineOptions mo;
    mo.backend = BackendKind::sim;
    mo.arch = o.arch;
    mo.ram_size = o.ram;
    mo.deferred_ram = o.deferred_ram;
    mo.uart_output = [&](char c) { console.put(c); };
    auto machine = vmm::Machine::build(mo, caps);
    if (!machine) {
        std::cerr << "guestmem-vmm: " << machine.error().message << "\n";
        return kExitVmmError;
    }
    show_maps(o, {machine->get()});
    auto vcpu = (*machine)->vm().create_vcpu();
    if (!vcpu) return kExitVmmError;
    const auto start = std::chrono::steady_clock::now();
    vmm::ScriptResult result = vmm::run_script(script, **vcpu, std::cout);
    console.flush();
    vmm::RunTotals totals;
    totals.accesses = result.accesses;
    totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "\nFaults by reservation:\n" << vmm::fault_table((*machine)->stats(), totals);
    std::cout << "script: " << result.accesses << " accesses, " << result.failed << " failed, " << result.mismatches
              << " mismatched, " << result.syntax_errors << " syntax errors\n";
    return result.ok() ? 0 : kExitGuestFailed;
}

std::string signal_name(int signal_number) {
    switch (signal_number) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "signal " + std::to_string(signal_number);
    }
}

int report_run(vmm::Machine& machine, const vmm::GuestRun& run) {
    const auto& r = run.result;
    vmm::RunTotals totals;
    totals.exits = r.exits.total;
    totals.seconds = run.seconds;
    std::cout << "\nvm" << machine.options().vm_index << ": ";
    if (run.stopped_by_signal != 0) {
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.2f", run.seconds);
        std::cout << "stopped by " << signal_name(run.stopped_by_signal) << " after " << seconds << " s";
    } else {
        std::cout << guestmem::to_string(r.reason);
        if (run.exit_status) std::cout << ", exit status " << *run.exit_status;
        if (!r.message.empty()) std::cout << " (" << r.message << ")";
    }
    std::cout << "\nFaults by reservation:\n" << vmm::fault_table(machine.stats(), totals);
    if (run.stopped_by_signal != 0) return exit_status_for_signal(run.stopped_by_signal);
    // The exit register ends the run (exited); a guest that halts after
    // writing it (older guests) counts the same.
    const bool finished = r.reason == guestmem::StopReason::exited || r.halted();
    if (!finished || !run.exit_status) return kExitGuestFailed;
    const std::uint32_t status = *run.exit_status;
    return status == 0 ? 0 : (status & 0xff) ? static_cast<int>(status & 0xff) : 1;
}

/// The pauses that snapshot `machine` into o.snapshot_dir (none without
/// --snapshot-every); nullopt (after saying why) when the folder is unusable.
std::optional<std::unique_ptr<vmm::PauseSchedule>> snapshot_schedule(const Options& o, vmm::Machine& machine,
                                                                     const std::string& guest) {
    if (o.snapshot_dir.empty()) return std::unique_ptr<vmm::PauseSchedule>();
    auto series = vmm::SnapshotSeries::open(o.snapshot_dir);
    if (!series) {
        std::cerr << "guestmem-vmm: " << series.error().message << "\n";
        return std::nullopt;
    }
    auto schedule = std::make_unique<vmm::PauseSchedule>();
    schedule->every = o.snapshot_every;
    schedule->at_pause = [&machine, guest, series = std::make_shared<vmm::SnapshotSeries>(std::move(*series)),
                          dir = o.snapshot_dir]() -> guestmem::Result<void> {
        auto info = series->take(machine, guest);
        if (!info) return info.error();
        std::fprintf(stderr, "guestmem-vmm: snapshot %u (%s) in %s: %llu pages stored, %llu bytes\n",
                     series->count() - 1, info->diff ? "diff" : "full", dir.c_str(),
                     static_cast<unsigned long long>(info->stored_pages),
                     static_cast<unsigned long long>(info->file_bytes));
        return {};
    };
    return schedule;
}

/// The backend that runs `arch` guests here, as --backend asked, said on
/// stderr with the reason; nullopt (after saying why none can, and what
/// would) otherwise. `command` is the VMM's command, for the suggestion.
std::optional<guestmem::BackendChoice> pick_backend(BackendKind requested, guestmem::Arch arch,
                                                    const std::string& command) {
    const std::string arch_name(guestmem::to_string(arch));
    auto choice = guestmem::choose_backend(requested, arch);
    if (!choice) {
        std::cerr << "guestmem-vmm: cannot run " << arch_name << " guests: " << choice.error().message << "\n";
        if (requested != BackendKind::emu && guestmem::choose_backend(BackendKind::emu, arch)) {
            std::cerr << "  Try the CPU emulator, which runs " << arch_name << " guests on any host: give " << command
                      << " --backend emu\n";
        } else if (command == "run") {
            // It runs no guest code: no substitute for a guest, but what is left.
            std::cerr << "  No backend here runs guest code. The hypervisor-free backend replays guest accesses\n"
                         "  against the same devices: guestmem-vmm run --backend sim --script FILE (see --help)\n";
        }
        return std::nullopt;
    }
    std::cerr << "guestmem-vmm: backend " << guestmem::to_string(choice->kind) << " for " << arch_name << " guests ("
              << choice->why << ")\n";
    return *choice;
}

/// Says how a stop by a signal ended: the runs stopped cleanly.
void say_stopped(const Options& o, int signal_number) {
    std::cerr << "guestmem-vmm: stopped by " << signal_name(signal_number) << ": the guest was stopped cleanly";
    if (!o.snapshot_dir.empty()) std::cerr << "; every snapshot in " << o.snapshot_dir << " is complete";
    std::cerr << " (exit status " << exit_status_for_signal(signal_number) << ")\n";
}

int run_guests(const Options& o, vmm::StopSignal& stop) {
    const bool pair = o.image.empty() && o.guest == "pingpong";
    const std::string arch_name(guestmem::to_string(o.arch));
    const std::string path = o.image.empty() ? guest_dir(o.arch) + "/" + o.guest + ".bin" : o.image;
    std::error_code ec;
    if (o.image.empty() && o.guest == "ticks" && o.arch == guestmem::Arch::aarch64) {
        std::cerr << "guestmem-vmm: ticks has no AArch64 version yet: interrupts reach x86-64 guests only (on the "
                     "emulator); run it with --arch x86_64\n";
        return kExitUsage;
    }
    if (o.image.empty() && !std::filesystem::exists(path, ec)) {
        std::cerr << "guestmem-vmm: the bundled " << arch_name << " guest " << o.guest << " is missing (looked for "
                  << path << ")"
                  << (o.arch == guestmem::Arch::aarch64
                          ? "; AArch64 guests are built when binutils-aarch64-linux-gnu is installed"
                          : "")
                  << "\n";
        return kExitVmmError;
    }
    auto image =
        guestmem::read_guest_image(path, vmm::kImageAddr, o.arch, guestmem::RamWindow{vmm::layout::kRamBase, o.ram});
    if (!image) {
        std::cerr << "guestmem-vmm: " << image.error().message << "\n";
        return kExitUsage;
    }
    if (!o.image.empty() && !image->elf) {
        char where[24];
        std::snprintf(where, sizeof where, "%#llx", static_cast<unsigned long long>(image->entry));
        std::cerr << "guestmem-vmm: " << path << " is not an ELF file: loading it as a flat binary at " << where
                  << "\n";
    }
    // Only now, with every argument checked, does the VMM look at the host.
    auto choice = pick_backend(o.backend, o.arch, o.command);
    if (!choice) return kExitVmmError;

    auto caps = std::make_shared<guestmem::CapabilitySpace>();
    std::mutex out_mutex;
    const unsigned count = pair ? 2 : 1;
    std::vector<std::unique_ptr<Console>> consoles;
    std::vector<std::unique_ptr<vmm::Machine>> machines;
    auto line = std::make_shared<vmm::DoorbellLine>();
    guestmem::Cap shared = guestmem::kNullCap;
    if (pair) {
        auto frame = caps->allocate_frame(guestmem::FrameSize::k4KiB);
        if (!frame) return kExitVmmError;
        shared = *frame;
    }
    for (unsigned i = 0; i < count; ++i) {
        consoles.push_back(std::make_unique<Console>(out_mutex, pair ? "[vm" + std::to_string(i) + "] " : "", o.quiet));
        vmm::MachineOptions mo;
        mo.backend = choice->kind;
        mo.arch = o.arch;
        mo.ram_size = o.ram;
        mo.deferred_ram = o.deferred_ram;
        mo.interrupts = o.image.empty() && o.guest == "ticks";
        Console* console = consoles.back().get();
        mo.uart_output = [console](char c) { console->put(c); };
        mo.vm_index = i;
        if (pair) {
            mo.doorbell = line;
            mo.shared_frame = shared;
        }
        auto machine = vmm::Machine::build(mo, caps);
        if (!machine) {
            std::cerr << "guestmem-vmm: cannot build vm" << i << ": " << machine.error().message << "\n";
            return kExitVmmError;
        }
        machines.push_back(std::move(*machine));
    }
    std::vector<vmm::Machine*> views;
    views.reserve(machines.size());
    for (auto& m : machines) views.push_back(m.get());
    show_maps(o, views);

    std::vector<guestmem::Vcpu*> vcpus;
    for (auto& m : machines) {
        auto vcpu = vmm::load_guest(*m, *image);
        if (!vcpu) {
            std::cerr << "guestmem-vmm: cannot load " << path << ": " << vcpu.error().message << "\n";
            return kExitVmmError;
        }
        vcpus.push_back(*vcpu);
    }
    std::cout << "Running " << (o.image.empty() ? o.guest : path) << (pair ? " on two VMs" : "") << " ("
              << vmm::human_size(o.ram) << " RAM" << (o.deferred_ram ? ", mapped on first touch" : "") << ")\n";
    std::cout.flush();

    auto schedule = snapshot_schedule(o, *machines[0], o.image.empty() ? o.guest : path);
    if (!schedule) return kExitVmmError;
    std::vector<guestmem::Result<vmm::GuestRun>> runs(count, guestmem::Error{guestmem::Errc::backend_error, "not run"});
    std::vector<std::thread> threads;
    vmm::RunOptions run_options;
    run_options.timeout = o.timeout;
    run_options.progress = true;
    run_options.pauses = schedule->get();
    run_options.stop = &stop;
    for (unsigned i = 0; i < count; ++i) {
        threads.emplace_back([&, i] { runs[i] = vmm::run_guest(*machines[i], *vcpus[i], run_options); });
    }
    for (auto& t : threads) t.join();
    for (auto& c : consoles) c->flush();

    int status = 0;
    int stopped_by = 0;
    for (unsigned i = 0; i < count; ++i) {
        if (!runs[i]) {
            std::cerr << "guestmem-vmm: vm" << i << ": " << runs[i].error().message << "\n";
            status = kExitVmmError;
            continue;
        }
        const int vm_status = report_run(*machines[i], *runs[i]);
        if (status == 0) status = vm_status;
        if (runs[i]->stopped_by_signal != 0) stopped_by = runs[i]->stopped_by_signal;
    }
    if (pair) {
        std::cout << "doorbell rings: vm0 received " << line->rings(0) << ", vm1 received " << line->rings(1) << "\n";
    }
    std::cout.flush();
    machines.clear();
    if (pair) (void)caps->remove(shared);
    if (stopped_by != 0 && status != kExitVmmError) {
        say_stopped(o, stopped_by);
        return exit_status_for_signal(stopped_by);
    }
    return status;
}

int restore_guest(const Options& o, vmm::StopSignal& stop) {
    std::error_code ec;
    // LATEST is a link: the snapshot's folder (where its parents are) and
    // its record are those of the file it points at.
    const auto file = std::filesystem::canonical(o.snapshot_file, ec);
    if (ec) {
        std::cerr << "guestmem-vmm: cannot open snapshot " << o.snapshot_file << ": " << ec.message() << "\n";
        return kExitUsage;
    }
    auto record = vmm::read_record(file);
    if (!record) {
        std::cerr << "guestmem-vmm: cannot restore " << file.string() << ": " << record.error().message << "\n";
        return kExitUsage;
    }
    // restore runs guest code: the sim backend is no way out there.
    auto choice = pick_backend(o.backend, record->arch, o.command);
    if (!choice) return kExitVmmError;
    auto caps = std::make_shared<guestmem::CapabilitySpace>();
    std::mutex out_mutex;
    Console console(out_mutex, "", o.quiet);
    vmm::MachineOptions mo;
    mo.backend = choice->kind;
    mo.arch = record->arch;
    mo.ram_size = record->ram_size;
    mo.deferred_ram = record->deferred_ram;
    mo.uart_output = [&console](char c) { console.put(c); };
    const auto mode = o.eager ? guestmem::snapshot::RestoreMode::eager : guestmem::snapshot::RestoreMode::lazy;
    const auto started = std::chrono::steady_clock::now();
    auto machine = vmm::Machine::restore(mo, caps, file, record->uart, mode);
    if (!machine) {
        std::cerr << "guestmem-vmm: cannot restore " << file.string() << ": " << machine.error().message << "\n";
        return machine.error().code == guestmem::Errc::bad_snapshot || machine.error().code == guestmem::Errc::io_error
                   ? kExitUsage
                   : kExitVmmError;
    }
    const double restore_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    guestmem::Vcpu* vcpu = (*machine)->vm().vcpu(0);
    if (!vcpu) {
        std::cerr << "guestmem-vmm: " << file.string() << " holds no vCPU state: nothing to continue\n";
        return kExitUsage;
    }
    show_maps(o, {machine->get()});
    std::cout << "Restored " << record->guest << " from " << file.string() << " (" << vmm::human_size(mo.ram_size)
              << " RAM, " << (o.eager ? "read eagerly" : "read on first touch") << ", in " << restore_ms << " ms)\n";
    std::cout.flush();
    // What the guest printed before the snapshot, so the whole output reads
    // as one uninterrupted run's.
    for (char c : record->uart.transmitted) console.put(c);
    auto schedule = snapshot_schedule(o, **machine, record->guest);
    if (!schedule) return kExitVmmError;
    if (*schedule) (*schedule)->at_start = false;  // the state it starts from is the snapshot itself
    vmm::RunOptions run_options;
    run_options.timeout = o.timeout;
    run_options.progress = true;
    run_options.pauses = schedule->get();
    run_options.stop = &stop;
    auto run = vmm::run_guest(**machine, *vcpu, run_options);
    console.flush();
    if (!run) {
        std::cerr << "guestmem-vmm: " << run.error().message << "\n";
        return kExitVmmError;
    }
    const int status = report_run(**machine, *run);
    std::cout.flush();
    if (run->stopped_by_signal != 0) say_stopped(o, run->stopped_by_signal);
    return status;
}

int snapshot_info(const Options& o) {
    auto info = guestmem::snapshot::inspect(o.snapshot_file);
    if (!info) {
        std::cerr << "guestmem-vmm: " << info.error().message << "\n";
        return kExitUsage;
    }
    std::cout << vmm::snapshot_summary(o.snapshot_file, *info);
    return 0;
}

int snapshot_merge(const Options& o) {
    // LATEST is a link: merged in place, the file it points at is replaced.
    std::error_code ec;
    const auto from = std::filesystem::canonical(o.snapshot_file, ec);
    if (ec) {
        std::cerr << "guestmem-vmm: cannot open snapshot " << o.snapshot_file << ": " << ec.message() << "\n";
        return kExitUsage;
    }
    std::filesystem::path to = o.merged_file;
    if (std::filesystem::equivalent(o.snapshot_file, o.merged_file, ec)) to = from;
    auto before = guestmem::snapshot::inspect(from);
    auto merged = guestmem::snapshot::merge(from, to);
    if (!merged) {
        std::cerr << "guestmem-vmm: cannot merge " << from.string() << ": " << merged.error().message << "\n";
        return merged.error().code == guestmem::Errc::bad_snapshot ||
                       merged.error().code == guestmem::Errc::invalid_argument
                   ? kExitUsage
                   : kExitVmmError;
    }
    std::cout << "Merged " << from.string() << (before && before->diff ? " and its parents" : "") << " into "
              << to.string() << ": a full snapshot, " << merged->stored_pages << " pages stored, "
              << vmm::human_size(merged->file_bytes) << "\n";
    return 0;
}

/// Receives SIGINT and SIGTERM for the whole VMM, on a thread of its own that
/// waits for them with sigwait: they are blocked in every other thread (new
/// threads inherit the mask of the thread that starts them, so the
/// constructor blocks them before any other thread exists). Nothing runs in
/// a signal handler: the first signal raises `stop`, a second one ends the
/// VMM at once by the signal's default action.
class SignalThread {
public:
    explicit SignalThread(vmm::StopSignal& stop) : stop_(stop) {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, wake_signal());
        pthread_sigmask(SIG_BLOCK, &set_, nullptr);
        thread_ = std::thread([this] { wait(); });
    }
    ~SignalThread() {
        pthread_kill(thread_.native_handle(), wake_signal());
        thread_.join();
    }
    SignalThread(const SignalThread&) = delete;
    SignalThread& operator=(const SignalThread&) = delete;

private:
    /// Ends the wait when the VMM is done: a real-time signal nobody else
    /// sends (guestmem::kvm::kick_signal(), which kicks vCPUs, is SIGRTMIN + 3).
    static int wake_signal() { return SIGRTMIN + 4; }

    void wait() {
        for (bool first = true;;) {
            int signal_number = 0;
            if (sigwait(&set_, &signal_number) != 0) continue;
            if (signal_number == wake_signal()) return;
            if (first) {
                first = false;
                std::fprintf(stderr, "guestmem-vmm: %s: stopping the guest (send it again to quit at once)\n",
                             signal_name(signal_number).c_str());
                stop_.raise(signal_number);
                continue;
            }
            std::fprintf(stderr, "guestmem-vmm: %s again: quitting at once\n", signal_name(signal_number).c_str());
            std::signal(signal_number, SIG_DFL);
            sigset_t only;
            sigemptyset(&only);
            sigaddset(&only, signal_number);
            pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
            raise(signal_number);
            return;
        }
    }

    vmm::StopSignal& stop_;
    sigset_t set_{};
    std::thread thread_;
};

int run(int argc, char** argv) {
    auto options = parse_args(argc, argv);
    if (!options) return kExitUsage;
    if (options->command == "help") {
        std::cout << kUsage;
        return 0;
    }
    if (options->command == "guests") {
        std::cout << "Bundled guests (x86_64 in " << guest_dir() << ", aarch64 in "
                  << guest_dir(guestmem::Arch::aarch64) << "):\n"
                  << "  hello     prints a greeting and the boot ROM's RAM size through the UART, checks the ROM is "
                     "read-only\n"
                  << "  memtest   writes and verifies a pattern over RAM above 2 MiB (try --deferred-ram)\n"
                  << "  pingpong  two VMs exchange 16 messages through a shared frame and doorbells\n"
                  << "  ticks     takes 10 local APIC timer interrupts, sleeping in HLT between them (x86-64; "
                     "needs interrupts: the emu backend)\n";
        return 0;
    }
    if (options->command == "snapshot-info") return snapshot_info(*options);
    if (options->command == "snapshot-merge") return snapshot_merge(*options);
    if (options->backend == BackendKind::sim) return run_sim_script(*options);
    // Running a guest (run, restore) can take long and writes snapshots:
    // SIGINT and SIGTERM stop it cleanly instead of killing it mid-write.
    vmm::StopSignal stop;
    SignalThread signals(stop);
    if (options->command == "restore") return restore_guest(*options, stop);
    return run_guests(*options, stop);
}

}  // namespace

int main(int argc, char** argv) {
    // What nothing below handles (out of memory, a filesystem error) ends the
    // run with a message and the VMM's error status, not with std::terminate.
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "guestmem-vmm: " << e.what() << "\n";
    } catch (...) {
        std::cerr << "guestmem-vmm: an unknown exception\n";
    }
    return kExitVmmError;
}
