// SPDX-License-Identifier: BSD-2-Clause
#include "emu_vcpu.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "cpu_state.hpp"
#include "dirty_log.hpp"
#include "fault_dispatcher.hpp"
#include "format.hpp"
#include "guestmem/log.hpp"
#include "thread_inside.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::emu {

namespace {

// uc_emu_start's `until`: an address no guest reaches, so that only hlt/wfi,
// errors and uc_emu_stop end a run.
constexpr std::uint64_t kNoExit = ~std::uint64_t{0};

// The vCPU whose run() is on this thread (request_stop from its own handlers
// stops the engine at once).
thread_local const EmuVcpu* t_running = nullptr;

std::uint64_t low_bytes(std::int64_t value, int size) {
    return static_cast<std::uint64_t>(value) & size_mask(static_cast<std::size_t>(size));
}

RunResult stop_result(StopReason reason, std::string message) {
    RunResult result;
    result.reason = reason;
    result.message = std::move(message);
    return result;
}

// QEMU's exception numbers for AArch64 (target/arm/cpu.h), which Unicorn hands to interrupt hooks.
const char* arm64_exception_name(std::uint32_t number) {
    switch (number) {
    case 1: return "undefined instruction";
    case 2: return "svc (supervisor call)";
    case 3: return "prefetch abort";
    case 4: return "data abort";
    case 5: return "IRQ";
    case 6: return "FIQ";
    case 7: return "brk (breakpoint)";
    case 11: return "hvc (hypervisor call)";
    case 13: return "smc (secure monitor call)";
    case 16: return "hlt (semihosting)";
    default: return "exception";
    }
}

}  // namespace

/// The engine's C callbacks, forwarding to the vCPU.
struct Hooks {
    static void block(uc_engine*, std::uint64_t address, std::uint32_t size, void* self) {
        static_cast<EmuVcpu*>(self)->on_block(address, size);
    }
    static void code(uc_engine*, std::uint64_t address, std::uint32_t, void* self) {
        static_cast<EmuVcpu*>(self)->on_instruction(address);
    }
    // AArch64 has it always: its presence makes the translator store the
    // program counter before every load and store. x86-64 has it while
    // logging dirty pages. Only a logging vCPU does anything in it.
    static void store(uc_engine*, uc_mem_type, std::uint64_t addr, int size, std::int64_t, void* self) {
        auto* vcpu = static_cast<EmuVcpu*>(self);
        if (vcpu->logging_) vcpu->on_store(addr, static_cast<std::uint64_t>(size));
    }
    static bool unmapped(uc_engine* uc, uc_mem_type type, std::uint64_t addr, int size, std::int64_t, void* self) {
        auto* vcpu = static_cast<EmuVcpu*>(self);
        if (type == UC_MEM_FETCH_UNMAPPED) return vcpu->on_fetch_unmapped(addr);
        return vcpu->on_unmapped(uc, addr, size, type == UC_MEM_WRITE_UNMAPPED);
    }
    static bool write_protected(uc_engine*, uc_mem_type, std::uint64_t addr, int size, std::int64_t value, void* self) {
        return static_cast<EmuVcpu*>(self)->on_write_protected(addr, size, value);
    }
    static void interrupt(uc_engine* uc, std::uint32_t number, void* self) {
        static_cast<EmuVcpu*>(self)->on_interrupt(uc, number);
    }
    static std::uint32_t port_in(uc_engine*, std::uint32_t port, int size, void* self) {
        return static_cast<EmuVcpu*>(self)->on_port(static_cast<std::uint16_t>(port), size, false, 0);
    }
    static void port_out(uc_engine*, std::uint32_t port, int size, std::uint32_t value, void* self) {
        static_cast<EmuVcpu*>(self)->on_port(static_cast<std::uint16_t>(port), size, true, value);
    }
};

/// VMM code runs inside a hook: the vCPU is not in guest code meanwhile, and
/// applies removals published meanwhile before guest code goes on.
class EmuVcpu::CallbackScope {
public:
    explicit CallbackScope(EmuVcpu& vcpu) : vcpu_(vcpu), saved_(vcpu.phase_.load()) {
        // The VMM code may collect dirty pages: earlier stores are performed.
        // The record stays, for the store whose access calls back (see "Dirty logging").
        vcpu.mark_stores();
        vcpu.enter(Phase::callback);
    }
    ~CallbackScope() {
        if (saved_ == Phase::guest) {
            vcpu_.leave_callback();
        } else {
            vcpu_.enter(saved_);
        }
    }
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;

private:
    EmuVcpu& vcpu_;
    Phase saved_;
};

EmuVcpu::EmuVcpu(EmuBackend& backend, Vcpu& vcpu)
    : backend_(backend), vcpu_(vcpu), arch_(backend.arch()), hook_every_instruction_(arch_ == Arch::x86_64) {
    if (arch_ == Arch::x86_64) lapic_ = std::make_unique<LocalApic>(vcpu.index());
    isr_pin_.fill(-1);
    backend_.attach(*this);
}

EmuVcpu::~EmuVcpu() {
    backend_.detach(*this);
    memory_.reset();  // before the engine closes
}

bool EmuVcpu::settled(std::uint64_t generation) const {
    return phase_.load(std::memory_order_seq_cst) != Phase::guest ||
           acked_.load(std::memory_order_seq_cst) >= generation;
}

// The phase and the backend's generation (and waiter count) form Dekker
// pairs: this thread stores its phase, then reads theirs; an uninstall bumps
// them, then reads the phase. Every MMIO access changes the phase twice, so
// this side is a plain store and reader_fence(), and the uninstall pays with
// writer_fence() (membarrier(2); see src/core/thread_inside.hpp).
void EmuVcpu::enter(Phase phase) {
    phase_.store(phase, std::memory_order_relaxed);
    reader_fence();
    if (phase != Phase::guest) backend_.notify_progress();
}

