// SPDX-License-Identifier: BSD-2-Clause
/**
 * @file
 * seL4 types for hosts without seL4.
 *
 * libsel4vm code expects these from <sel4/sel4.h>. On a host without seL4 this
 * header provides the subset the guest memory interface uses, with seL4's
 * names, values and bit layout. Compiles as C99 and as C++.
 */
#ifndef SEL4VM_SEL4_COMPAT_H
#define SEL4VM_SEL4_COMPAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A machine word, as seL4 defines it. */
typedef uint64_t seL4_Word;
/** A capability pointer: names a capability in the VMM's capability space. */
typedef seL4_Word seL4_CPtr;

/** The null capability: never names a frame. */
#define seL4_CapNull ((seL4_CPtr)0)

/** log2 of the size of a 4 KiB page frame. */
#define seL4_PageBits 12
/** log2 of the size of a 2 MiB large page frame. */
#define seL4_LargePageBits 21
/** log2 of the size of a 1 GiB huge page frame. */
#define seL4_HugePageBits 30

/**
 * Capability rights. Bit layout as in seL4: bit 0 write, bit 1 read,
 * bit 2 grant, bit 3 grant-reply.
 */
typedef struct seL4_CapRights {
    seL4_Word words[1]; /**< the rights bits (seL4's bitfield layout); use the functions below */
} seL4_CapRights_t;

/**
 * Makes a set of rights. Each argument is 0 or 1 (only bit 0 counts).
 * @param capAllowGrantReply the grant-reply right (no meaning for frames)
 * @param capAllowGrant      the grant right (no meaning for frames)
 * @param capAllowRead       the read right: without it a frame is not mapped
 * @param capAllowWrite      the write right: without it a mapped frame is read-only
 * @return the rights. Pure function; thread safe.
 */
static inline seL4_CapRights_t seL4_CapRights_new(seL4_Word capAllowGrantReply, seL4_Word capAllowGrant,
                                                  seL4_Word capAllowRead, seL4_Word capAllowWrite) {
    seL4_CapRights_t rights;
    rights.words[0] = ((capAllowGrantReply & 1u) << 3) | ((capAllowGrant & 1u) << 2) | ((capAllowRead & 1u) << 1) |
                      (capAllowWrite & 1u);
    return rights;
}

/** @param rights a set of rights @return 1 if it has the grant-reply right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowGrantReply(seL4_CapRights_t rights) {
    return (rights.words[0] >> 3) & 1u;
}
/** @param rights a set of rights @return 1 if it has the grant right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowGrant(seL4_CapRights_t rights) {
    return (rights.words[0] >> 2) & 1u;
}
/** @param rights a set of rights @return 1 if it has the read right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowRead(seL4_CapRights_t rights) { return (rights.words[0] >> 1) & 1u; }
/** @param rights a set of rights @return 1 if it has the write right, else 0 */
static inline seL4_Word seL4_CapRights_get_capAllowWrite(seL4_CapRights_t rights) { return rights.words[0] & 1u; }

/** Every right. */
#define seL4_AllRights seL4_CapRights_new(1, 1, 1, 1)
/** Read only: a frame mapped with these rights is read-only to the guest. */
#define seL4_CanRead seL4_CapRights_new(0, 0, 1, 0)
/** Write only (without read a frame is not mapped). */
#define seL4_CanWrite seL4_CapRights_new(0, 0, 0, 1)
/** Grant only. */
#define seL4_CanGrant seL4_CapRights_new(0, 1, 0, 0)
/** Grant-reply only. */
#define seL4_CanGrantReply seL4_CapRights_new(1, 0, 0, 0)
/** Read and write. */
#define seL4_ReadWrite seL4_CapRights_new(0, 0, 1, 1)
/** No rights. */
#define seL4_NoRights seL4_CapRights_new(0, 0, 0, 0)

/**
 * A message's description. Bit layout as in seL4: length in bits 0-6,
 * extraCaps in bits 7-8, capsUnwrapped in bits 9-11, label from bit 12.
 */
typedef struct seL4_MessageInfo {
    seL4_Word words[1]; /**< the fields (seL4's bitfield layout); use the functions below */
} seL4_MessageInfo_t;

/**
 * Makes a message info. Pure function; thread safe.
 * @param label         the label (the low 52 bits are kept)
 * @param capsUnwrapped capabilities unwrapped (low 3 bits kept)
 * @param extraCaps     extra capabilities (low 2 bits kept)
 * @param length        message words (low 7 bits kept)
 * @return the message info.
 */
static inline seL4_MessageInfo_t seL4_MessageInfo_new(seL4_Word label, seL4_Word capsUnwrapped, seL4_Word extraCaps,
                                                      seL4_Word length) {
    seL4_MessageInfo_t info;
    info.words[0] = ((label & 0xfffffffffffffull) << 12) | ((capsUnwrapped & 0x7u) << 9) | ((extraCaps & 0x3u) << 7) |
                    (length & 0x7fu);
    return info;
}
/** @param info a message info @return its label */
static inline seL4_Word seL4_MessageInfo_get_label(seL4_MessageInfo_t info) { return info.words[0] >> 12; }
/** @param info a message info @return its length in words */
static inline seL4_Word seL4_MessageInfo_get_length(seL4_MessageInfo_t info) { return info.words[0] & 0x7fu; }

#ifdef __cplusplus
}
#endif

#endif /* SEL4VM_SEL4_COMPAT_H */
