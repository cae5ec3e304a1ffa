// SPDX-License-Identifier: BSD-2-Clause
// Loading a chain of snapshot files and reading its frames back.
#include "chain.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "../core/format.hpp"  // hex
#include "format.hpp"

namespace guestmem::snapshot {

namespace {

namespace fs = std::filesystem;

Error bad(const LoadedFile& file, const std::string& why) {
    return fail(Errc::bad_snapshot, file.path.string() + ": " + why);
}

}  // namespace

Result<Chain> load_chain(const fs::path& path) {
    Chain chain;
    std::set<std::uint64_t> ids;
    auto first = load(path);
    if (!first) return first.error();
    chain.push_back(std::move(*first));
    while ((chain.back()->header.flags & format::kFlagDiff) != 0) {
        const LoadedFile& child = *chain.back();
        ids.insert(child.header.id);
        const fs::path parent_path = child.path.parent_path() / child.header.parent;
        std::error_code ec;
        if (!fs::exists(parent_path, ec)) {
            return bad(child, "its parent " + parent_path.string() + " is missing");
        }
        auto parent = load(parent_path);
        if (!parent) return parent.error();
        const LoadedFile& p = **parent;
        if (p.header.id != child.header.parent_id || ids.count(p.header.id) != 0) {
            return bad(child, "its parent " + parent_path.string() + " is another snapshot (identity " +
                                  hex(p.header.id) + ", expected " + hex(child.header.parent_id) + ")");
        }
        if (p.header.arch != child.header.arch) return bad(child, "its parent is of another architecture");
        for (std::size_t i = 0; i < child.layout.frames.size(); ++i) {
            const format::FrameEntry& f = child.layout.frames[i];
            if (f.parent == format::kNoFrame || (f.flags & format::kFrameWhole) != 0) continue;
            if (f.parent >= p.layout.frames.size() || p.layout.frames[f.parent].size_bits != f.size_bits) {
                return bad(child, "frame " + std::to_string(i) + " names a frame its parent does not have");
            }
        }
        // Past kOpenFiles the chain's files are opened again when read.
        if (chain.size() >= kOpenChainFiles) (*parent)->fd.reset();
        chain.push_back(std::move(*parent));
    }
    return chain;
}

ChainReader::ChainReader(Chain chain) : chain_(std::move(chain)), open_(chain_.size()) {
    for (std::size_t level = 0; level < chain_.size(); ++level) {
        if (!chain_[level]->fd.valid()) continue;
        open_[level] = std::move(chain_[level]->fd);
        recent_.push_back(level);
    }
}

Result<int> ChainReader::fd(std::size_t level) {
    if (open_[level].valid()) {
        recent_.erase(std::find(recent_.begin(), recent_.end(), level));
        recent_.push_back(level);
        return open_[level].get();
    }
    auto fd = reopen(*chain_[level]);
    if (!fd) return fd.error();
    if (recent_.size() >= kOpenChainFiles) {
        open_[recent_.front()].reset();
        recent_.pop_front();
    }
    open_[level] = std::move(*fd);
    recent_.push_back(level);
    return open_[level].get();
}

// A frame stored whole (or of a full snapshot) ends the walk: the rest is zero.
Result<void> ChainReader::fill(std::uint64_t index, std::byte* host) {
    const std::uint64_t pages = chain_.front()->layout.frames[index].bytes() >> kPageBits;
    std::vector<bool> done(pages, false);
    std::uint64_t at = index;
    for (std::size_t level = 0; level < chain_.size(); ++level) {
        const LoadedFile& file = *chain_[level];
        const format::FrameEntry& entry = file.layout.frames[at];
        const auto& list = entry.pages;
        for (std::size_t i = 0; i < list.size();) {
            if (done[list[i].index] || (list[i].flags & format::kPageZero) != 0) {
                done[list[i].index] = true;
                ++i;
                continue;
            }
            // A run of pages adjacent in the frame and in the file: one read.
            std::size_t j = i + 1;
            while (j < list.size() && j - i < 256 && list[j].index == list[j - 1].index + 1 &&
                   list[j].offset == list[j - 1].offset + kPageSize && (list[j].flags & format::kPageZero) == 0 &&
                   !done[list[j].index]) {
                ++j;
            }
            std::byte* into = host + std::uint64_t{list[i].index} * kPageSize;
            auto fd = this->fd(level);
            if (!fd) return fd.error();
            if (auto ok = read_exact(file, *fd, into, (j - i) * kPageSize, file.header.data_offset + list[i].offset);
                !ok) {
                return ok;
            }
            for (std::size_t k = i; k < j; ++k) {
                std::byte* page = host + std::uint64_t{list[k].index} * kPageSize;
                if (format::crc32c(std::span(page, kPageSize)) != list[k].crc) {
                    std::memset(into, 0, (j - i) * kPageSize);
                    return bad(file, "page " + std::to_string(list[k].index) + " of frame " + std::to_string(at) +
                                         " is corrupt (checksum mismatch)");
                }
                done[list[k].index] = true;
            }
            i = j;
        }
        if ((entry.flags & format::kFrameWhole) != 0 || entry.parent == format::kNoFrame) break;
        at = entry.parent;
    }
    return {};
}

}  // namespace guestmem::snapshot
