/* SPDX-License-Identifier: GPL-2.0 */
/*
 * leaktrace C shim: the few things the Rust kernel crate of Linux 7.3 has
 * no abstraction for. Every function here is called from Rust through an
 * `extern "C"` declaration in rust/kmod/shim.rs; keep both in sync.
 */
#ifndef LEAKTRACE_SHIM_H
#define LEAKTRACE_SHIM_H

#include <linux/types.h>

struct file_operations;
struct file;
struct leaktrace_chardev;

/*
 * Register a misc character device /dev/@name with mode @mode and the
 * caller's own file operations. Rust's MiscDeviceRegistration builds its
 * own file_operations (no .poll in 7.3) and cannot set the mode, so the
 * node is registered here, as binderfs does for rust_binder_fops.
 * @data is handed back by leaktrace_chardev_data() in .open.
 * Returns an ERR_PTR() on failure.
 */
struct leaktrace_chardev *
leaktrace_chardev_register(const char *name, umode_t mode,
			   const struct file_operations *fops, void *data);

/* Remove the device node; no new open() can start once this returns. */
void leaktrace_chardev_unregister(struct leaktrace_chardev *dev);

/*
 * In .open, before private_data is replaced: the @data given at
 * registration (misc_open() leaves the struct miscdevice in private_data).
 */
void *leaktrace_chardev_data(struct file *file);

/*
 * RCU-published snapshots (rust/kmod/tables.rs). A snapshot starts with a
 * struct rcu_head (LEAKTRACE_SNAPSHOT_HEAD bytes, reserved by the Rust
 * side) so that it can be freed after a grace period without the writer
 * waiting: the kernel crate has synchronize_rcu() but no kfree_rcu().
 */
#define LEAKTRACE_SNAPSHOT_HEAD 16
/* kvmalloc(@bytes, GFP_KERNEL_ACCOUNT); NULL on failure. */
void *leaktrace_snapshot_alloc(size_t bytes);
/* kvfree() after every RCU reader that may see @snapshot is done. */
void leaktrace_snapshot_free_rcu(void *snapshot);

/* CLOCK_MONOTONIC in nanoseconds (the kernel crate exposes no raw value). */
u64 leaktrace_clock_ns(void);

/* capable(CAP_SYS_ADMIN): the kernel crate has no capability checks. */
bool leaktrace_capable_admin(void);

/*
 * KVM's syscall trap (asm/kvm_syscall_trap.h, from patches/). The Rust side
 * calls kvm_syscall_trap_arm/status/read_phys directly; what needs KVM's
 * structures or the ops table is here.
 */
struct kvm;
struct kvm_vcpu;
struct kvm_syscall_trap_regs;

/* Size of struct kvm_syscall_trap_regs, mirrored by TrapRegs in Rust. */
#define LEAKTRACE_TRAP_REGS_SIZE 176

/* Become KVM's one client, with the leaktrace_on_* callbacks below. */
int leaktrace_trap_register(void);
/* Stop being the client: every VM disarmed, no callback after return. */
void leaktrace_trap_unregister(void);

/* The VM a vCPU belongs to. */
struct kvm *leaktrace_vcpu_kvm(struct kvm_vcpu *vcpu);
/* PID of the thread that created the VM (KVM records it in stats_id). */
u32 leaktrace_kvm_creator_pid(struct kvm *kvm);

/* Callbacks, implemented in Rust (rust/kmod/tracker.rs). */
void leaktrace_on_vm_created(struct kvm *kvm);
void leaktrace_on_vm_destroyed(struct kvm *kvm);
void leaktrace_on_syscall(struct kvm_vcpu *vcpu,
			  const struct kvm_syscall_trap_regs *regs);
void leaktrace_on_sysret(struct kvm_vcpu *vcpu,
			 const struct kvm_syscall_trap_regs *regs);

#endif /* LEAKTRACE_SHIM_H */
