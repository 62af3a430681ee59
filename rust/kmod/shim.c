// SPDX-License-Identifier: GPL-2.0
/*
 * leaktrace C shim; see shim.h for why each function exists.
 */
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

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

u64 leaktrace_clock_ns(void)
{
	return ktime_get_ns();
}
