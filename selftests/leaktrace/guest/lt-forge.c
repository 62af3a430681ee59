// SPDX-License-Identifier: GPL-2.0
/*
 * lt-forge: a guest that forges the kernel structures leaktrace reads.
 *
 * A user program cannot corrupt its own kernel's structures, and the
 * testbed's guest kernel has no module to load that would. So the test
 * lies once, in the profile: the job loads a profile whose task_files
 * offset is task_comm's, and the module then takes the first 8 bytes of
 * the calling task's command name for its `struct files_struct *`. The
 * command name is the guest's to set (prctl(PR_SET_NAME)); with it, this
 * program points the module at structures it builds in its own memory,
 * reached through the guest kernel's direct map (PAGE_OFFSET + the
 * physical address /proc/self/pagemap gives root). From there every
 * pointer, length and cycle is the guest's choice: files_struct, fdtable,
 * the descriptor array, struct file, path, dentries, mounts, inodes,
 * super blocks, sockets.
 *
 *   lt-forge [-o PAGE_OFFSET] [-r REPEAT] name=OFFSET...
 *
 * The offsets are the profile's (the job passes them all, name=value);
 * PAGE_OFFSET is 0xffff888000000000 unless -o says otherwise. For each
 * variant it sets its command name to the address of the forged
 * files_struct, calls fstat(FD, NULL) on a descriptor it does not have
 * (EBADF for the guest kernel; the module resolves FD through the forged
 * table when the call enters), REPEAT times, and prints
 *
 *   FORGE fd=FD variant=NAME expect=EXPECT ns_median=M ns_max=X
 *
 * EXPECT is what the file record of FD must say: "none", "unresolved",
 * "any" (MMIO: unresolved, or whatever the device memory reads as), or
 * "resolved:FLAGS:PATH" (FLAGS: the record's truncated, detached and
 * socket flags, comma-separated, in that order; PATH the path, "*" for
 * any). Then "LTDONE ok". The times are the guest's view of each
 * call, trap and module included: the work per trap must stay bounded
 * whatever the structures say.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lt-guest.h"

#define PAGE 4096UL
#define NPAGES 160
#define FD_BASE 100

static uint64_t page_offset = 0xffff888000000000ULL;
static unsigned char *buf;
static uint64_t phys[NPAGES];
static int next_page;

/* The profile's offsets, by name. */
static const char *const names[] = {
	"files_fdt", "fdtable_max_fds", "fdtable_fd", "file_f_path", "file_f_inode",
	"path_mnt", "path_dentry", "dentry_d_parent", "dentry_d_name_len",
	"dentry_d_name_name", "mount_mnt", "mount_mnt_parent", "mount_mnt_mountpoint",
	"vfsmount_mnt_root", "inode_i_mode", "inode_i_ino", "inode_i_sb",
	"super_block_s_dev", "socket_alloc_socket", "socket_alloc_vfs_inode",
	"socket_type", "socket_sk", "sock_common_skc_family", "sock_common_skc_daddr",
	"sock_common_skc_rcv_saddr", "sock_common_skc_dport", "sock_common_skc_num",
	"unix_sock_peer",
};
enum {
	FILES_FDT, FDT_MAX_FDS, FDT_FD, FILE_F_PATH, FILE_F_INODE, PATH_MNT, PATH_DENTRY,
	D_PARENT, D_NAME_LEN, D_NAME_NAME, MOUNT_MNT, MOUNT_PARENT, MOUNT_MOUNTPOINT,
	VFSMOUNT_ROOT, I_MODE, I_INO, I_SB, SB_DEV, SA_SOCKET, SA_INODE, SOCK_TYPE,
	SOCK_SK, SK_FAMILY, SK_DADDR, SK_RCV_SADDR, SK_DPORT, SK_NUM, UNIX_PEER, N_OFFSETS
};
static long off[N_OFFSETS];

static void die(const char *what)
{
	say("LTFAIL %s", what);
	raw1(SYS_exit_group, 1);
}

/* A fresh page of the buffer: its user address. */
static unsigned char *page(void)
{
	if (next_page >= NPAGES)
		die("out of pages");
	return buf + PAGE * (unsigned long)next_page++;
}

/* The guest kernel's address of user address p (the direct map). */
static uint64_t kva(const void *p)
{
	unsigned long i = (unsigned long)((const unsigned char *)p - buf);

	return page_offset + phys[i / PAGE] * PAGE + i % PAGE;
}

