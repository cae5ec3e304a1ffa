// SPDX-License-Identifier: BSD-2-Clause
// TempFile and remove_stale_temp_files: snapshots written under another
// name, and what killed saves leave behind.
#include "temp_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <string_view>

#include "../core/format.hpp"  // errno_message
#include "guestmem/log.hpp"

namespace guestmem::snapshot {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kInfix = ".guestmem-tmp-";
constexpr std::size_t kSuffixLength = 6;  // mkstemp's XXXXXX
// A save creates its file and locks it in the next system call; a file
// younger than this may be between the two.
constexpr std::time_t kMinimumAgeSeconds = 5;

bool is_temp_name(const std::string& name) {
    const auto at = name.rfind(kInfix);
    return at != std::string::npos && at > 0 && name.size() == at + kInfix.size() + kSuffixLength;
}

}  // namespace

TempFile::~TempFile() {
    if (!name_.empty()) ::unlink(name_.c_str());
}

Result<void> TempFile::create(const fs::path& target) {
    std::string pattern = target.string() + std::string(kInfix) + "XXXXXX";
    fd_ = UniqueFd(::mkostemp(pattern.data(), O_CLOEXEC));
    if (!fd_.valid()) {
        return fail(Errc::io_error, target.string() + ": cannot create a temporary file: " + errno_message(errno));
    }
    name_ = pattern;
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        return fail(Errc::io_error, name_ + ": cannot lock the temporary file: " + errno_message(errno));
    }
    return {};
}

Result<void> TempFile::commit(const fs::path& target, bool sync) {
    if (sync && ::fsync(fd_.get()) != 0) {
        return fail(Errc::io_error, target.string() + ": fsync failed: " + errno_message(errno));
    }
    if (::rename(name_.c_str(), target.c_str()) != 0) {
        return fail(Errc::io_error, target.string() + ": rename failed: " + errno_message(errno));
    }
    name_.clear();
    return {};
}

void remove_stale_temp_files(const fs::path& folder) {
    std::error_code ec;
    fs::directory_iterator it(folder.empty() ? fs::path(".") : folder, ec);
    if (ec) return;  // nothing to clean where nothing can be listed
    const std::time_t now = std::time(nullptr);
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) return;
        const fs::path path = it->path();
        if (!is_temp_name(path.filename().string())) continue;
        // O_NONBLOCK: a FIFO of that name must not block the open.
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
        struct stat st {};
        if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (now - st.st_mtime < kMinimumAgeSeconds) continue;
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // its writer lives
        struct stat named {};
        // The name must still be the file locked (not replaced meanwhile).
        if (::lstat(path.c_str(), &named) != 0 || named.st_ino != st.st_ino || named.st_dev != st.st_dev) continue;
        if (::unlink(path.c_str()) == 0) {
            log(LogLevel::info, "snapshot: removed " + path.string() + ", left by a save that did not finish");
        }
    }
}

}  // namespace guestmem::snapshot
