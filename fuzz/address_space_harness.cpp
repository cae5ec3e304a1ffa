// SPDX-License-Identifier: BSD-2-Clause
// Decodes a fuzzer input into a sequence of guestmem API calls on a sim VM and
// checks every result against the reference model. A disagreement aborts with
// a description of the step, so libFuzzer keeps the input as a crash.
#include "address_space_harness.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <utility>
#include <memory>
#include <string>

#include "guestmem/log.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"
#include "reference_model.hpp"

namespace {

using fuzzmodel::Policy;

/// Reads the input as a stream of small numbers; zeros once it runs out.
class InputReader {
public:
    InputReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool empty() const { return pos_ >= size_; }
    std::uint64_t bits(unsigned count) {
        std::uint64_t v = 0;
        for (unsigned i = 0; i < (count + 7) / 8; ++i) v |= std::uint64_t{byte()} << (8 * i);
        return count >= 64 ? v : v & ((std::uint64_t{1} << count) - 1);
    }
    /// A value in [0, n).
    std::uint64_t below(std::uint64_t n) { return n <= 1 ? 0 : bits(n > 0xffff ? 32 : 16) % n; }
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

[[noreturn]] void mismatch(int step, const std::string& what) {
    std::fprintf(stderr, "address_space_fuzzer: step %d: library and model disagree: %s\n", step, what.c_str());
    std::abort();
}

constexpr std::uint64_t kPage = 0x1000;
// Everything happens in a small window so that ranges collide often; 2 MiB
// and 1 GiB frames get aligned slots of their own above it.
constexpr std::uint64_t kWindow = 64 * kPage;
constexpr std::uint64_t kLargeBase = std::uint64_t{1} << 30;
constexpr unsigned kMaxSteps = 256;

class Harness {
public:
    Harness() : caps_(std::make_shared<guestmem::CapabilitySpace>(options())) {
        vm_ = std::move(guestmem::Vm::create(guestmem::BackendKind::sim, caps_).value());
        vcpu_ = vm_->create_vcpu().value();
    }

    void run(InputReader& in) {
        for (step_ = 0; !in.empty() && step_ < static_cast<int>(kMaxSteps); ++step_) {
            switch (in.below(13)) {
            case 0: init(); break;
            case 1: make_anon(in); break;
            case 2: reserve_at(in); break;
            case 3: reserve_anon(in); break;
            case 4: map_iterator(in); break;
            case 5: map_frames(in); break;
            case 6: free(in); break;
            case 7:
            case 8: access(in); break;
            case 9: allocate_frame(in); break;
            case 10: copy_or_delete_cap(in); break;
            case 11:
                model_.deferred_mode = in.bits(1);
                vm_->set_deferred_mapping(model_.deferred_mode);
                break;
            case 12: set_unhandled(in); break;
            }
            check_layout();
        }
    }

private:
    static guestmem::CapabilitySpace::Options options() {
        guestmem::CapabilitySpace::Options o;
        o.arena_bytes = std::uint64_t{1} << 30;
        return o;
    }

    void expect(bool library_ok, bool model_ok, const char* call) {
        if (library_ok != model_ok) {
            mismatch(step_, std::string(call) + (library_ok ? " succeeded" : " failed") + " but the model says it " +
                                (model_ok ? "succeeds" : "fails"));
        }
    }

    guestmem::FaultHandler handler(Policy policy, std::uint64_t value) {
        return [policy, value](guestmem::Fault& fault) {
            if (policy == Policy::handled && fault.is_read()) fault.set_data(value);
            return static_cast<guestmem::FaultResult>(policy);
        };
    }

    Policy policy(InputReader& in) { return static_cast<Policy>(in.below(5)); }

    void init() { expect(vm_->init_memory().ok(), !std::exchange(model_.initialized, true), "init_memory"); }

    void make_anon(InputReader& in) {
        const std::uint64_t base = in.below(kWindow / kPage) * kPage + (in.below(8) == 0 ? 1 : 0);
        const std::uint64_t size = in.below(16) * kPage;
        const bool ok = model_.initialized && size != 0 && base % kPage == 0 && !model_.overlaps_anything(base, size);
        expect(vm_->make_anon(base, size).ok(), ok, "make_anon");
        if (ok) model_.pools.push_back({base, size});
    }

    void add(std::uint64_t id, std::uint64_t base, std::uint64_t size, bool anonymous, Policy p, std::uint64_t value) {
        fuzzmodel::Reservation r;
        r.base = base;
        r.size = size;
        r.anonymous = anonymous;
        r.policy = p;
        r.value = value;
        model_.reservations.emplace(id, std::move(r));
        trace("reserve id=%llu [%llx, +%llx) anon=%d policy=%d", static_cast<unsigned long long>(id),
              static_cast<unsigned long long>(base), static_cast<unsigned long long>(size), anonymous,
              static_cast<int>(p));
    }