void EmuVcpu::leave_callback() {
    phase_.store(Phase::guest, std::memory_order_relaxed);
    reader_fence();
    // Still inside the hook: emulated pages must stay, RAM going away must go now.
    if (backend_.generation() != acked_.load(std::memory_order_relaxed)) sync_memory(false, Point::inside);
}

bool EmuVcpu::sync_memory(bool full, Point where) {
    const MemorySnapshot snapshot = backend_.snapshot();
    auto ok = full ? memory_->apply(snapshot) : memory_->remove_stale(snapshot);
    last_segment_ = nullptr;
    missing_windows_ = ok && !full && memory_->missing_windows(snapshot);
    if (!ok) stop_with(stop_result(StopReason::internal_error, ok.error().message));
    // After snapshot(): the flag is at least as new as the generation acknowledged.
    const bool restart = apply_dirty_logging(where);
    acked_.store(snapshot.generation, std::memory_order_seq_cst);
    backend_.notify_progress();
    return restart;
}

// Dirty logging (EmuBackend::start_dirty_log). Guest stores to mapped RAM go
// from the emulator straight into host memory, so the vCPU marks them in the
// frames' DirtyLog itself, from a UC_HOOK_MEM_WRITE hook.
//
// Unicorn runs write hooks before the store (store_helper in
// qemu/accel/tcg/cputlb.c calls them first, then finds and writes the
// memory), but DirtyLog needs its mark after the store: a collector clearing
// the page's bit between an early mark and the store would copy the old data,
// and nothing would report the page again. So the hook only records the store
// (as the arena's address of its bytes: the engine writes through the
// RamWindow's second mapping of the memfd pages, which DirtyLog does not
// know), and the vCPU marks it once it is certainly performed: at the next
// store hook (one instruction's stores are performed one after another;
// store_helper's byte-wise split of an unaligned store runs with the hooks
// off, size_recur_mem), the next block or instruction hook, and the end of
// each uc_emu_start. A collection between the store and its mark misses the
// page and the next one reports it, as for any writer between its store and
// its mark (dirty_log.hpp); the delay is at most one translated block, and
// run() returns only after marking everything. A callback into the VMM marks
// too (its code may collect) but keeps the record: the access calling back
// may be part of a store whose RAM bytes are not written yet (an unaligned
// store across an emulated page and RAM). Nothing here is shared with other
// threads, so there is no protocol with a collector: DirtyLog's atomics
// order the marks.
//
// Turning logging on follows the uninstall protocol: start_dirty_log() bumps
// the map generation and waits for every vCPU in guest code to apply it at
// its next block; a vCPU in VMM code or idle applies it before it runs guest
// code again (leave_callback reads the generation after publishing its phase,
// run_engine before it starts). AArch64 has its store hook anyway (precise
// PCs): applying is setting logging_, which its next store hook reads.
// x86-64 has none while not logging: a memory hook makes Unicorn translate
// every load and store as a helper call (tcg/i386/tcg-target.inc.c keeps the
// inline TLB path only while no memory hook exists at translation time),
// which would slow every run. Applying there adds the hook and drops the code
// translated without it; the current block, translated before, would still
// store inline, so the run stops before it (the block or instruction hook,
// before anything of it ran) and restarts there (restart_). Unicorn hooks
// change only on the vCPU's thread, at those points. A vCPU that sees the
// change inside an instruction (a callback) cannot restart there, and the
// rest of that instruction may store inline (the RAM store of `ins`, of
// `movs` from a device), so at the next instruction, once the instruction is
// performed, it marks all writable RAM it maps, then adds the hook and
// restarts: one over-report, no miss. AArch64 has the same hole, smaller:
// the store whose access calls back (an unaligned store from an emulated
// page into RAM) had its hook run before logging, and writes its RAM bytes
// after. So on both, logging turned on inside an instruction records "all
// writable RAM" as a pending store, marked at the next point where the
// instruction is performed (as any pending store). Turning off is lazy: a
// vCPU that marks a little longer only over-reports.
bool EmuVcpu::apply_dirty_logging(Point where) {
    const bool want = backend_.dirty_logging();
    if (want && !logging_ && where == Point::inside) record_all_stores();
    if (!hook_every_instruction_) {
        if (!want) flush_stores();
        logging_ = want;
        return false;
    }
    if (want == logging_ && !x86_resync_) return false;
    if (where == Point::inside) {
        x86_resync_ = true;
        return false;
    }
    x86_resync_ = false;
    // Off and on again (or on and off) while inside: the hook stayed as it should be.
    if (want == logging_) return false;
    flush_stores();
    if (want) {
        const uc_err err = uc_hook_add(engine_.get(), &write_hook_, UC_HOOK_MEM_WRITE,
                                       reinterpret_cast<void*>(&Hooks::store), this, 1, 0);
        if (err != UC_ERR_OK) {
            stop_with(stop_result(StopReason::internal_error,
                                  describe("cannot add the emulator's store hook for dirty tracking", err)));
            return false;
        }
    } else {
        uc_hook_del(engine_.get(), write_hook_);
        write_hook_ = 0;
    }
    logging_ = want;
    // Code translated with the other setting must not run again: without the
    // hook it stores unseen; with it, it keeps the slow helper path.
    memory_->forget_translations(code_begin_, code_end_);
    return want && where == Point::between;
}

const RamSegment* EmuVcpu::segment_at(GuestAddr addr) {
    if (last_segment_ && addr - last_segment_->gpa < last_segment_->size) return last_segment_;
    const RamSegment* segment = memory_->segment_at(addr);
    if (segment) last_segment_ = segment;
    return segment;
}

void EmuVcpu::on_store(GuestAddr addr, std::uint64_t size) {
    flush_stores();
    record_store(addr, size);
}

