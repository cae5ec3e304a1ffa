// SPDX-License-Identifier: BSD-2-Clause
// Concurrency stress on the sim backend: vCPU threads perform accesses of
// every size, direction and alignment over a set of pages while a control
// thread keeps reserving (fixed and anonymous), mapping read-only frames and
// freeing there. Afterwards a checker replays every access against the
// control thread's timeline:
//   - an access served by a handler went to a reservation that contained it
//     and was alive (its reserve had started, its free had not returned);
//   - no handler ran after its reservation's free returned (checked live);
//   - an access that a reservation wholly contained for its whole duration
//     was served by that reservation (memory or handler), never "unhandled";
//   - a read served from memory returned the bytes of a live mapped frame;
//   - nothing was lost: every access completed, and the handler call counts
//     equal the accesses each reservation served (no double dispatch).
// An access that crossed the edge of a reservation alive during it may have
// been split into parts with different owners: only its completion and its
// handler calls (in the totals) are checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "guestmem/log.hpp"
#include "guestmem/sim.hpp"
#include "guestmem/vm.hpp"
#include "stress_support.hpp"

namespace guestmem::stress {
namespace {

constexpr GuestAddr kDeviceArea = 0x1000'0000;  // one slot per page
constexpr unsigned kDevicePages = 16;
constexpr GuestAddr kPool = 0x2000'0000;  // anonymous pool
constexpr unsigned kPoolPages = 16;
constexpr unsigned kVcpus = 2;
constexpr std::size_t kMaxGenerations = std::size_t{1} << 20;
constexpr std::size_t kMaxRecordsPerVcpu = std::size_t{3} << 20;
constexpr std::uint64_t kUnhandled = ~std::uint64_t{0};  // "served" value of the unhandled handler
constexpr std::uint64_t kUnhandledData = 0xeeee'eeee'eeee'eeee;
constexpr std::uint64_t kNever = ~std::uint64_t{0};

std::uint64_t tag(std::uint64_t generation) { return 0x7a00'0000'0000'0000ull | (generation << 8) | 0x5d; }

/// The bytes a read of `size` at `addr` returns from a frame filled with tag(g) words.
std::uint64_t tag_bytes(std::uint64_t generation, GuestAddr addr, std::size_t size) {
    const std::uint64_t t = tag(generation);
    std::uint64_t value = 0;
    for (std::size_t k = 0; k < size; ++k) value |= ((t >> (8 * ((addr + k) % 8))) & 0xff) << (8 * k);
    return value;
}

/// One reservation's life, on the control thread's clock.
struct Generation {
    GuestAddr base = 0;
    std::uint64_t size = 0;
    bool mapped = false;
    bool exists = false;  // the reserve succeeded
    std::uint64_t res_begin = kNever, res_end = kNever, free_begin = kNever, free_end = kNever;
};

/// One access a vCPU performed, with the clock before (a) and after (b).
struct Record {
    GuestAddr addr;
    std::uint64_t a, b;
    std::uint64_t served;  // generation + 1, kUnhandled, or 0 (memory)
    std::uint64_t calls;   // handler calls during the access (pieces of a split access call several)
    std::uint64_t value;
    std::uint8_t size;
    bool is_write;
    bool ok;
};

struct Shared {
    std::atomic<std::uint64_t> clock{0};
    std::unique_ptr<std::atomic<bool>[]> freed { new std::atomic<bool>[ kMaxGenerations ]() };
    std::unique_ptr<std::atomic<std::uint64_t>[]> hits { new std::atomic<std::uint64_t>[ kMaxGenerations ]() };
    std::atomic<std::uint64_t> unhandled_hits{0};
    std::uint64_t served[kVcpus] = {};  // written by handlers on the vCPU's own thread
    std::uint64_t calls[kVcpus] = {};   // handler calls, likewise
    Violations violations;
    std::atomic<bool> stop{false};
};

class SimStress : public ::testing::Test {
protected:
    void SetUp() override {
        caps_ = std::make_shared<CapabilitySpace>();
        vm_ = Vm::create(BackendKind::sim, caps_).value();
        ASSERT_TRUE(vm_->init_memory());
        ASSERT_TRUE(vm_->make_anon(kPool, kPoolPages * kPageSize));
        vm_->set_unhandled_fault_handler([this](Fault& f) {
            s_.unhandled_hits.fetch_add(1, std::memory_order_relaxed);
            s_.served[f.vcpu().index()] = kUnhandled;
            ++s_.calls[f.vcpu().index()];
            if (f.is_read()) f.set_data(kUnhandledData);
            return FaultResult::handled;
        });
        for (unsigned i = 0; i < kVcpus; ++i) ASSERT_TRUE(vm_->create_vcpu());
        gens_.reserve(kMaxGenerations);
    }

    FaultHandler handler_for(std::uint64_t g, GuestAddr base, std::uint64_t size) {
        // `base` is known up front for fixed reservations; anonymous ones are
        // range-checked by the checker (their base is known once reserve returns).
        return [this, g, base, size](Fault& f) {
            if (s_.freed[g].load())
                s_.violations.add("handler of generation " + std::to_string(g) + " ran after its free returned");
            if (size && (f.address() < base || f.address() + f.size() > base + size))
                s_.violations.add("generation " + std::to_string(g) + " got an access outside its range");
            s_.hits[g].fetch_add(1, std::memory_order_relaxed);
            s_.served[f.vcpu().index()] = g + 1;
            ++s_.calls[f.vcpu().index()];
            if (f.is_read()) f.set_data(tag(g));
            return FaultResult::handled;
        };
    }

    // Maps fresh read-only frames filled with tag(g) words over [base, base + size).
    bool map_tagged(ReservationId id, std::uint64_t g, GuestAddr base, std::uint64_t size) {
        std::vector<Cap> caps;
        for (std::uint64_t off = 0; off < size; off += kPageSize) {
            auto cap = caps_->allocate_frame(FrameSize::k4KiB);
            if (!cap) return false;
            auto mem = caps_->frame_memory(*cap);
            const std::uint64_t t = tag(g);
            for (std::size_t i = 0; i < kPageSize; i += 8) std::memcpy(mem->data() + i, &t, 8);
            caps.push_back(*cap);
        }
        auto mapped = vm_->map(id, [&](GuestAddr addr) {
            return FrameRequest{caps[(addr - base) / kPageSize], Rights::read, addr, kPageBits};
        });
        for (Cap c : caps) (void)caps_->remove(c);  // the mappings keep the frames alive
        if (!mapped) s_.violations.add("map failed: " + mapped.error().message);
        return mapped.ok();
    }

    void control(std::mt19937_64& rng) {
        struct Live {
            std::uint64_t g;
            ReservationId id;
            int page;  // device page, or -1 for anonymous
        };
        std::vector<Live> live;
        bool page_used[kDevicePages] = {};
        auto free_one = [&](std::size_t index) {
            const Live l = live[index];
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(index));
            gens_[l.g].free_begin = ++s_.clock;
            auto freed = vm_->free(l.id);
            gens_[l.g].free_end = ++s_.clock;
            s_.freed[l.g].store(true);
            if (!freed) s_.violations.add("free failed: " + freed.error().message);
            if (l.page >= 0) page_used[l.page] = false;
            ++map_changes_;
        };
        while (!s_.stop.load() && gens_.size() < kMaxGenerations) {
            if (!live.empty() && (live.size() >= 20 || rng() % 2 == 0)) {
                free_one(rng() % live.size());
                continue;
            }
            const std::uint64_t g = gens_.size();
            gens_.emplace_back();
            Generation& gen = gens_.back();
            const bool mapped = rng() % 2 == 0;
            if (rng() % 3 != 0) {
                const int page = static_cast<int>(rng() % kDevicePages);
                if (page_used[page]) {
                    gens_.pop_back();
                    continue;
                }
                GuestAddr base = kDeviceArea + page * kPageSize;
                std::uint64_t size = kPageSize;
                if (!mapped) {  // any byte size and alignment within the page
                    base += rng() % 0x800;
                    size = 1 + rng() % 0x800;
                }
                gen.base = base;
                gen.size = size;
                gen.res_begin = ++s_.clock;
                auto id = vm_->reserve_at(base, size, handler_for(g, base, size));
                gen.res_end = ++s_.clock;
                if (!id) {
                    s_.violations.add("reserve_at failed: " + id.error().message);
                    continue;
                }
                gen.exists = true;
                page_used[page] = true;
                live.push_back({g, *id, page});
                ++map_changes_;
                if (mapped && map_tagged(*id, g, base, size)) {
                    gen.mapped = true;
                    ++map_changes_;
                }
            } else {
                const std::uint64_t size = (1 + rng() % 3) * kPageSize;
                gen.res_begin = ++s_.clock;
                auto r = vm_->reserve_anon(size, 0, handler_for(g, 0, 0));
                gen.res_end = ++s_.clock;
                if (!r) {
                    if (r.code() != Errc::no_space) s_.violations.add("reserve_anon failed: " + r.error().message);
                    continue;
                }
                gen.base = r->addr;
                gen.size = size;
                gen.exists = true;
                live.push_back({g, r->id, -1});
                ++map_changes_;
                if (mapped && map_tagged(r->id, g, r->addr, size)) {
                    gen.mapped = true;
                    ++map_changes_;
                }
            }
        }
        while (!live.empty()) free_one(live.size() - 1);
    }

    void vcpu_loop(unsigned index, std::vector<Record>& records) {
        Vcpu& vcpu = *vm_->vcpu(index);
        std::mt19937_64 rng(0x5eed + index);
        records.reserve(kMaxRecordsPerVcpu);
        while (!s_.stop.load(std::memory_order_relaxed) && records.size() < kMaxRecordsPerVcpu) {
            Record r{};
            const bool pool = rng() % 4 == 0;
            const GuestAddr area = pool ? kPool : kDeviceArea;
            const std::uint64_t span = (pool ? kPoolPages : kDevicePages) * kPageSize;
            r.size = static_cast<std::uint8_t>(1u << (rng() % 4));
            r.addr = area + rng() % (span - r.size + 1);
            if (rng() % 8 == 0)
                r.addr = area + (rng() % (span / kPageSize)) * kPageSize + kPageSize - (rng() % r.size) -
                         1;  // straddle page ends
            r.addr = std::min<GuestAddr>(r.addr, area + span - r.size);
            r.is_write = rng() % 3 == 0;
            s_.served[index] = 0;
            const std::uint64_t calls_before = s_.calls[index];
            r.a = s_.clock.load();
            if (r.is_write) {
                r.ok = sim::write(vcpu, r.addr, r.size, 0x1122334455667788ull).ok();
            } else {
                auto v = sim::read(vcpu, r.addr, r.size);
                r.ok = v.ok();
                r.value = v ? *v : 0;
            }
            r.b = s_.clock.load();
            r.served = s_.served[index];
            r.calls = s_.calls[index] - calls_before;
            records.push_back(r);
        }
    }

    // Checks every record against the timeline; returns accesses checked.
    void check(const std::vector<std::vector<Record>>& all) {
        // Per page, the generations that touched it, in creation order; on a
        // page, reservations follow one another (they never overlap).
        std::map<GuestAddr, std::vector<std::uint64_t>> by_page;
        for (std::uint64_t g = 0; g < gens_.size(); ++g) {
            const Generation& gen = gens_[g];
            if (!gen.exists) continue;
            for (GuestAddr p = gen.base / kPageSize; p <= (gen.base + gen.size - 1) / kPageSize; ++p)
                by_page[p].push_back(g);
        }
        std::vector<std::uint64_t> served_count(gens_.size(), 0);
        std::uint64_t unhandled = 0;
        std::uint64_t split_calls = 0;  // handler calls of accesses that may have been split
        auto candidates = [&](const Record& r, auto&& visit) {
            for (GuestAddr p = r.addr / kPageSize; p <= (r.addr + r.size - 1) / kPageSize; ++p) {
                auto it = by_page.find(p);
                if (it == by_page.end()) continue;
                const auto& list = it->second;
                // Last generation whose reserve began no later than b, then back while its free returned after a.
                auto end = std::upper_bound(list.begin(), list.end(), r.b,
                                            [&](std::uint64_t b, std::uint64_t g) { return b < gens_[g].res_begin; });
                while (end != list.begin()) {
                    --end;
                    if (gens_[*end].free_end <= r.a) break;
                    visit(*end);
                }
            }
        };
        auto contains = [](const Generation& gen, const Record& r) {
            return r.addr >= gen.base && r.addr + r.size <= gen.base + gen.size;
        };
        for (unsigned v = 0; v < all.size(); ++v) {
            for (const Record& r : all[v]) {
                auto what = [&] {  // built only for a violation
                    std::ostringstream out;
                    out << "vCPU " << v << (r.is_write ? " write " : " read ") << int(r.size) << "@0x" << std::hex
                        << r.addr << std::dec << " clock [" << r.a << "," << r.b << "]: ";
                    return out;
                };
                if (!r.ok) {
                    s_.violations.add(what().str() + "did not complete (lost)");
                    continue;
                }
                std::optional<std::uint64_t> owner;  // contained the access for its whole duration
                bool plausible = false;
                // An access that crossed the edge of a reservation alive at
                // some point during it may have been split into one piece per
                // owner (access_split_test.cpp checks the pieces): which
                // handler served it last says nothing, so only its completion
                // is checked here.
                bool maybe_split = false;
                candidates(r, [&](std::uint64_t g) {
                    const Generation& gen = gens_[g];
                    if (gen.exists && !contains(gen, r) && gen.res_begin <= r.b && gen.free_end >= r.a)
                        maybe_split = true;
                });
                if (maybe_split) {
                    split_calls += r.calls;
                    continue;
                }
                candidates(r, [&](std::uint64_t g) {
                    const Generation& gen = gens_[g];
                    if (contains(gen, r) && gen.res_end <= r.a && gen.free_begin > r.b) owner = g;
                    if (r.served == g + 1) plausible = contains(gen, r);
                    if (r.served == 0 && !r.is_write && gen.mapped && contains(gen, r) &&
                        r.value == tag_bytes(g, r.addr, r.size))
                        plausible = true;
                });
                if (r.served == kUnhandled) {
                    ++unhandled;
                    if (owner)
                        s_.violations.add(what().str() + "went to the unhandled handler while generation " +
                                          std::to_string(*owner) + " held it");
                    else if (!r.is_write &&
                             r.value != (kUnhandledData & (r.size == 8 ? ~0ull : (1ull << 8 * r.size) - 1)))
                        s_.violations.add(what().str() + "unhandled read returned the wrong value");
                    continue;
                }
                if (r.served != 0) {
                    const std::uint64_t g = r.served - 1;
                    if (g >= gens_.size()) {
                        s_.violations.add(what().str() + "served by an unknown generation");
                        continue;
                    }
                    ++served_count[g];
                    if (!plausible)
                        s_.violations.add(what().str() + "served by generation " + std::to_string(g) +
                                          " which did not hold it then");
                    else if (owner && *owner != g)
                        s_.violations.add(what().str() + "served by " + std::to_string(g) + " but owned by " +
                                          std::to_string(*owner));
                    else if (!r.is_write && r.value != (tag(g) & (r.size == 8 ? ~0ull : (1ull << 8 * r.size) - 1)))
                        s_.violations.add(what().str() + "read the wrong value from its handler");
                    continue;
                }
                if (!plausible)
                    s_.violations.add(what().str() + "completed from memory no live mapped frame explains (value 0x" +
                                      [&] {
                                          std::ostringstream h;
                                          h << std::hex << r.value;
                                          return h.str();
                                      }() +
                                      ")");
            }
        }
        // Split accesses' pieces also ran handlers, which we cannot attribute
        // to a generation: per generation at least the accesses it served,
        // and in all exactly the calls the vCPUs saw.
        std::uint64_t hits = s_.unhandled_hits.load(), served = unhandled;
        for (std::uint64_t g = 0; g < gens_.size(); ++g) {
            hits += s_.hits[g].load();
            served += served_count[g];
            if (s_.hits[g].load() < served_count[g])
                s_.violations.add("generation " + std::to_string(g) + ": handler ran " +
                                  std::to_string(s_.hits[g].load()) + " times, accesses served " +
                                  std::to_string(served_count[g]));
        }
        if (s_.unhandled_hits.load() < unhandled)
            s_.violations.add("unhandled handler ran " + std::to_string(s_.unhandled_hits.load()) + " times for " +
                              std::to_string(unhandled) + " accesses");
        if (hits != served + split_calls)
            s_.violations.add("handlers ran " + std::to_string(hits) + " times for " + std::to_string(served) +
                              " whole accesses and " + std::to_string(split_calls) + " calls of split ones");
    }

    std::shared_ptr<CapabilitySpace> caps_;
    std::unique_ptr<Vm> vm_;
    Shared s_;
    std::vector<Generation> gens_;  // written by the control thread; read after it joined
    std::uint64_t map_changes_ = 0;
};

TEST_F(SimStress, EveryAccessGoesToTheReservationThatHeldItThen) {
    const auto duration = stress_duration();
    set_log_handler([](LogLevel, std::string_view) {});  // the pool running full is logged, and expected
    std::vector<std::vector<Record>> records(kVcpus);
    const auto start = std::chrono::steady_clock::now();
    std::thread control_thread([&] {
        std::mt19937_64 rng(42);
        control(rng);
    });
    std::vector<std::thread> vcpus;
    for (unsigned i = 0; i < kVcpus; ++i) vcpus.emplace_back([&, i] { vcpu_loop(i, records[i]); });
    std::this_thread::sleep_for(duration);
    s_.stop = true;
    for (auto& t : vcpus) t.join();
    control_thread.join();
    set_log_handler(nullptr);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    check(records);
    std::uint64_t accesses = 0, from_memory = 0;
    for (const auto& rs : records) {
        accesses += rs.size();
        for (const Record& r : rs) from_memory += r.served == 0;
    }
    std::uint64_t handler_faults = 0;
    for (std::uint64_t g = 0; g < gens_.size(); ++g) handler_faults += s_.hits[g].load();
    report("sim stress", {{"duration_s", seconds},
                          {"accesses", double(accesses)},
                          {"faults_dispatched", double(handler_faults + s_.unhandled_hits.load())},
                          {"faults_to_reservations", double(handler_faults)},
                          {"faults_unhandled", double(s_.unhandled_hits.load())},
                          {"reads_from_memory", double(from_memory)},
                          {"reservations", double(gens_.size())},
                          {"map_changes", double(map_changes_)}});
    EXPECT_EQ(s_.violations.count(), 0u) << s_.violations.text();
    EXPECT_GT(handler_faults, 1000u);
    EXPECT_GT(s_.unhandled_hits.load(), 100u);
    EXPECT_GT(from_memory, 100u);
    EXPECT_GT(map_changes_, 100u);
    EXPECT_TRUE(vm_->reservations().empty());
    EXPECT_EQ(caps_->frame_bytes_in_use(), 0u) << "every mapped frame went with its reservation";
}

}  // namespace
}  // namespace guestmem::stress