static void put64(unsigned char *obj, long at, uint64_t v)
{
	memcpy(obj + at, &v, 8);
}

static void put32(unsigned char *obj, long at, uint32_t v)
{
	memcpy(obj + at, &v, 4);
}

static void put16(unsigned char *obj, long at, uint16_t v)
{
	memcpy(obj + at, &v, 2);
}

/* A dentry named NAME (its bytes in the same page), parent PARENT (0: itself). */
static unsigned char *dentry(const char *name, uint64_t parent)
{
	unsigned char *d = page();
	size_t len = strlen(name);

	memcpy(d + 2048, name, len);
	put64(d, off[D_PARENT], parent ? parent : kva(d));
	put32(d, off[D_NAME_LEN], (uint32_t)len);
	put64(d, off[D_NAME_NAME], kva(d + 2048));
	return d;
}

/* A mount whose root is ROOT, its own parent: the namespace's root. */
static unsigned char *mount_of(unsigned char *root)
{
	unsigned char *m = page();

	put64(m, off[MOUNT_PARENT], kva(m));
	put64(m, off[MOUNT_MOUNTPOINT], kva(root));
	put64(m, off[MOUNT_MNT] + off[VFSMOUNT_ROOT], kva(root));
	return m;
}

/* An inode of MODE and INO on a super block of device DEV. */
static unsigned char *inode_of(uint16_t mode, uint64_t ino, uint32_t dev)
{
	unsigned char *i = page(), *sb = page();

	put32(sb, off[SB_DEV], dev);
	put16(i, off[I_MODE], mode);
	put64(i, off[I_INO], ino);
	put64(i, off[I_SB], kva(sb));
	return i;
}

/* A struct file at MNT (a struct mount) / DENTRY, of INODE. */
static unsigned char *file_of(unsigned char *mnt, unsigned char *d, uint64_t inode)
{
	unsigned char *f = page();

	put64(f, off[FILE_F_INODE], inode);
	put64(f, off[FILE_F_PATH] + off[PATH_MNT], kva(mnt) + (uint64_t)off[MOUNT_MNT]);
	put64(f, off[FILE_F_PATH] + off[PATH_DENTRY], kva(d));
	return f;
}

/*
 * A files_struct whose fdtable holds `max_fds` slots at `array`; returns
 * it. Its address goes into the command name, so its 8 bytes must hold
 * no zero byte: it is moved within its page until they do not.
 */
static unsigned char *files_of(uint64_t fdt_override, uint32_t max_fds, uint64_t array)
{
	unsigned char *pg = page(), *files = NULL, *fdt = page();
	unsigned long at;

	for (at = 8; at + 512 < PAGE; at += 8) {
		uint64_t a = kva(pg + at);
		int ok = 1, b;

		for (b = 0; b < 8; b++)
			ok &= ((a >> (8 * b)) & 0xff) != 0;
		if (ok) {
			files = pg + at;
			break;
		}
	}
	if (!files)
		die("no zero-free address in a page");
	put32(fdt, off[FDT_MAX_FDS], max_fds);
	put64(fdt, off[FDT_FD], array);
	put64(files, off[FILES_FDT], fdt_override ? fdt_override : kva(fdt));
	return files;
}

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static int repeat = 20;

/*
 * Makes the calls of one variant: comm = the files_struct's address,
 * then fstat(fd, NULL) `repeat` times, timed.
 */
static void run(unsigned char *files, int fd, const char *variant, const char *expect)
{
	char comm[16] = { 0 };
	uint64_t a = files ? kva(files) : 0x6c6c756e2d6f6eULL;	/* "no-null" */
	long t[64], r;
	int i;

	memcpy(comm, &a, 8);
	if (prctl(PR_SET_NAME, comm) != 0)
		die("prctl(PR_SET_NAME)");
	for (i = 0; i < repeat && i < 64; i++) {
		long t0 = now_ns();

		r = raw2(SYS_fstat, fd, 0);
		t[i] = now_ns() - t0;
		if (r != -9)
			say("LTFAIL fstat(%d) = %ld, expected EBADF", fd, r);
	}
	prctl(PR_SET_NAME, "lt-forge");
	qsort(t, (size_t)i, sizeof(t[0]), cmp_long);
	say("FORGE fd=%d variant=%s expect=%s ns_median=%ld ns_max=%ld", fd, variant, expect, t[i / 2], t[i - 1]);
}

