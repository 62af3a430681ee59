# Exit storm: keep the guest's KVM exit rate high for a while (port I/O on
# the serial console, timer interrupts, page faults from fork/exec), the
# load under which QEMU 7.2's multi-threaded TCG broke L1. Used by
# scripts/stability to show that the chosen L1 configuration holds.
i=0
while [ $i -lt 300 ]; do
	/bin/true
	sh -c 'echo x' >/dev/null
	i=$((i + 1))
done
seq 1 3000 >/dev/console
dd if=/dev/zero of=/tmp/f bs=64k count=256 2>/dev/null
md5sum /tmp/f
echo "storm done"
