// SPDX-License-Identifier: BSD-2-Clause
// The copy loops between guest memory and the VMM's private memory
// (copy_from_guest_memory, copy_to_guest_memory, fill_guest_memory).
//
// Guest memory can change under the copy (a running vCPU, a device, another VM
// sharing the frame), so every access to it is a single load or store the
// compiler may neither split, merge nor repeat: each guest byte is read once
// and no naturally aligned 2-, 4- or 8-byte guest value is ever torn.
//  - The ends are copied with relaxed atomic accesses of the widest naturally
//    aligned size that fits (8, 4, 2 or 1 bytes), as a guest would access a
//    virtio ring index or a device register; the middle with 8-byte words.
//  - The 16-byte aligned middle of a large copy uses aligned 16-byte vector
//    moves (MOVDQA) through volatile pointers. CPUs with AVX perform these as
//    one atomic access (Intel SDM vol. 3A 9.1.1; AMD APM vol. 2 7.3.2), so an
//    aligned 8-byte word inside is never torn either. Without AVX the word
//    loop is used throughout.
//  - Under ThreadSanitizer only the atomic loops run: the sim backend's own
//    guest accesses are atomics, and TSan checks the copies against them.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "guest_units.hpp"
#include "guestmem/guest_memory.hpp"

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define GUESTMEM_VECTOR_COPY 1
#include <emmintrin.h>
#endif