    // C varargs rather than a template, so that the compiler checks each
    // call's arguments against its format (and sees a literal format).
    __attribute__((format(printf, 2, 3))) void trace(const char* format, ...) {
        if (!tracing_) return;
        std::fprintf(stderr, "step %d: ", step_);
        va_list args;
        va_start(args, format);
        std::vfprintf(stderr, format, args);
        va_end(args);
        std::fputc('\n', stderr);
    }

    void reserve_at(InputReader& in) {
        std::uint64_t base, size;
        if (in.below(8) == 0) {  // a large, aligned slot for 2 MiB / 1 GiB frames
            const unsigned bits = in.bits(1) ? 21 : 30;
            base = kLargeBase * (1 + in.below(3));
            size = (std::uint64_t{1} << bits) * (1 + in.below(2));
        } else {
            base = in.below(kWindow);
            size = in.below(4) == 0 ? in.below(64) : in.below(8) * kPage;
        }
        if (in.below(16) == 0) base = UINT64_MAX - in.below(kPage);  // wrapping ranges
        const Policy p = policy(in);
        const std::uint64_t value = in.bits(64);
        const bool ok = model_.initialized && size != 0 && size - 1 <= UINT64_MAX - base &&
                        !model_.overlaps_anything(base, size);
        auto id = vm_->reserve_at(base, size, handler(p, value));
        expect(id.ok(), ok, "reserve_at");
        if (ok) add(static_cast<std::uint64_t>(*id), base, size, false, p, value);
        if (id) ids_.push_back(static_cast<std::uint64_t>(*id));
    }

    void reserve_anon(InputReader& in) {
        const std::uint64_t size = in.below(3 * kPage);
        const std::uint64_t align = in.below(6) == 0 ? 3 : (std::uint64_t{1} << in.below(16)) * (in.bits(2) != 0);
        const Policy p = policy(in);
        const std::uint64_t value = in.bits(64);
        std::optional<std::uint64_t> fit;
        const bool valid = model_.initialized && size != 0 && (align == 0 || (align & (align - 1)) == 0);
        const std::uint64_t rounded = (size + kPage - 1) / kPage * kPage;
        if (valid) fit = model_.anon_fit(rounded, std::max<std::uint64_t>(align, kPage));
        auto r = vm_->reserve_anon(size, align, handler(p, value));
        expect(r.ok(), fit.has_value(), "reserve_anon");
        if (!r) return;
        if (r->addr != *fit) mismatch(step_, "reserve_anon placed the reservation at another address");
        add(static_cast<std::uint64_t>(r->id), *fit, rounded, true, p, value);
        ids_.push_back(static_cast<std::uint64_t>(r->id));
    }

    std::uint64_t pick_id(InputReader& in) {
        // Reservation ids are process-wide and count up from 1: a small
        // random one would name a reservation only when this input runs
        // first in its process, and a crash would not replay. Ids from the
        // top are never issued.
        if (ids_.empty() || in.below(16) == 0) return UINT64_MAX - in.bits(8);
        return ids_[in.below(ids_.size())];
    }

    std::uint64_t pick_cap(InputReader& in) {
        if (caps_issued_.empty() || in.below(16) == 0) return in.below(4);  // null or stale
        return caps_issued_[in.below(caps_issued_.size())];
    }

    /// Whether the model accepts a map call on `id` before looking at the frames.
    fuzzmodel::Reservation* mappable(std::uint64_t id) {
        if (!model_.initialized) return nullptr;
        auto it = model_.reservations.find(id);
        if (it == model_.reservations.end() || it->second.mapped || it->second.deferred) return nullptr;
        return &it->second;
    }

    void record_mapping(fuzzmodel::Reservation& r, const std::vector<fuzzmodel::FrameRequest>& frames, bool ok) {
        if (!ok) return;
        if (model_.deferred_mode) {
            r.deferred = true;
            r.pending = frames;
        } else {
            r.mappings = *model_.plan_mapping(r, frames);
            r.mapped = true;
        }
    }

