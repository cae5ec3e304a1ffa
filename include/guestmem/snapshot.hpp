// SPDX-License-Identifier: BSD-2-Clause
/// @file
/// Snapshots of a VM's address space and vCPU state: save, diff, restore.
///
/// A snapshot file holds the layout of a VM (every reservation, anonymous
/// pool and RAM registration, the frames mapped and their rights), the
/// contents of its mapped frames (zero pages omitted, a frame mapped in
/// several places stored once) and the state of its vCPUs. A diff snapshot
/// holds only the pages written since its parent (found with the VM's dirty
/// tracking, Vm::start_dirty_tracking) and names its parent; restoring it
/// reads the chain of files back to a full snapshot. docs/concepts.md,
/// "Snapshots", describes the file format.
#pragma once

#include <guestmem/export.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "guestmem/error.hpp"
#include "guestmem/fault.hpp"
#include "guestmem/registers.hpp"
#include "guestmem/system_state.hpp"
#include "guestmem/types.hpp"
#include "guestmem/vm.hpp"

namespace guestmem::snapshot {

/// What kind of reservation a record describes.
enum class ReservationKind : std::uint8_t {
    device = 0,         ///< Vm::reserve_at (mapped or not)
    anonymous = 1,      ///< Vm::reserve_anon
    ram = 2,            ///< RAM registered with Vm::ram()
    doorbell = 3,       ///< Vm::reserve_doorbell
    write_posting = 4,  ///< Vm::reserve_write_posting
};

/// One reservation as saved.
struct ReservationRecord {
    Range range;                                     ///< its addresses
    ReservationKind kind = ReservationKind::device;  ///< how it was made
    bool mapped = false;                             ///< frames are mapped (or a deferred mapping waits)
    std::uint64_t frames = 0;                        ///< frames mapped
    std::uint64_t stored_bytes = 0;                  ///< bytes of frame contents this file holds for it
};

/// What a snapshot file holds, from its header and layout (snapshot-info).
struct SnapshotInfo {
    std::uint32_t format_version = 0;  ///< the file format's version
    bool diff = false;                 ///< a diff snapshot (has a parent)
    std::string parent;           ///< the parent's file name, relative to this file's folder ("" for a full snapshot)
    std::uint64_t id = 0;         ///< this snapshot's identity (a diff names its parent's)
    std::uint64_t parent_id = 0;  ///< the parent's identity (0 for a full snapshot)
    Arch arch = Arch::x86_64;     ///< the vCPUs' architecture
    std::vector<ReservationRecord> reservations;  ///< in address order
    std::vector<Range> anonymous_pools;           ///< Vm::make_anon ranges
    std::vector<Range> ram_regions;               ///< Vm::ram() registrations
    std::uint64_t frames = 0;                     ///< distinct frames
    std::uint64_t frame_bytes = 0;                ///< their total size
    std::uint64_t stored_pages = 0;               ///< 4 KiB pages of contents in this file
    std::uint64_t zero_pages = 0;                 ///< pages omitted as zero (full) or unchanged (diff)
    std::uint64_t vcpus = 0;                      ///< vCPU states saved
    std::uint64_t vcpus_without_state = 0;  ///< vCPUs saved without state: their backend has none (Errc::unsupported)
    std::uint64_t file_bytes = 0;           ///< size of the file
    /// The application's bytes saved with the snapshot (SaveOptions::application).
    std::vector<std::byte> application;
};

/// How save() writes.
struct SaveOptions {
    /// A diff snapshot against this parent file: the last snapshot saved
    /// from this VM, or restored into it, in this process (frames are
    /// matched to the parent's by identity), in the folder of the new file
    /// (a diff names its parent by file name), with dirty tracking on since,
    /// without a break (Vm::dirty_tracking_starts() is checked: a stop and a
    /// new start in between is refused, the pages written meanwhile being
    /// unknown). A snapshot saved without tracking on is no parent; one
    /// restored without tracking on is the parent of diffs taken once
    /// tracking is started, which must be before anything writes the VM.
    /// Empty: a full snapshot. Either way, when the VM tracks dirty pages,
    /// save() collects (and so clears) them: the next diff is relative to
    /// this snapshot. (Set fields by name, `o.parent = p;`: a designated
    /// initialiser naming only some fields warns under -Wextra.)
    std::optional<std::filesystem::path> parent;
    /// Also save every vCPU's registers and system state.
    bool vcpus = true;
    /// fsync the file before returning.
    bool sync = false;
    /// Bytes the application keeps inside the snapshot file, opaque to the
    /// library and covered by its checksum (the demo VMM keeps its machine
    /// description there, so that a snapshot file is all a restore needs).
    /// inspect() and restore() hand them back in SnapshotInfo::application.
    /// At most 16 MiB (Errc::invalid_argument otherwise).
    std::vector<std::byte> application;
};

/// Writes a snapshot of `vm` to `path` (replaced atomically: written to a
/// temporary file `<path>.guestmem-tmp-XXXXXX`, mode 0600 as guest memory is
/// private, then renamed; temporary files that killed saves left in the
/// folder are removed, see below). Reservations with a pending deferred
/// mapping are mapped first (Vm::ensure_mapped), as a first access would. A
/// vCPU whose backend has no register state (Errc::unsupported) is saved
/// without it (SnapshotInfo::vcpus_without_state).
///
/// Consistency. The layout (reservations, their frames, pools) is the VM's
/// at one instant (Vm::layout): other threads may reserve, map and free
/// meanwhile, and the file describes the map as it was then (the frames of
/// a reservation freed since are still saved). Each page is read from guest
/// memory once, by a copy that never tears an aligned 8-byte value, and the
/// file holds exactly that copy and its checksum: a page that another thread
/// (a device model, the VMM) writes during the save is stored as some state
/// it had during the save, and every file save() reports as written
/// restores. Pages are copied one after another, so two pages written
/// during the save may be stored from different moments: for a snapshot
/// consistent across pages, stop whatever writes guest memory (the vCPUs,
/// device threads) first. With dirty tracking on, a write made during the
/// save is also reported to the next diff.
///
/// Dirty pages. When the VM tracks dirty pages, save() collects (and so
/// clears) them once the file is certain to be attempted, so the next diff
/// is relative to this snapshot. A save that fails after collecting marks
/// them dirty again (Vm::redirty_frame_pages): the next diff against the
/// last snapshot written still stores every page written since it. A save
/// that fails before collecting (any error but Errc::io_error) has changed
/// nothing.
///
/// Temporary files. A save holds an exclusive flock() on its temporary file
/// until it renames or removes it. save() and restore() remove the
/// `*.guestmem-tmp-XXXXXX` files in their folder that no process has locked
/// (their writer was killed) and that are older than 5 seconds.
///
/// Errors: Errc::not_initialized, Errc::invalid_argument (a diff without dirty
/// tracking on, a parent in another folder, no file name, deferred mappings
/// that kept appearing while the save ran), Errc::bad_snapshot (the parent is
/// unreadable or corrupt, or not the VM's last snapshot), Errc::io_error (the
/// file cannot be written; nothing is left at `path`, and the dirty pages are
/// dirty again), errors of Vm::layout, Vm::ensure_mapped,
/// Vm::dirty_frame_pages and of the vCPU interface. Thread safety: one save
/// or restore per VM at a time; other threads may use the VM meanwhile (see
/// Consistency); save() writes the file from a second thread of its own
/// while it copies memory.
GUESTMEM_API Result<SnapshotInfo> save(Vm& vm, const std::filesystem::path& path, const SaveOptions& options = {});

/// Reads the header and layout of a snapshot file (not its parents, nor its
/// page data: a corrupt page is found when a restore reads it).
/// Errors: Errc::io_error (cannot open or read), Errc::invalid_argument (not
/// a regular file: a FIFO, a directory or a device, refused before it is
/// read, so a FIFO never blocks), Errc::bad_snapshot (truncated, wrong
/// checksum, newer format version, not a snapshot, an inconsistent layout).
/// Thread safety: any thread.
GUESTMEM_API Result<SnapshotInfo> inspect(const std::filesystem::path& path);

/// Writes the snapshot that the chain of files ending at `from` describes
/// as one full snapshot at `to`: the same layout, vCPU states and
/// application data, each page from the newest file that has it (zero pages
/// omitted), and the same identity, so that a restore of `to` is a restore
/// of `from`, and a diff whose parent is `from` may name `to` instead once
/// `to` takes `from`'s file name. `to` may be `from` itself (a chain is
/// shortened in place: every file is read before `to` is replaced, as
/// save() replaces files). Memory use is one frame at a time (a frame's
/// size at most, for the pages the chain stores). Errors: as restore() for
/// the chain (Errc::io_error, Errc::bad_snapshot, Errc::invalid_argument for
/// a path that is not a regular file), Errc::invalid_argument (`to` names
/// no file, or a parent in the chain), Errc::io_error (`to` cannot be written; nothing is left there),
/// Errc::out_of_memory. Thread safety: any thread; the files must not be
/// changed meanwhile.
GUESTMEM_API Result<SnapshotInfo> merge(const std::filesystem::path& from, const std::filesystem::path& to,
                                        bool sync = false);

/// The handlers restore() gives the reservations it rebuilds: the library
/// saves layout and memory, the caller owns device behaviour.
struct DeviceHandlers {
    /// The fault handler of a device, anonymous or write-posting reservation
    /// (by its record: address and size). Required for each such record; an
    /// empty result fails the restore with Errc::invalid_argument.
    std::function<FaultHandler(const ReservationRecord&)> fault;
    /// The ring handler of a doorbell reservation. Required if the snapshot has doorbells.
    std::function<DoorbellHandler(const ReservationRecord&)> doorbell;
};

/// How restore() reads memory.
enum class RestoreMode {
    lazy,   ///< each reservation's frames are read on the first access to it (a deferred mapping)
    eager,  ///< every frame is read before restore() returns
};

/// What restore() did.
struct RestoreReport {
    SnapshotInfo info;                         ///< the newest file's header and layout
    std::vector<std::filesystem::path> chain;  ///< the files read, newest first
};

/// Rebuilds the address space of a snapshot (and, when saved, the state of
/// its vCPUs, creating vCPUs as needed) in `vm`, which must be initialised
/// and have no reservations, pools or RAM overlapping the snapshot's. Memory
/// comes from the chain of files that ends at `path`. Frames are new frames
/// of `vm`'s capability space with the saved sizes, contents and rights; a
/// frame saved once for several mappings is one frame again.
///
/// Everything is checked before `vm` is changed: the files (as inspect, and
/// the chain: every parent present, of the identity its child names), the
/// architecture, overlaps with what `vm` has, and a handler for every record
/// (each asked for once). On any error `vm` is left as it was: nothing the
/// restore made survives (vCPUs it created excepted: vCPUs cannot be
/// removed; anonymous pools and RAM cannot be undone either, so they are made
/// only once nothing checked can fail, and a failure of the backend while
/// mapping RAM would leave the RAM registered before it). The VM's deferred
/// mapping setting is kept. After it, the VM's last snapshot (for diffs) is
/// the one restored.
/// Errors: Errc::io_error; Errc::bad_snapshot (truncated file, wrong
/// checksum, newer format version, a missing parent or a parent whose
/// identity does not match); Errc::overlap (the layout conflicts with what
/// `vm` has); Errc::invalid_argument (a handler missing for a record;
/// architecture differs from `vm`'s); errors of the Vm calls it makes.
/// In lazy mode a file read failing later (or a page's checksum not
/// matching), at the first access, fails that access (and is logged). The
/// files stay open while a reservation still waits for its first access: a
/// chain of up to 64 files keeps all of them open (it restores even if they
/// are removed meanwhile); a longer one keeps the 64 read most recently and
/// opens the others again when it reads them (checked to be the files
/// loaded), so that a chain of any length restores within the default limit
/// of open files. Paths that are not regular files (a FIFO, a directory) are
/// refused with Errc::invalid_argument before anything is read.
/// Thread safety: one save or restore per VM at a time.
GUESTMEM_API Result<RestoreReport> restore(Vm& vm, const std::filesystem::path& path, const DeviceHandlers& handlers,
                                           RestoreMode mode = RestoreMode::lazy);

}  // namespace guestmem::snapshot
