// SPDX-License-Identifier: GPL-2.0
/*
 * leaktrace C shim; see shim.h for why each function exists.
 */
#include <linux/build_bug.h>
#include <linux/capability.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/miscdevice.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <asm/kvm_syscall_trap.h>

#include "shim.h"

struct leaktrace_chardev {
	struct miscdevice misc;
	void *data;
};

struct leaktrace_chardev *
leaktrace_chardev_register(const char *name, umode_t mode,
			   const struct file_operations *fops, void *data)
{
	struct leaktrace_chardev *dev;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return ERR_PTR(-ENOMEM);

	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = name;
	dev->misc.mode = mode;
	dev->misc.fops = fops;
	dev->data = data;

	ret = misc_register(&dev->misc);
	if (ret) {
		kfree(dev);
		return ERR_PTR(ret);
	}
	return dev;
}

void leaktrace_chardev_unregister(struct leaktrace_chardev *dev)
{
	misc_deregister(&dev->misc);
	kfree(dev);
}

void *leaktrace_chardev_data(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return container_of(misc, struct leaktrace_chardev, misc)->data;
}

struct leaktrace_snapshot {
	struct rcu_head rcu;
};

static_assert(sizeof(struct rcu_head) == LEAKTRACE_SNAPSHOT_HEAD);

void *leaktrace_snapshot_alloc(size_t bytes)
{
	if (bytes < LEAKTRACE_SNAPSHOT_HEAD)
		return NULL;
	/* Charged to the VMM's memory cgroup: a guest's tables are its cost. */
	return kvmalloc(bytes, GFP_KERNEL_ACCOUNT);
}

void leaktrace_snapshot_free_rcu(void *snapshot)
{
	struct leaktrace_snapshot *snap = snapshot;

	if (snap)
		kvfree_rcu(snap, rcu);
}

u64 leaktrace_clock_ns(void)
{
	return ktime_get_ns();
}

bool leaktrace_capable_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

static_assert(sizeof(struct kvm_syscall_trap_regs) == LEAKTRACE_TRAP_REGS_SIZE);
static_assert(offsetof(struct kvm_syscall_trap_regs, rip) == 16 * 8);
static_assert(offsetof(struct kvm_syscall_trap_regs, kernel_gs_base) == 19 * 8);
static_assert(offsetof(struct kvm_syscall_trap_regs, lstar) == 20 * 8);
static_assert(offsetof(struct kvm_syscall_trap_regs, vcpu_id) == 21 * 8);

static const struct kvm_syscall_trap_ops leaktrace_trap_ops = {
	.vm_created = leaktrace_on_vm_created,
	.vm_destroyed = leaktrace_on_vm_destroyed,
	.syscall = leaktrace_on_syscall,
	.sysret = leaktrace_on_sysret,
};

int leaktrace_trap_register(void)
{
	return kvm_syscall_trap_register(&leaktrace_trap_ops);
}

void leaktrace_trap_unregister(void)
{
	kvm_syscall_trap_unregister(&leaktrace_trap_ops);
}

struct kvm *leaktrace_vcpu_kvm(struct kvm_vcpu *vcpu)
{
	return vcpu->kvm;
}

u32 leaktrace_kvm_creator_pid(struct kvm *kvm)
{
	u32 pid;

	/* "kvm-%d" with task_pid_nr(current) at KVM_CREATE_VM. */
	if (sscanf(kvm->stats_id, "kvm-%u", &pid) != 1)
		return 0;
	return pid;
}