namespace guestmem {

namespace {

using namespace guest_units;

constexpr std::size_t kWord = sizeof(std::uint64_t);

std::uint64_t load_word(const std::byte* p) { return load_unit<std::uint64_t>(p); }
void store_word(std::byte* p, std::uint64_t v) { store_unit<std::uint64_t>(p, v); }

/// Calls unit(i, size) for [i, end) cut into the widest naturally aligned
/// pieces of 4, 2 and 1 bytes (aligned by the guest address `guest + i`).
template <class Unit>
void for_each_narrow_unit(const std::byte* guest, std::size_t i, std::size_t end, Unit unit) {
    while (i < end) {
        const auto at = reinterpret_cast<std::uintptr_t>(guest + i);
        std::size_t size = 1;
        for (std::size_t s : {std::size_t{4}, std::size_t{2}}) {
            if (s <= end - i && (at & (s - 1)) == 0) {
                size = s;
                break;
            }
        }
        unit(i, size);
        i += size;
    }
}

/// Bytes from `p` to the next multiple of `alignment`, at most n.
std::size_t bytes_to_alignment(const std::byte* p, std::size_t alignment, std::size_t n) {
    const std::size_t off = reinterpret_cast<std::uintptr_t>(p) & (alignment - 1);
    return std::min(n, off == 0 ? std::size_t{0} : alignment - off);
}

#ifdef GUESTMEM_VECTOR_COPY
constexpr std::size_t kVector = sizeof(__m128i);
constexpr std::size_t kVectorMin = 256;  // below this, aligning costs more than vectors save

bool vector_moves_are_atomic() {
    static const bool avx = __builtin_cpu_supports("avx");
    return avx;
}

__m128i load_vector(const std::byte* p) { return *reinterpret_cast<const volatile __m128i*>(p); }
void store_vector(std::byte* p, __m128i v) { *reinterpret_cast<volatile __m128i*>(p) = v; }
// The VMM's own buffer: any alignment, ordinary accesses.
__m128i load_private(const std::byte* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
void store_private(std::byte* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

/// Moves [i, end) from `from` to `to` in vectors, four at a time (a cache
/// line), all loads before the stores: volatile accesses are kept in program
/// order, so this is what lets them overlap.
template <class Load, class Store>
void move_vectors(std::byte* to, const std::byte* from, std::size_t i, std::size_t end, Load load, Store store) {
    for (; end - i >= 4 * kVector; i += 4 * kVector) {
        const __m128i a = load(from + i), b = load(from + i + kVector), c = load(from + i + 2 * kVector),
                      d = load(from + i + 3 * kVector);
        store(to + i, a);
        store(to + i + kVector, b);
        store(to + i + 2 * kVector, c);
        store(to + i + 3 * kVector, d);
    }
    for (; i < end; i += kVector) store(to + i, load(from + i));
}
#endif

// Each copier moves the bytes [i, end) of its range with one access width;
// copy_widest only asks for a width where the guest address is aligned to it.

struct FromGuest {
    std::byte* mine;
    const std::byte* guest;
    void narrow(std::size_t i, std::size_t end) const {
        for_each_narrow_unit(guest, i, end,
                             [&](std::size_t at, std::size_t size) { read_unit(mine + at, guest + at, size); });
    }
    void words(std::size_t i, std::size_t end) const {
        for (; i < end; i += kWord) {
            const std::uint64_t word = load_word(guest + i);
            std::memcpy(mine + i, &word, kWord);
        }
    }
#ifdef GUESTMEM_VECTOR_COPY
    void vectors(std::size_t i, std::size_t end) const {
        move_vectors(mine, guest, i, end, load_vector, store_private);
    }
#endif
};

struct ToGuest {
    std::byte* guest;
    const std::byte* mine;
    void narrow(std::size_t i, std::size_t end) const {
        for_each_narrow_unit(guest, i, end,
                             [&](std::size_t at, std::size_t size) { write_unit(guest + at, mine + at, size); });
    }
    void words(std::size_t i, std::size_t end) const {
        for (; i < end; i += kWord) {
            std::uint64_t word;
            std::memcpy(&word, mine + i, kWord);
            store_word(guest + i, word);
        }
    }
#ifdef GUESTMEM_VECTOR_COPY
    void vectors(std::size_t i, std::size_t end) const {
        move_vectors(guest, mine, i, end, load_private, store_vector);
    }
#endif
};

struct FillGuest {
    std::byte* guest;
    std::uint8_t value;
    void narrow(std::size_t i, std::size_t end) const {
        const std::byte pattern[4] = {std::byte{value}, std::byte{value}, std::byte{value}, std::byte{value}};
        for_each_narrow_unit(guest, i, end,
                             [&](std::size_t at, std::size_t size) { write_unit(guest + at, pattern, size); });
    }
    void words(std::size_t i, std::size_t end) const {
        const std::uint64_t word = value * 0x0101010101010101ull;
        for (; i < end; i += kWord) store_word(guest + i, word);
    }
#ifdef GUESTMEM_VECTOR_COPY
    void vectors(std::size_t i, std::size_t end) const {
        const __m128i v = _mm_set1_epi8(static_cast<char>(value));
        for (; i < end; i += kVector) store_vector(guest + i, v);
    }
#endif
};

/// Copies n bytes with the widest access each guest position allows: narrow
/// aligned pieces up to word alignment, words up to vector alignment,
/// vectors, then words and narrow pieces for what is left.
template <class Copier>
void copy_widest(const std::byte* guest, std::size_t n, const Copier& copier) {
    std::size_t i = bytes_to_alignment(guest, kWord, n);
    copier.narrow(0, i);
#ifdef GUESTMEM_VECTOR_COPY
    if (n - i >= kVectorMin && vector_moves_are_atomic()) {
        const std::size_t vectors_start = i + bytes_to_alignment(guest + i, kVector, n - i);
        copier.words(i, vectors_start);
        i = vectors_start + ((n - vectors_start) & ~(kVector - 1));
        copier.vectors(vectors_start, i);
    }
#endif
    const std::size_t words_end = i + ((n - i) & ~(kWord - 1));
    copier.words(i, words_end);
    copier.narrow(words_end, n);
}

}  // namespace

void copy_from_guest_memory(std::span<std::byte> mine, std::span<const std::byte> guest) {
    const std::size_t n = std::min(mine.size(), guest.size());
    if (one_aligned_unit(guest.data(), n)) {
        return read_unit(mine.data(), guest.data(), n);
    }
    copy_widest(guest.data(), n, FromGuest{mine.data(), guest.data()});
}

void copy_to_guest_memory(std::span<std::byte> guest, std::span<const std::byte> mine) {
    const std::size_t n = std::min(mine.size(), guest.size());
    if (one_aligned_unit(guest.data(), n)) {
        return write_unit(guest.data(), mine.data(), n);
    }
    copy_widest(guest.data(), n, ToGuest{guest.data(), mine.data()});
}

void fill_guest_memory(std::span<std::byte> guest, std::byte value) {
    copy_widest(guest.data(), guest.size(), FillGuest{guest.data(), std::to_integer<std::uint8_t>(value)});
}

}  // namespace guestmem
