#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo, VM 2 ("analytics"): receives what vm1 sends over TCP and
# archives it. It connects to vm1 first to say it is ready, which also
# shows leaktrace its address (10.0.0.2) before vm1 sends.
say() { echo "vm2: $*"; }
mkdir -p /srv/reports
timeout 120 nc -l -p 7001 >/srv/reports/from-finance.txt &
sleep 1
i=0
until echo "analytics ready" | timeout 10 nc 10.0.0.1 7002 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 60 ] || { say "vm1 never listened"; echo "LTDONE failed (1)"; exit 1; }
	sleep 1
done
wait
say "received from vm1:"
cat /srv/reports/from-finance.txt
cp /srv/reports/from-finance.txt /srv/reports/archive.txt
say "done"
echo "LTDONE ok"
