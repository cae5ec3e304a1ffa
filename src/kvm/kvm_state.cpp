// SPDX-License-Identifier: BSD-2-Clause
#include "kvm_state.hpp"

namespace guestmem::kvm {

namespace {

kvm_segment to_kvm(const X86Segment& s) {
    kvm_segment k{};
    k.base = s.base;
    k.limit = s.limit;
    k.selector = s.selector;
    k.type = s.type;
    k.present = s.present ? 1 : 0;
    k.dpl = s.dpl;
    k.db = s.db ? 1 : 0;
    k.s = s.s ? 1 : 0;
    k.l = s.l ? 1 : 0;
    k.g = s.g ? 1 : 0;
    k.unusable = s.present ? 0 : 1;
    return k;
}

X86Segment from_kvm(const kvm_segment& k) {
    X86Segment s;
    s.base = k.base;
    s.limit = k.limit;
    s.selector = k.selector;
    s.type = k.type;
    s.present = k.present != 0 && k.unusable == 0;
    s.dpl = k.dpl;
    s.db = k.db != 0;
    s.s = k.s != 0;
    s.l = k.l != 0;
    s.g = k.g != 0;
    return s;
}

kvm_dtable to_kvm(const X86Table& t) {
    kvm_dtable k{};
    k.base = t.base;
    k.limit = t.limit;
    return k;
}

X86Table from_kvm(const kvm_dtable& k) { return X86Table{k.base, k.limit}; }

}  // namespace

kvm_regs to_kvm(const X86Registers& r) {
    kvm_regs k{};
    k.rax = r.rax, k.rbx = r.rbx, k.rcx = r.rcx, k.rdx = r.rdx, k.rsi = r.rsi, k.rdi = r.rdi;
    k.rsp = r.rsp, k.rbp = r.rbp, k.r8 = r.r8, k.r9 = r.r9, k.r10 = r.r10, k.r11 = r.r11;
    k.r12 = r.r12, k.r13 = r.r13, k.r14 = r.r14, k.r15 = r.r15, k.rip = r.rip, k.rflags = r.rflags;
    return k;
}

X86Registers from_kvm(const kvm_regs& k) {
    X86Registers r;
    r.rax = k.rax, r.rbx = k.rbx, r.rcx = k.rcx, r.rdx = k.rdx, r.rsi = k.rsi, r.rdi = k.rdi;
    r.rsp = k.rsp, r.rbp = k.rbp, r.r8 = k.r8, r.r9 = k.r9, r.r10 = k.r10, r.r11 = k.r11;
    r.r12 = k.r12, r.r13 = k.r13, r.r14 = k.r14, r.r15 = k.r15, r.rip = k.rip, r.rflags = k.rflags;
    return r;
}

kvm_sregs to_kvm(const X86SystemState& s, kvm_sregs k) {
    k.cs = to_kvm(s.cs), k.ds = to_kvm(s.ds), k.es = to_kvm(s.es), k.fs = to_kvm(s.fs);
    k.gs = to_kvm(s.gs), k.ss = to_kvm(s.ss), k.tr = to_kvm(s.tr), k.ldt = to_kvm(s.ldt);
    k.gdt = to_kvm(s.gdt), k.idt = to_kvm(s.idt);
    k.cr0 = s.cr0, k.cr3 = s.cr3, k.cr4 = s.cr4, k.efer = s.efer;
    return k;
}

X86SystemState from_kvm(const kvm_sregs& k) {
    X86SystemState s;
    s.cs = from_kvm(k.cs), s.ds = from_kvm(k.ds), s.es = from_kvm(k.es), s.fs = from_kvm(k.fs);
    s.gs = from_kvm(k.gs), s.ss = from_kvm(k.ss), s.tr = from_kvm(k.tr), s.ldt = from_kvm(k.ldt);
    s.gdt = from_kvm(k.gdt), s.idt = from_kvm(k.idt);
    s.cr0 = k.cr0, s.cr3 = k.cr3, s.cr4 = k.cr4, s.efer = k.efer;
    return s;
}

}  // namespace guestmem::kvm