    void map_iterator(InputReader& in) {
        const std::uint64_t id = pick_id(in);
        auto* r = mappable(id);
        std::vector<fuzzmodel::FrameRequest> frames;
        const std::uint64_t count = 1 + in.below(6);
        std::uint64_t addr = r ? r->base : 0;
        for (std::uint64_t i = 0; i < count; ++i) {
            fuzzmodel::FrameRequest f;
            f.cap = pick_cap(in);
            const auto cap = model_.caps.find(f.cap);
            f.size_bits = in.below(8) == 0 ? static_cast<unsigned>(in.below(32))
                          : cap != model_.caps.end()
                              ? model_.frames[static_cast<std::size_t>(cap->second.frame)].size_bits
                              : 12;
            f.rights = in.below(4) == 0 ? static_cast<unsigned>(in.bits(4)) : 0xf;
            f.addr = in.below(8) == 0 ? addr + in.below(3) * kPage : addr;
            frames.push_back(f);
            addr += std::uint64_t{1} << (f.size_bits & 31);
        }
        // The iterator owns its frames: a deferred one runs long after this call.
        auto owned = std::make_shared<const std::vector<fuzzmodel::FrameRequest>>(frames);
        std::size_t next = 0;
        auto result = vm_->map(static_cast<guestmem::ReservationId>(id), [owned, next](guestmem::GuestAddr) mutable {
            if (next >= owned->size()) return guestmem::FrameRequest{};
            const auto& f = (*owned)[next++];
            return guestmem::FrameRequest{f.cap, static_cast<guestmem::Rights>(f.rights), f.addr, f.size_bits};
        });
        const bool ok = r && (model_.deferred_mode || model_.plan_mapping(*r, frames).has_value());
        trace("map id=%llu %zu frames deferred=%d: model %s", static_cast<unsigned long long>(id), frames.size(),
              model_.deferred_mode, ok ? "ok" : "error");
        for (const auto& f : frames) {
            trace("  frame cap=%llu rights=%x addr=%llx bits=%u", static_cast<unsigned long long>(f.cap), f.rights,
                  static_cast<unsigned long long>(f.addr), f.size_bits);
        }
        expect(result.ok(), ok, "map");
        if (r) record_mapping(*r, frames, ok);
    }

    void map_frames(InputReader& in) {
        const std::uint64_t id = pick_id(in);
        auto* r = mappable(id);
        const unsigned bits = in.below(8) == 0 ? static_cast<unsigned>(in.below(32)) : (in.below(6) == 0 ? 21 : 12);
        std::vector<guestmem::Cap> caps;
        const std::uint64_t count = in.below(5);
        for (std::uint64_t i = 0; i < count; ++i) caps.push_back(pick_cap(in));
        auto result = vm_->map_frames(static_cast<guestmem::ReservationId>(id), caps, bits);
        bool ok = r && (bits == 12 || bits == 21 || bits == 30) && count * (std::uint64_t{1} << bits) == r->size;
        std::vector<fuzzmodel::FrameRequest> frames;
        if (ok) {
            for (std::uint64_t i = 0; i < count; ++i) {
                frames.push_back({caps[i], 0xf, r->base + (i << bits), bits});
            }
            ok = model_.deferred_mode || model_.plan_mapping(*r, frames).has_value();
        }
        trace("map_frames id=%llu %llu caps bits=%u: model %s", static_cast<unsigned long long>(id),
              static_cast<unsigned long long>(count), bits, ok ? "ok" : "error");
        expect(result.ok(), ok, "map_frames");
        if (r) record_mapping(*r, frames, ok);
    }

    void free(InputReader& in) {
        const std::uint64_t id = pick_id(in);
        auto it = model_.reservations.find(id);
        const bool ok = model_.initialized && it != model_.reservations.end();
        trace("free id=%llu: model %s", static_cast<unsigned long long>(id), ok ? "ok" : "error");
        expect(vm_->free(static_cast<guestmem::ReservationId>(id)).ok(), ok, "free");
        if (ok) model_.reservations.erase(it);
    }

    void access(InputReader& in) {
        static const unsigned sizes[] = {1, 2, 4, 8};
        std::uint64_t addr;
        if (!model_.reservations.empty() && in.below(4) != 0) {
            auto it = model_.reservations.begin();
            std::advance(it, static_cast<long>(in.below(model_.reservations.size())));
            addr = it->second.base + in.below(std::min<std::uint64_t>(it->second.size + 8, 2 * kPage + 8));
        } else {
            addr = in.below(kWindow + kPage);
        }
        const unsigned size = sizes[in.below(4)];
        const bool is_write = in.bits(1);
        const std::uint64_t value = in.bits(64);
        const fuzzmodel::AccessResult expected = model_.access(addr, size, is_write, value);
        trace("%s %u bytes at %llx value %llx: model %s %llx", is_write ? "write" : "read", size,
              static_cast<unsigned long long>(addr), static_cast<unsigned long long>(value),
              expected.ok ? "ok" : "error", static_cast<unsigned long long>(expected.value));
        if (is_write) {
            expect(guestmem::sim::write(*vcpu_, addr, size, value).ok(), expected.ok, "sim::write");
            return;
        }
        auto got = guestmem::sim::read(*vcpu_, addr, size);
        expect(got.ok(), expected.ok, "sim::read");
        if (got && *got != expected.value) {
            mismatch(step_, "read of " + std::to_string(size) + " bytes at " + std::to_string(addr) + " returned " +
                                std::to_string(*got) + ", the model says " + std::to_string(expected.value));
        }
    }