static void find_phys(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	int i;

	if (fd < 0)
		die("open /proc/self/pagemap");
	for (i = 0; i < NPAGES; i++) {
		uint64_t e;
		off_t at = (off_t)(((unsigned long)buf / PAGE + (unsigned long)i) * 8);

		if (pread(fd, &e, 8, at) != 8)
			die("read /proc/self/pagemap");
		if (!(e >> 63) || !(e & ((1ULL << 55) - 1)))
			die("no physical address in /proc/self/pagemap (not root?)");
		phys[i] = e & ((1ULL << 55) - 1);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	unsigned char *root, *m, *leaf, *a, *b, *f, *in, *files, *arr, *sa, *sk, *m2, *m3;
	uint64_t slots[16] = { 0 };
	int i, k, n = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			page_offset = strtoull(argv[++i], NULL, 0);
			continue;
		}
		if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			repeat = atoi(argv[++i]);
			continue;
		}
		for (k = 0; k < N_OFFSETS; k++) {
			size_t l = strlen(names[k]);

			if (!strncmp(argv[i], names[k], l) && argv[i][l] == '=') {
				off[k] = strtol(argv[i] + l + 1, NULL, 0);
				n++;
				break;
			}
		}
	}
	if (n < N_OFFSETS)
		die("usage: lt-forge [-o PAGE_OFFSET] [-r REPEAT] name=OFFSET... (every offset the profile has)");

	buf = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED || mlock(buf, NPAGES * PAGE) != 0)
		die("mmap/mlock");
	memset(buf, 0, NPAGES * PAGE);
	find_phys();

	/* The well-formed chain: /forged-by-lt-forge on a forged mount. */
	root = dentry("/", 0);
	m = mount_of(root);
	leaf = dentry("forged-by-lt-forge", kva(root));
	in = inode_of(0100644, 0x4c54464f, (7u << 20) | 3);
	f = file_of(m, leaf, kva(in));
	slots[1] = kva(f);

	/* A d_parent cycle: a -> b -> a. */
	a = page();
	b = dentry("b", kva(a));
	memcpy(a, dentry("a", kva(b)), PAGE);	/* a's name bytes are in its own page */
	put64(a, off[D_NAME_NAME], kva(a + 2048));
	slots[2] = kva(file_of(m, a, kva(in)));

	/* Two mounts, each the other's parent, each at the other's root. */
	m2 = page();
	m3 = page();
	put64(m2, off[MOUNT_PARENT], kva(m3));
	put64(m3, off[MOUNT_PARENT], kva(m2));
	put64(m2, off[MOUNT_MOUNTPOINT], kva(root));
	put64(m3, off[MOUNT_MOUNTPOINT], kva(root));
	put64(m2, off[MOUNT_MNT] + off[VFSMOUNT_ROOT], kva(root));
	put64(m3, off[MOUNT_MNT] + off[VFSMOUNT_ROOT], kva(root));
	slots[3] = kva(file_of(m2, root, kva(in)));

	/* A huge name length. */
	leaf = dentry("huge", kva(root));
	put32(leaf, off[D_NAME_LEN], 0xffffffffu);
	slots[4] = kva(file_of(m, leaf, kva(in)));

	/* A name in MMIO (the VGA hole, in the direct map) and one unmapped. */
	leaf = dentry("vga", kva(root));
	put64(leaf, off[D_NAME_NAME], page_offset + 0xa0000);
	slots[5] = kva(file_of(m, leaf, kva(in)));
	leaf = dentry("lapic", kva(root));
	put64(leaf, off[D_NAME_NAME], page_offset + 0xfee00000ULL);
	slots[6] = kva(file_of(m, leaf, kva(in)));

	/* An inode pointer into user space, and a misaligned one. */
	slots[7] = kva(file_of(m, root, (uint64_t)(unsigned long)buf));
	slots[8] = kva(file_of(m, root, kva(in) + 3));

	/* A socket whose struct sock is in MMIO. */
	sa = page();
	put16(sa, off[SA_INODE] + off[I_MODE], 0140777);
	put64(sa, off[SA_INODE] + off[I_SB], kva(page()));
	put64(sa, off[SA_SOCKET] + off[SOCK_SK], page_offset + 0xa0000);
	slots[9] = kva(file_of(m, root, kva(sa + off[SA_INODE])));

	/* A well-formed forged IPv4 socket: 1.2.3.4:5 -> 6.7.8.9:10. */
	sa = page();
	sk = page();
	put16(sa, off[SA_INODE] + off[I_MODE], 0140777);
	put64(sa, off[SA_INODE] + off[I_INO], 0x4c54);
	put64(sa, off[SA_INODE] + off[I_SB], kva(page()));
	put16(sa, off[SA_SOCKET] + off[SOCK_TYPE], 2);
	put64(sa, off[SA_SOCKET] + off[SOCK_SK], kva(sk));
	put16(sk, off[SK_FAMILY], 2);
	put32(sk, off[SK_RCV_SADDR], 0x04030201);
	put32(sk, off[SK_DADDR], 0x09080706);
	put16(sk, off[SK_NUM], 5);
	put16(sk, off[SK_DPORT], (uint16_t)((10 >> 8) | (10 << 8)));
	slots[10] = kva(file_of(m, root, kva(sa + off[SA_INODE])));

	/* struct file pointers into MMIO, and at the very top of memory. */
	slots[11] = page_offset + 0xa0000;
	slots[12] = 0xfffffffffffffff8ULL;

	/* An inode without a super block. */
	in = inode_of(0100600, 42, 0);
	put64(in, off[I_SB], 0);
	slots[13] = kva(file_of(m, root, kva(in)));

	/* A legitimate but deep chain: 100 directories of 200-byte names. */
	{
		static char longname[201];
		uint64_t parent = kva(root);

		memset(longname, 'd', 200);
		for (k = 0; k < 100; k++) {
			if (next_page >= NPAGES - 8)
				break;
			leaf = dentry(longname, parent);
			parent = kva(leaf);
		}
		in = inode_of(0100644, 7, 3);
		slots[14] = kva(file_of(m, leaf, kva(in)));
	}

	/* The descriptor array: slot k is descriptor FD_BASE + k. */
	arr = page();
	for (k = 0; k < 16; k++)
		put64(arr, 8 * k, slots[k]);
	files = files_of(0, 128, kva(arr) - 8 * FD_BASE);

	say("LTFORGE page_offset=%#llx files=%#llx", (unsigned long long)page_offset, (unsigned long long)kva(files));
	run(NULL, FD_BASE + 20, "plain-comm", "unresolved");
	run(files, FD_BASE + 0, "null-slot", "none");
	run(files, FD_BASE + 1, "well-formed", "resolved:detached:/forged-by-lt-forge");
	run(files, FD_BASE + 2, "dparent-cycle", "resolved:truncated:*");
	run(files, FD_BASE + 3, "mount-cycle", "resolved:detached:");
	run(files, FD_BASE + 4, "huge-name-len", "unresolved");
	run(files, FD_BASE + 5, "name-in-mmio", "any");
	run(files, FD_BASE + 6, "name-unmapped", "unresolved");
	run(files, FD_BASE + 7, "inode-user-ptr", "unresolved");
	run(files, FD_BASE + 8, "inode-misaligned", "unresolved");
	run(files, FD_BASE + 9, "sock-in-mmio", "any");
	run(files, FD_BASE + 10, "forged-socket", "resolved:socket:");
	run(files, FD_BASE + 11, "file-in-mmio", "any");
	run(files, FD_BASE + 12, "file-at-top", "unresolved");
	run(files, FD_BASE + 13, "inode-no-sb", "unresolved");
	run(files, FD_BASE + 14, "deep-chain", "resolved:truncated:*");
	run(files, FD_BASE + 15, "beyond-slots", "none");
	run(files, FD_BASE + 200, "beyond-max-fds", "none");

	/* The table itself forged: fdt in user space, huge max_fds, an array at the top. */
	run(files_of((uint64_t)(unsigned long)buf, 128, 0), FD_BASE + 21, "fdt-user-ptr", "unresolved");
	run(files_of(0, 0xffffffffu, kva(arr)), FD_BASE + 22, "max-fds-huge", "unresolved");
	run(files_of(0, 128, 0xfffffffffffffff8ULL), FD_BASE + 23, "fd-array-at-top", "unresolved");
	run(files_of(page_offset + 0xa0000, 128, 0), FD_BASE + 24, "fdt-in-mmio", "any");
	say("LTDONE ok");
	return 0;
}