void EmuVcpu::record_store(GuestAddr addr, std::uint64_t size) {
    if (pending_count_ + 2 > pending_.size()) flush_stores();  // not expected: see pending_
    auto add = [&](const RamSegment* segment, GuestAddr from, GuestAddr to) {
        // Stores to read-only frames are discarded (write-protection hook).
        if (!segment || !segment->writable || !segment->dirty) return;
        pending_[pending_count_++] = {segment->host + (from - segment->gpa), to - from, segment->dirty};
    };
    const GuestAddr last = addr + (size - 1);
    const RamSegment* first = segment_at(addr);
    if (first && last - first->gpa < first->size) {
        add(first, addr, last + 1);
        return;
    }
    // Across the end of a run (stores are at most 8 bytes, runs at least a page).
    if (first) add(first, addr, first->end());
    const RamSegment* second = segment_at(last);
    if (second) add(second, std::max(addr, second->gpa), last + 1);
}

void EmuVcpu::record_all_stores() {
    for (unsigned i = 0; i < pending_count_; ++i) {
        if (!pending_[i].dirty) return;
    }
    if (pending_count_ == pending_.size()) flush_stores();  // not expected: at most one store is pending here
    pending_[pending_count_++] = {nullptr, 0, nullptr};
}

void EmuVcpu::mark_stores() noexcept {
    for (unsigned i = 0; i < pending_count_; ++i) {
        if (pending_[i].dirty) {
            pending_[i].dirty->mark(pending_[i].host, pending_[i].bytes);
        } else {
            memory_->mark_all_writable();
        }
    }
}

Result<uc_engine*> EmuVcpu::engine() {
    if (engine_) return engine_.get();
    auto opened = open_engine(arch_);
    if (!opened) return opened.error();
    if (auto ok = add_hooks(opened->get()); !ok) return ok.error();
    MmioSink& sink = *this;
    memory_ = std::make_unique<EngineMemory>(opened->get(), arch_, backend_.options().mmio_pages, sink);
    engine_ = std::move(*opened);
    return engine_.get();
}

Result<void> EmuVcpu::add_hooks(uc_engine* uc) {
    struct Hook {
        int type;
        void* callback;
        int instruction;  // for UC_HOOK_INSN
    };
    // The emulator checks for a stop after every memory access, so a failed
    // access stops the run before any later instruction runs; the hooks
    // below keep the state exact at that point (see the class comment).
    std::vector<Hook> hooks = {
        {UC_HOOK_BLOCK, reinterpret_cast<void*>(&Hooks::block), 0},
        {UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED,
         reinterpret_cast<void*>(&Hooks::unmapped), 0},
        {UC_HOOK_MEM_WRITE_PROT, reinterpret_cast<void*>(&Hooks::write_protected), 0},
        {UC_HOOK_INTR, reinterpret_cast<void*>(&Hooks::interrupt), 0},
    };
    if (hook_every_instruction_) {
        // x86 computes its flags lazily: only an instruction hook makes the
        // translator store them (and the program counter) at every instruction.
        hooks.push_back({UC_HOOK_CODE, reinterpret_cast<void*>(&Hooks::code), 0});
    } else {
        // The program counter before every load and store, for a hook per
        // store that does nothing (loads, more frequent, get none).
        hooks.push_back({UC_HOOK_MEM_WRITE, reinterpret_cast<void*>(&Hooks::store), 0});
    }
    if (arch_ == Arch::x86_64) {
        hooks.push_back({UC_HOOK_INSN, reinterpret_cast<void*>(&Hooks::port_in), UC_X86_INS_IN});
        hooks.push_back({UC_HOOK_INSN, reinterpret_cast<void*>(&Hooks::port_out), UC_X86_INS_OUT});
    }
    for (const Hook& hook : hooks) {
        uc_hook handle = 0;
        // begin 1 > end 0: every address.
        const uc_err err = hook.type == UC_HOOK_INSN
                               ? uc_hook_add(uc, &handle, hook.type, hook.callback, this, 1, 0, hook.instruction)
                               : uc_hook_add(uc, &handle, hook.type, hook.callback, this, 1, 0);
        if (err != UC_ERR_OK) return fail(Errc::backend_error, describe("cannot add an emulator hook", err));
    }
    return {};
}

GuestAddr EmuVcpu::instruction_pointer() {
    auto uc = engine();
    return uc ? read_pc(*uc, arch_) : 0;
}

Result<RunResult> EmuVcpu::run() {
    if (running_.exchange(true)) return fail(Errc::invalid_argument, "the vCPU is already running");
    auto uc = engine();
    if (!uc) {
        running_ = false;
        return uc.error();
    }
    Result<RunResult> result = run_engine(*uc);
    running_ = false;
    return result;
}

Result<RunResult> EmuVcpu::run_engine(uc_engine* uc) {
    (void)ThreadInside::mine();  // settles this thread's fence protocol before the first phase change
    stop_.reset();
    stopping_now_ = false;
    stop_after_instruction_ = false;
    exits_ = {};
    byte_echo_ = {};
    if (stop_requested_.exchange(false)) {
        RunResult result = stop_result(StopReason::stopped, "stop requested before the run");
        result.ip = read_pc(uc, arch_);
        return result;
    }
    const EmuVcpu* outer = t_running;
    t_running = this;
    enter(Phase::guest);
    sync_memory(true, Point::run_start);
    // The VMM may have written code into guest RAM since the last run
    // (loading an image): translations of the old bytes must not run.
    memory_->forget_translations(code_begin_, code_end_);
    code_begin_ = ~GuestAddr{0};
    code_end_ = 0;
    if (redo_ != Redo::none && read_pc(uc, arch_) != redo_ip_) redo_ = Redo::none;
    uc_err err = UC_ERR_OK;
    if (!stop_ && redo_ == Redo::pending && !hook_every_instruction_) {
        redo_ = Redo::none;
        err = step(uc, Step::ignore);
    }
    if (!stop_ && err == UC_ERR_OK) err = run_from(uc, read_pc(uc, arch_));
    if (replay_pending_) {
        // The run stopped inside the instruction whose handler asked to stop: complete it.
        replay_pending_ = false;
        stopping_now_ = false;
        if (err == UC_ERR_OK) err = step(uc, Step::replay);
    }
    enter(Phase::idle);
    t_running = outer;
    // A block translated just before the run stopped never reached the block hook.
    note_code(read_pc(uc, arch_), static_cast<std::uint32_t>(page_size(arch_)));
    return finish(uc, err);
}

