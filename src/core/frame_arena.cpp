// SPDX-License-Identifier: BSD-2-Clause
#include "frame_arena.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "format.hpp"
#include "guestmem/frame.hpp"

namespace guestmem {

// Every live arena by the address of its VMM mapping, for FrameArena::locate.
struct ArenaRegistry {
    std::mutex mutex;
    std::map<const std::byte*, std::weak_ptr<FrameArena>> by_base;
};

namespace {

// Shared: each arena holds it, so that an arena destroyed during static
// destruction (a static CapabilitySpace) still finds it.
const std::shared_ptr<ArenaRegistry>& registry() {
    static const auto instance = std::make_shared<ArenaRegistry>();
    return instance;
}

}  // namespace

Result<std::shared_ptr<FrameArena>> FrameArena::create(std::uint64_t capacity) {
    int fd = memfd_create("guestmem-frames", MFD_CLOEXEC);
    if (fd < 0) {
        return fail(Errc::out_of_memory, std::string("memfd_create failed: ") + errno_message(errno));
    }
    if (ftruncate(fd, static_cast<off_t>(capacity)) != 0) {
        int err = errno;
        close(fd);
        return fail(Errc::out_of_memory, std::string("cannot size frame arena: ") + errno_message(err));
    }
    // MAP_NORESERVE: the arena is sparse; memory is committed page by page on first touch.
    void* base = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (base == MAP_FAILED) {
        int err = errno;
        close(fd);
        return fail(Errc::out_of_memory, std::string("cannot map frame arena: ") + errno_message(err));
    }
    auto arena = std::make_shared<FrameArena>(Key{}, fd, static_cast<std::byte*>(base), capacity);
    arena->registry_ = registry();
    std::lock_guard lock(arena->registry_->mutex);
    arena->registry_->by_base[arena->base()] = arena;
    return arena;
}

std::optional<FrameArena::Location> FrameArena::locate(const std::byte* host) {
    const auto& shared = registry();
    std::lock_guard lock(shared->mutex);
    auto& by_base = shared->by_base;
    auto it = by_base.upper_bound(host);
    if (it == by_base.begin()) return std::nullopt;
    --it;
    auto arena = it->second.lock();
    if (!arena || host >= arena->base() + arena->capacity()) return std::nullopt;
    const auto offset = static_cast<std::uint64_t>(host - arena->base());
    return Location{arena, offset, arena->capacity() - offset};
}

FrameArena::FrameArena(Key, int fd, std::byte* base, std::uint64_t capacity)
    : fd_(fd), base_(base), capacity_(capacity), dirty_(base, capacity) {
    free_.add(0, capacity);
}

FrameArena::~FrameArena() {
    if (registry_) {
        std::lock_guard lock(registry_->mutex);
        auto it = registry_->by_base.find(base_);
        if (it != registry_->by_base.end() && it->second.expired()) registry_->by_base.erase(it);
    }
    munmap(base_, capacity_);
    close(fd_);
}

std::optional<std::uint64_t> FrameArena::take(std::uint64_t bytes) {
    std::lock_guard lock(mutex_);
    return free_.take(bytes, bytes);
}

std::uint64_t FrameArena::bytes_in_use() {
    std::lock_guard lock(mutex_);
    return capacity_ - free_.total();
}

void FrameArena::give_back(std::uint64_t offset, std::uint64_t bytes) {
    // Punching the hole frees the host memory and makes the block read as zero
    // when it is handed out again.
    fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(bytes));
    std::lock_guard lock(mutex_);
    free_.add(offset, bytes);
}

Frame::Frame(Placement placement, FrameSize size) : placement_(std::move(placement)), size_(size) {}

Frame::~Frame() { placement_.arena->give_back(placement_.offset, bytes()); }

int Frame::memfd() const { return placement_.arena->fd(); }

}  // namespace guestmem
