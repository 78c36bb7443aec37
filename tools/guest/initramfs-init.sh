#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the devdax guest's initramfs (build-initramfs.sh): load the
# modules the root disk needs, mount the root disk (/dev/vda, a per-run
# overlay of the cached image) and the per-run disk (/dev/vdb: the project
# and its tests), and hand over to the per-run runner as PID 1.
/bin/busybox mkdir -p /usr/bin /sbin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "initramfs: loading $(wc -l </lib/modules/load-order) modules"
for m in $(cat /lib/modules/load-order); do
	insmod "/lib/modules/$m" || echo "initramfs: insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] || [ ! -b /dev/vdb ]; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "initramfs: no /dev/vda and /dev/vdb after 10 s"; ls /dev
		echo o >/proc/sysrq-trigger
	fi
	sleep 0.1
done
mount -t ext4 /dev/vda /newroot || { echo "initramfs: cannot mount root"; echo o >/proc/sysrq-trigger; }
mkdir -p /newroot/pgdax
mount -t ext4 /dev/vdb /newroot/pgdax || { echo "initramfs: cannot mount run disk"; echo o >/proc/sysrq-trigger; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash /pgdax/guest-init.sh