uc_err EmuVcpu::run_from(uc_engine* uc, GuestAddr from) {
    for (;;) {
        resume_pc_.reset();
        restart_ = false;
        irq_stop_ = false;
        last_ip_ = ~GuestAddr{0};
        const uc_err err = uc_emu_start(uc, from, kNoExit, 0, 0);
        if (resume_pc_) write_pc(uc, arch_, *resume_pc_);
        // Every store hooked is performed now.
        flush_stores();
        if (err != UC_ERR_OK || stop_) return err;
        if (irq_stop_) {
            // The instruction hook found an interrupt to deliver before the
            // instruction at the program counter (see "Interrupts").
            deliver_interrupt(uc);
            if (stop_) return err;
        } else if (!restart_) {
            // Nothing stopped the engine but HLT.
            if (step_ || !halt_until_interrupt(uc)) return err;
        }
        from = read_pc(uc, arch_);
    }
}

uc_err EmuVcpu::step(uc_engine* uc, Step how) {
    const GuestAddr pc = read_pc(uc, arch_);
    uc_hook hook = 0;
    if (const uc_err err = uc_hook_add(uc, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&Hooks::code), this, 1, 0);
        err != UC_ERR_OK) {
        stop_with(stop_result(StopReason::internal_error, describe("cannot add an emulator hook", err)));
        return UC_ERR_OK;
    }
    // A translation made without the hook would run on past the instruction.
    uc_ctl_remove_cache(uc, pc, pc + 4);
    step_ = how;
    step_instructions_ = 0;
    replay_done_ = false;
    const uc_err err = run_from(uc, pc);
    step_.reset();
    // Also drops the translations made with the hook.
    uc_hook_del(uc, hook);
    return err;
}

RunResult EmuVcpu::finish(uc_engine* uc, uc_err err) {
    const GuestAddr ip = read_pc(uc, arch_);
    RunResult result;
    if (stop_) {
        result = *stop_;
    } else if (err == UC_ERR_INSN_INVALID) {
        result = stop_result(StopReason::exception, "invalid instruction at " + hex(ip));
    } else if (err == UC_ERR_FETCH_UNMAPPED || err == UC_ERR_FETCH_PROT) {
        result = stop_result(StopReason::exception,
                             "code fetched at " + hex(ip) + ", which is not mapped RAM (emulated or unmapped memory)");
    } else if (err == UC_ERR_EXCEPTION) {
        result = stop_result(StopReason::exception, "unhandled CPU exception at " + hex(ip));
    } else if (err != UC_ERR_OK) {
        result = stop_result(StopReason::internal_error, describe("the emulator stopped", err));
    } else if (stop_requested_.exchange(false)) {
        result = stop_result(StopReason::stopped, "stop requested");
    } else {
        result.reason = StopReason::halted;
    }
    result.ip = ip;
    result.exits = exits_;
    stop_.reset();
    stopping_now_ = false;
    stop_after_instruction_ = false;
    // A failed access stopped the run at its instruction (see on_instruction).
    if (result.reason == StopReason::fault_error) {
        redo_ = Redo::pending;
        redo_ip_ = ip;
    } else {
        redo_ = Redo::none;
    }
    return result;
}

void EmuVcpu::stop_with(RunResult result, bool after_instruction) {
    if (!stop_) stop_ = std::move(result);
    if (after_instruction && !stopping_now_) {
        if (hook_every_instruction_ || step_) {
            stop_after_instruction_ = true;  // the instruction hook stops at the next one
            return;
        }
        // Stop inside the instruction and run it again by itself; the
        // access being handled is the last to answer from the log.
        replay_pending_ = true;
        replay_end_ = access_log_.next();
    }
    if (!hook_every_instruction_ && !resume_pc_) {
        // Inside an access the program counter is the instruction's; in the
        // block hook it is stale, and the block's start is where to go on.
        resume_pc_ = block_start_ ? *block_start_ : read_pc(engine_.get(), arch_);
    }
    // The emulator checks for a stop after every memory access and before
    // every block (and instruction, when hooked): nothing after this point runs.
    stopping_now_ = true;
    uc_emu_stop(engine_.get());
}

bool EmuVcpu::suppress_access() const { return stopping_now_ || redo_ == Redo::inside || step_ == Step::ignore; }

std::optional<std::uint64_t> EmuVcpu::replayed(GuestAddr addr, unsigned size, bool is_write) {
    if (replay_done_) return std::nullopt;
    const auto answer = access_log_.find(replay_end_, addr, size, is_write);
    if (!answer) return std::nullopt;
    replay_done_ = answer->last;
    return answer->value;
}

void EmuVcpu::request_stop() noexcept {
    if (t_running == this) {
        // From a handler on the vCPU's own thread: the access being handled
        // completes, and the run stops before the next instruction (not at
        // the next translated block), so that the next run continues after it.
        ++exits_.interrupted;
        stop_with(stop_result(StopReason::stopped, "stop requested"), true);
        return;
    }
    stop_requested_.store(true, std::memory_order_seq_cst);
    interrupt_pending();  // a vCPU sleeping in HLT wakes to stop
}

void EmuVcpu::note_code(GuestAddr address, std::uint32_t size) {
    code_begin_ = std::min(code_begin_, address);
    code_end_ = std::max(code_end_, address + size);
}