    void allocate_frame(InputReader& in) {
        unsigned bits = 12;
        const auto roll = in.below(16);
        if (roll == 0 && huge_frames_ < 2) {
            bits = 30;
            ++huge_frames_;
        } else if (roll < 3) {
            bits = 21;
        }
        auto cap = caps_->allocate_frame(*guestmem::frame_size_from_bits(bits));
        if (!cap) mismatch(step_, "allocate_frame failed");
        model_.frames.push_back({bits, {}});
        model_.caps[*cap] = {static_cast<int>(model_.frames.size() - 1), 0xf};
        caps_issued_.push_back(*cap);
        trace("allocate_frame bits=%u: cap=%llu frame=%zu", bits, static_cast<unsigned long long>(*cap),
              model_.frames.size() - 1);
        // Sometimes the VMM writes the frame directly.
        if (in.bits(1)) {
            const std::uint64_t offset = in.below(kPage);
            const std::uint8_t value = in.byte();
            (*caps_->frame_memory(*cap))[offset] = static_cast<std::byte>(value);
            model_.frames.back().bytes[offset] = value;
            trace("  the VMM writes %02x at offset %llx", value, static_cast<unsigned long long>(offset));
        }
    }

    void copy_or_delete_cap(InputReader& in) {
        const std::uint64_t cap = pick_cap(in);
        auto it = model_.caps.find(cap);
        if (in.bits(1)) {
            const unsigned rights = static_cast<unsigned>(in.bits(4));
            auto copy = caps_->copy(cap, static_cast<guestmem::Rights>(rights));
            trace("copy cap=%llu rights=%x: %s", static_cast<unsigned long long>(cap), rights,
                  copy ? std::to_string(*copy).c_str() : "error");
            expect(copy.ok(), it != model_.caps.end(), "copy");
            if (!copy) return;
            model_.caps[*copy] = {it->second.frame, it->second.rights & rights};
            caps_issued_.push_back(*copy);
        } else {
            trace("remove cap=%llu", static_cast<unsigned long long>(cap));
            expect(caps_->remove(cap).ok(), it != model_.caps.end(), "remove");
            if (it != model_.caps.end()) model_.caps.erase(it);
        }
    }

    void set_unhandled(InputReader& in) {
        if (in.below(4) == 0) {
            trace("no unhandled handler");
            model_.unhandled_policy.reset();
            vm_->set_unhandled_fault_handler({});
            return;
        }
        const Policy p = policy(in);
        const std::uint64_t value = in.bits(64);
        trace("unhandled handler policy=%d", static_cast<int>(p));
        model_.unhandled_policy = p;
        model_.unhandled_value = value;
        vm_->set_unhandled_fault_handler(handler(p, value));
    }

    void check_layout() {
        const auto infos = vm_->reservations();
        if (infos.size() != model_.reservations.size()) mismatch(step_, "the number of reservations differs");
        for (const auto& info : infos) {
            auto it = model_.reservations.find(static_cast<std::uint64_t>(info.id));
            if (it == model_.reservations.end()) mismatch(step_, "the library has a reservation the model does not");
            const auto& r = it->second;
            if (info.range.base != r.base || info.range.size != r.size || info.anonymous != r.anonymous ||
                info.mapped != r.mapped || info.deferred != r.deferred) {
                mismatch(step_, "a reservation's range or state differs");
            }
        }
    }

    std::shared_ptr<guestmem::CapabilitySpace> caps_;
    std::unique_ptr<guestmem::Vm> vm_;
    guestmem::Vcpu* vcpu_ = nullptr;
    fuzzmodel::Model model_;
    std::vector<std::uint64_t> ids_;
    std::vector<std::uint64_t> caps_issued_;
    unsigned huge_frames_ = 0;
    int step_ = 0;
    const bool tracing_ = std::getenv("GUESTMEM_FUZZ_TRACE") != nullptr;
};

}  // namespace

void run_address_space_input(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = [] {
        // Rejections are expected by the thousand: keep the log for real trouble.
        guestmem::set_log_handler([](guestmem::LogLevel, std::string_view) {});
        return true;
    }();
    (void)quiet;
    InputReader in(data, size);
    Harness harness;
    harness.run(in);
}