void EmuVcpu::on_block(GuestAddr address, std::uint32_t size) {
    flush_stores();
    note_code(address, size);
    byte_echo_.remaining = 0;
    block_start_ = address;
    if (lapic_ && lapic_->timer_deadline()) lapic_->poll_timer(LocalApic::Clock::now());
    struct Leave {
        std::optional<GuestAddr>& start;
        ~Leave() { start.reset(); }
    } leave{block_start_};
    // A step runs one instruction for a stop already decided (or a failed
    // access's completion): a stop request waits for the next block after it.
    // x86-64 takes another thread's stop request in the instruction hook (see on_instruction).
    if (!hook_every_instruction_ && !step_ && stop_requested_.load(std::memory_order_relaxed) &&
        stop_requested_.exchange(false)) {
        ++exits_.total;
        ++exits_.interrupted;
        stop_with(stop_result(StopReason::stopped, "stop requested"));
        return;
    }
    if (backend_.generation() != acked_.load(std::memory_order_relaxed) || missing_windows_) {
        const bool restart = sync_memory(true, Point::between);
        // A block already translated keeps running from the emulator's code
        // cache (a loop chained to itself never fetches again): once its
        // memory is gone, stop here, as KVM stops at the next fetch.
        if (!stop_ && !memory_->is_ram(address)) {
            stop_with(stop_result(StopReason::exception, "code at " + hex(address) +
                                                             " is no longer in mapped guest memory (freed while "
                                                             "the vCPU ran it)"));
        }
        if (restart && !stop_) restart_at(address);
    }
}

void EmuVcpu::restart_at(GuestAddr address) {
    // The emulator checks for a stop after the hook: nothing of the block
    // (or instruction) runs in its old translation.
    restart_ = true;
    resume_pc_ = address;
    uc_emu_stop(engine_.get());
}

void EmuVcpu::on_instruction(GuestAddr address) {
    flush_stores();
    // The run restarts at this instruction, which does not run now.
    if (restart_) return;
    if (step_) {
        // The stepped instruction is the first this hook sees; the next one ends the step.
        if (step_instructions_++ == 0) return;
        resume_pc_ = address;
        uc_emu_stop(engine_.get());
        return;
    }
    // The store hook changed inside the previous instruction (see "Dirty
    // logging"); a stop due here takes precedence, the next run has the hook.
    if (x86_resync_ && apply_dirty_logging(Point::between) && !stop_after_instruction_) {
        restart_at(address);
        return;
    }
    // The run after a failed access starts at its instruction: complete that
    // instruction's emulated accesses as ignored, then dispatch normally.
    if (redo_ == Redo::pending && address == redo_ip_) {
        redo_ = Redo::inside;
    } else {
        redo_ = Redo::none;
    }
    if (stop_after_instruction_) {
        stop_after_instruction_ = false;
        stopping_now_ = true;
        uc_emu_stop(engine_.get());  // the program counter is this instruction's
        return;
    }
    // Another thread's stop request (x86-64: with every instruction hooked),
    // taken here, before this instruction runs, and the next run starts at
    // it. Taken in the block hook instead, as on AArch64, an instruction of
    // the block could run after the stop and run again on resumption: a
    // guest paused every few milliseconds (snapshots) was seen to execute a
    // pop or a ret twice in about 0.5% of runs.
    if (stop_requested_.load(std::memory_order_relaxed) && stop_requested_.exchange(false)) {
        ++exits_.total;
        ++exits_.interrupted;
        resume_pc_ = address;
        stop_with(stop_result(StopReason::stopped, "stop requested"));
        return;
    }
    if (lapic_) {
        // Not before a failed access's instruction completes as ignored (redo_).
        if (redo_ != Redo::inside && interrupt_window(address)) {
            // Delivered between engine runs, before this instruction (run_from).
            irq_stop_ = true;
            resume_pc_ = address;
            uc_emu_stop(engine_.get());
            return;
        }
        last_ip_ = address;
    }
}

bool EmuVcpu::on_unmapped(uc_engine*, GuestAddr addr, int size, bool is_write) {
    byte_echo_.remaining = 0;
    const bool stopped_before = stop_.has_value();
    {
        CallbackScope scope(*this);
        if (backend_.generation() != acked_.load(std::memory_order_relaxed) || missing_windows_) {
            sync_memory(true, Point::inside);
        }
    }
    // Leaving the callback applied the removals published meanwhile: decide
    // on what this engine maps now, or the retried access could find nothing
    // there (the emulator then fails the run with UC_ERR_MAP).
    if (stop_ && !stopped_before) return false;  // applying the map failed
    // A run stopping at once performs no more accesses; one that completes
    // its instruction first (a stop a handler asked for) maps the page.
    if (stopping_now_ && !replay_pending_) return false;
    if (memory_->is_ram(addr)) {
        // Mapped meanwhile (deferred mapping): retried as RAM, after the
        // store hook found no RAM there.
        if (is_write && logging_) record_store(addr, static_cast<std::uint64_t>(size));
        return true;
    }
    // Emulated memory: map its page so that the retried access reaches
    // mmio_access, which can return the value a read yields.
    if (auto ok = memory_->add_mmio_page(addr); !ok) {
        stop_with(stop_result(StopReason::internal_error, ok.error().message));
        return false;
    }
    return true;
}

bool EmuVcpu::on_fetch_unmapped(GuestAddr addr) {
    // Code cannot run from emulated memory: a fetch that finds no RAM is
    // served only by a deferred mapping there, which a data access would
    // have completed through dispatch() but a fetch never reaches.
    const bool stopped_before = stop_.has_value();
    {
        CallbackScope scope(*this);
        auto completed = FaultDispatcher::of(vcpu_.vm()).complete_deferred_at(addr);
        if (!completed) {
            stop_with(stop_result(StopReason::internal_error, "the deferred mapping of the code at " + hex(addr) +
                                                                  " failed: " + completed.error().message));
            return false;
        }
        // The engine retries the fetch as soon as this returns: it must map
        // the new RAM (or RAM another vCPU's first touch mapped) by then.
        if (backend_.generation() != acked_.load(std::memory_order_relaxed) || missing_windows_) {
            sync_memory(true, Point::inside);
        }
    }
    if (stop_ && !stopped_before) return false;  // applying the map failed
    return memory_->is_ram(addr);
}

bool EmuVcpu::on_write_protected(GuestAddr addr, int size, std::int64_t value) {
    // The emulator reports an unaligned store to read-only memory whole, then
    // byte by byte: deliver it once.
    if (size == 1 && byte_echo_.remaining > 0 && addr == byte_echo_.next) {
        ++byte_echo_.next;
        --byte_echo_.remaining;
        return true;
    }
    byte_echo_.remaining = 0;
    if (size > 1 && addr % static_cast<unsigned>(size) != 0) byte_echo_ = {addr, size};
    if (step_ == Step::replay && replayed(addr, static_cast<unsigned>(size), true)) return true;
    if (suppress_access()) return true;  // dropped, as ignored
    CallbackScope scope(*this);
    ++exits_.total;
    ++exits_.mmio;
    Access access{addr, static_cast<std::uint8_t>(size), true, low_bytes(value, size)};
    dispatch(access);
    if (!hook_every_instruction_) access_log_.record(addr, static_cast<unsigned>(size), true, 0);
    return true;  // the store is discarded; the instruction completes
}

std::uint64_t EmuVcpu::mmio_access(GuestAddr addr, unsigned size, bool is_write, std::uint64_t value) {
    byte_echo_.remaining = 0;
    // A later part of an access that already failed (the high half of an
    // 8-byte access), or the failed instruction being completed: as ignored.
    if (step_ == Step::replay) {
        if (auto answer = replayed(addr, size, is_write)) return is_write ? 0 : *answer;
    }
    if (suppress_access()) return 0;
    CallbackScope scope(*this);
    ++exits_.total;
    ++exits_.mmio;
    Access access{addr, static_cast<std::uint8_t>(size), is_write, is_write ? value : 0};
    dispatch(access);
    if (!hook_every_instruction_) access_log_.record(addr, size, is_write, is_write ? 0 : access.data);
    return is_write ? 0 : access.data;
}

bool EmuVcpu::dispatch(Access& access) {
    AccessOutcome outcome = vcpu_.vm().dispatch(vcpu_, access);
    if (outcome) return true;
    // A stop asked for earlier in the instruction ends the run at it, as on x86.
    replay_pending_ = false;
    // The run ends here: the failure is reported (and logged) once.
    RunResult result = stop_result(StopReason::fault_error, describe(*outcome.failure));
    log(LogLevel::error, std::string(ApiCall::current()) + ": " + result.message);
    result.fault = outcome.failure;
    stop_with(std::move(result));
    if (!access.is_write) access.data = 0;
    return false;
}

void EmuVcpu::on_interrupt(uc_engine* uc, std::uint32_t number) {
    ++exits_.total;
    const GuestAddr pc = read_pc(uc, arch_);
    std::string message;
    if (arch_ == Arch::aarch64) {
        message = std::string("AArch64 ") + arm64_exception_name(number) + " (exception " + std::to_string(number) +
                  ") near " + hex(pc);
    } else {
        message = "x86 exception or interrupt vector " + std::to_string(number) + " near " + hex(pc);
    }
    stop_with(stop_result(StopReason::exception, std::move(message)));
}

std::uint32_t EmuVcpu::on_port(std::uint16_t port, int size, bool is_write, std::uint32_t value) {
    CallbackScope scope(*this);
    ++exits_.total;
    ++exits_.port_io;
    PortAccess access{port, static_cast<std::uint8_t>(size), is_write, is_write ? value : 0};
    auto refuse = [&](std::string why) {
        RunResult result = stop_result(StopReason::port_io_error, std::move(why));
        result.port = access;
        stop_with(std::move(result));
        return 0u;
    };
    if (!port_io_) return refuse("no port I/O handler for port " + hex(port));
    PortResult decided;
    {
        ApiCall::UserCode user_code;
        decided = port_io_(access);
    }
    switch (decided) {
    case PortResult::handled: return is_write ? 0 : access.data;
    case PortResult::ignore: return 0;
    case PortResult::error: break;
    }
    return refuse("the port I/O handler failed the access to port " + hex(port));
}

// Interrupts (x86-64). The VM's InterruptController lines are I/O APIC pins
// (EmuBackend::io_apic); the vCPU's LocalApic holds what is in service and
// its timer's requests. The emulator itself takes no external interrupts, so
// the vCPU delivers them by hand between engine runs:
//
// - While guest code runs, the instruction hook (every instruction on
//   x86-64) checks for a line pending for this vCPU (has_pending, a
//   lock-free load) or a local APIC request (the timer, whose deadline the
//   block hook checks while it runs). Only then does it read RFLAGS.IF and
//   the priorities; when an interrupt is deliverable it stops the engine
//   before the instruction, and run_from delivers and runs on at the
//   handler. A line raised from another thread is thus seen at the guest's
//   next instruction, with no wake-up of the engine. The instruction after
//   STI is not interrupted (its interrupt shadow, as the guest's "sti; hlt"
//   relies on); a pending interrupt the guest cannot take (IF=0, a masked
//   pin, a priority not above the TPR) costs that check at every instruction.
// - HLT ends an engine run. With IF=1 and a controller the vCPU then sleeps
//   (wake_) until an interrupt is deliverable, the timer's deadline, or a
//   stop request, then delivers and runs on. A stop while asleep ends the
//   run with the program counter back at the HLT, so the next run halts
//   again. With IF=0 or without a controller the run ends as before
//   (StopReason::halted, after the HLT).
// - Delivery takes the interrupt (InterruptController::take for a pin), puts
//   its vector in service in the local APIC, and performs the 64-bit IDT
//   delivery at the current privilege level: the gate at IDTR.base + 16 *
//   vector, a frame of SS, RSP, RFLAGS, CS and RIP pushed below RSP aligned
//   down to 16, IF cleared for an interrupt gate, CS:RIP from the gate. An
//   IDT that cannot deliver (no gate, not present, IST, a stack that is not
//   writable RAM) ends the run with StopReason::exception.
// - The guest's EOI (a local APIC write, on this thread) ends the highest
//   vector in service; a pin's ends its line (InterruptController::end: the
//   ack handler runs here, and a level line still high is pending again).

void EmuVcpu::interrupt_pending() noexcept {
    {
        std::lock_guard lock(wake_mutex_);
        woken_ = true;
    }
    wake_.notify_all();
}

FaultResult EmuVcpu::local_apic_access(Fault& fault) {
    if (!lapic_) return FaultResult::unhandled;
    const auto now = LocalApic::Clock::now();
    const auto size = static_cast<unsigned>(fault.size());
    if (fault.is_read()) {
        fault.set_data(lapic_->read(fault.offset(), size, now));
        return FaultResult::handled;
    }
    if (auto ended = lapic_->write(fault.offset(), size, static_cast<std::uint32_t>(fault.data()), now)) {
        end_of_interrupt(*ended);
    }
    return FaultResult::handled;
}

void EmuVcpu::end_of_interrupt(std::uint8_t vector) {
    const int pin = isr_pin_[vector];
    isr_pin_[vector] = -1;
    if (pin < 0) return;
    InterruptController* irqs = vcpu_.vm().irq_controller();
    if (!irqs) return;
    if (auto ok = irqs->end(vcpu_, static_cast<IrqNumber>(pin)); !ok) {
        log(LogLevel::warning, "vCPU " + std::to_string(vcpu_.index()) + ": EOI of vector " + std::to_string(vector) +
                                   " (I/O APIC pin " + std::to_string(pin) + "): " + ok.error().message);
    }
}

std::optional<EmuVcpu::IrqCandidate> EmuVcpu::pick_interrupt(InterruptController* irqs) {
    if (!lapic_->enabled()) return std::nullopt;
    std::optional<IrqCandidate> best;
    if (auto vector = lapic_->highest_irr()) best = IrqCandidate{*vector, -1};
    if (irqs && irqs->has_pending(vcpu_)) {
        for (const IrqNumber line : irqs->pending(vcpu_)) {
            if (line >= IoApic::kPins) break;  // no pin: never delivered
            const IoApic::Route route = backend_.io_apic().route(line);
            if (route.masked || route.vector < 16) continue;  // vectors 0-15 are illegal (SDM 11.5.2)
            if (!best || route.vector > best->vector) best = IrqCandidate{route.vector, static_cast<int>(line)};
        }
    }
    // Higher vectors are higher priorities: if the best is not above the
    // processor priority, nothing is.
    if (!best || !lapic_->accepts(best->vector)) return std::nullopt;
    return best;
}

bool EmuVcpu::interrupt_flag(uc_engine* uc) const {
    std::uint64_t rflags = 0;
    uc_reg_read(uc, UC_X86_REG_RFLAGS, &rflags);
    return (rflags & (1u << 9)) != 0;
}

bool EmuVcpu::interrupt_window(GuestAddr address) {
    InterruptController* irqs = vcpu_.vm().irq_controller();
    if (!lapic_->irr_pending() && !(irqs && irqs->has_pending(vcpu_))) return false;
    uc_engine* uc = engine_.get();
    if (!interrupt_flag(uc)) return false;
    if (last_ip_ != ~GuestAddr{0} && last_ip_ != address) {
        std::uint8_t previous = 0;
        if (uc_mem_read(uc, last_ip_, &previous, 1) == UC_ERR_OK && previous == 0xfb) return false;  // after STI
    }
    return pick_interrupt(irqs).has_value();
}

bool EmuVcpu::deliver_interrupt(uc_engine* uc) {
    InterruptController* irqs = vcpu_.vm().irq_controller();
    lapic_->poll_timer(LocalApic::Clock::now());
    const auto chosen = pick_interrupt(irqs);
    if (!chosen) return false;
    if (chosen->pin >= 0 && !irqs->take(vcpu_, static_cast<IrqNumber>(chosen->pin))) {
        return false;  // withdrawn meanwhile (set_level(false))
    }
    lapic_->accept(chosen->vector);
    isr_pin_[chosen->vector] = static_cast<std::int16_t>(chosen->pin);
    enter_handler(uc, chosen->vector);
    return true;
}

void EmuVcpu::enter_handler(uc_engine* uc, std::uint8_t vector) {
    const std::string what = "interrupt vector " + std::to_string(vector);
    auto refuse = [&](const std::string& why) {
        ++exits_.total;
        stop_with(stop_result(StopReason::exception, what + " cannot be delivered: " + why));
    };
    uc_x86_mmr idtr{};
    if (uc_reg_read(uc, UC_X86_REG_IDTR, &idtr) != UC_ERR_OK) return refuse("the IDTR cannot be read");
    const std::uint64_t gate_at = idtr.base + std::uint64_t{vector} * 16;
    if (std::uint64_t{vector} * 16 + 15 > idtr.limit) {
        return refuse("the guest's IDT (base " + hex(idtr.base) + ", limit " + hex(idtr.limit) +
                      ") has no gate for it (no IDT loaded?)");
    }
    std::array<std::uint8_t, 16> gate{};
    if (!memory_->is_ram(gate_at) || !memory_->is_ram(gate_at + 15) ||
        uc_mem_read(uc, gate_at, gate.data(), gate.size()) != UC_ERR_OK) {
        return refuse("its IDT gate at " + hex(gate_at) + " is not in guest RAM");
    }
    const unsigned type = gate[5] & 0xfu;
    if ((gate[5] & 0x80u) == 0 || (type != 0xe && type != 0xf)) {
        return refuse("its IDT gate at " + hex(gate_at) + " is not a present 64-bit interrupt or trap gate");
    }
    if ((gate[4] & 7u) != 0) return refuse("its IDT gate uses an interrupt stack table entry (not supported)");
    const auto word = [&](unsigned at) { return std::uint64_t{gate[at]} | std::uint64_t{gate[at + 1]} << 8; };
    const std::uint64_t target = word(0) | word(6) << 16 | (word(8) | word(10) << 16) << 32;
    const auto selector = static_cast<std::uint16_t>(word(2));

    std::uint64_t rip = 0;
    std::uint64_t rsp = 0;
    std::uint64_t rflags = 0;
    std::uint64_t cs = 0;
    std::uint64_t ss = 0;
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    uc_reg_read(uc, UC_X86_REG_RSP, &rsp);
    uc_reg_read(uc, UC_X86_REG_RFLAGS, &rflags);
    uc_reg_read(uc, UC_X86_REG_CS, &cs);
    uc_reg_read(uc, UC_X86_REG_SS, &ss);
    // The 64-bit frame: RIP at the new RSP, then CS, RFLAGS, RSP and SS.
    const std::uint64_t frame_at = (rsp & ~std::uint64_t{15}) - 40;
    const std::array<std::uint64_t, 5> frame{rip, cs & 0xffffu, rflags, rsp, ss & 0xffffu};
    const RamSegment* low = memory_->segment_at(frame_at);
    const RamSegment* high = memory_->segment_at(frame_at + 39);
    if (!low || !high || !low->writable || !high->writable) {
        return refuse("the stack at " + hex(frame_at) + " (RSP " + hex(rsp) + ") is not writable guest RAM");
    }
    if (uc_mem_write(uc, frame_at, frame.data(), sizeof frame) != UC_ERR_OK) {
        return refuse("the stack at " + hex(frame_at) + " cannot be written");
    }
    if (logging_) {
        // Written past the store hook: marked as a guest store.
        record_store(frame_at, sizeof frame);
        flush_stores();
    }
    if (selector != (cs & 0xffffu) && uc_reg_write(uc, UC_X86_REG_CS, &selector) != UC_ERR_OK) {
        return refuse("its gate's code segment selector " + hex(selector) + " cannot be loaded");
    }
    // TF, NT, RF and VM cleared; IF too for an interrupt gate (not a trap gate).
    rflags &= ~std::uint64_t{(1u << 8) | (1u << 14) | (1u << 16) | (1u << 17)};
    if (type == 0xe) rflags &= ~std::uint64_t{1u << 9};
    uc_reg_write(uc, UC_X86_REG_RSP, &frame_at);
    uc_reg_write(uc, UC_X86_REG_RFLAGS, &rflags);
    uc_reg_write(uc, UC_X86_REG_RIP, &target);
}

bool EmuVcpu::halt_until_interrupt(uc_engine* uc) {
    InterruptController* irqs = vcpu_.vm().irq_controller();
    if (!lapic_ || !irqs || !interrupt_flag(uc)) return false;
    for (;;) {
        // Asleep, the vCPU is not in guest code: an uninstall need not wait for it.
        enter(Phase::idle);
        bool stop = false;
        {
            std::unique_lock lock(wake_mutex_);
            for (;;) {
                woken_ = false;
                if (stop_requested_.exchange(false)) {
                    stop = true;
                    break;
                }
                lapic_->poll_timer(LocalApic::Clock::now());
                if (pick_interrupt(irqs)) break;
                if (const auto deadline = lapic_->timer_deadline()) {
                    wake_.wait_until(lock, *deadline, [this] { return woken_; });
                } else {
                    wake_.wait(lock, [this] { return woken_; });
                }
            }
        }
        enter(Phase::guest);
        sync_memory(true, Point::run_start);
        if (stop_) return false;  // applying the map failed
        if (stop) {
            // The next run starts at the HLT (one byte), and sleeps again.
            write_pc(uc, arch_, read_pc(uc, arch_) - 1);
            ++exits_.total;
            ++exits_.interrupted;
            stop_with(stop_result(StopReason::stopped, "stop requested while halted (HLT, waiting for an interrupt)"));
            return false;
        }
        if (deliver_interrupt(uc)) return !stop_;
        // Withdrawn between the check and the delivery: sleep again.
    }
}

Result<Registers> EmuVcpu::registers() {
    auto uc = engine();
    if (!uc) return uc.error();
    return read_registers(*uc, arch_);
}

Result<void> EmuVcpu::set_registers(const Registers& registers) {
    if (arch_of(registers) != arch_) return fail(Errc::invalid_argument, "registers of another architecture");
    auto uc = engine();
    if (!uc) return uc.error();
    redo_ = Redo::none;  // the VMM moved the vCPU on: nothing left to complete
    return write_registers(*uc, registers);
}

Result<SystemState> EmuVcpu::system_state() {
    if (arch_ == Arch::x86_64) {
        if (x86_state_) return SystemState{*x86_state_};
        // What the engine runs: long mode, flat 64-bit code, paging off.
        X86SystemState state;
        state.cr0 = 0x11;    // PE, ET
        state.efer = 0x500;  // LME, LMA
        state.cs = X86Segment{0, 0xffffffff, 0x8, 0xb, true, 0, false, true, true, true};
        return SystemState{state};
    }
    auto uc = engine();
    if (!uc) return uc.error();
    auto state = read_arm64_system_state(*uc);
    if (!state) return state.error();
    return SystemState{*state};
}

Result<void> EmuVcpu::set_system_state(const SystemState& state) {
    if (arch_ == Arch::x86_64) {
        const auto* x86 = std::get_if<X86SystemState>(&state);
        if (!x86) return fail(Errc::invalid_argument, "AArch64 system state for an x86-64 vCPU");
        if (auto ok = check_x86_long_mode(*x86); !ok) return ok;
        x86_state_ = *x86;
        return {};
    }
    const auto* arm = std::get_if<Arm64SystemState>(&state);
    if (!arm) return fail(Errc::invalid_argument, "x86-64 system state for an AArch64 vCPU");
    auto uc = engine();
    if (!uc) return uc.error();
    return write_arm64_system_state(*uc, *arm);
}

Result<void> EmuVcpu::set_port_io_handler(PortIoHandler handler) {
    if (arch_ != Arch::x86_64) return fail(Errc::unsupported, "AArch64 has no port I/O");
    port_io_ = std::move(handler);
    return {};
}

}  // namespace guestmem::emu
