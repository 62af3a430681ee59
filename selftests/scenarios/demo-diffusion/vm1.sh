#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo, VM 1 ("finance"): a confidential plan spreads, one path per
# step. ./secrets makes /srv/secret/** confidential in this VM; the menu
# in /srv/public stays out of it, and so does the process that copies it.
say() { echo "vm1: $*"; }
mkdir -p /srv/secret /srv/public /tmp/work
echo "Project Falcon: launch on 2027-03-01, budget 4.2M" >/srv/secret/plan.txt
echo "Cafeteria menu: soup of the day" >/srv/public/menu.txt

say "1. cp copies the plan"
cp /srv/secret/plan.txt /tmp/work/plan-copy.txt

say "2. cat pipes the copy into gzip"
cat /tmp/work/plan-copy.txt | gzip -c >/tmp/work/plan.txt.gz

say "3. a shell reads the plan and hands it to its children"
sh -c 'read -r line </srv/secret/plan.txt; echo "$line" | tr a-z A-Z >/tmp/work/shout.txt'

say "4. nc sends the archive over loopback TCP to a local nc"
timeout 60 nc -l -p 7000 >/tmp/work/received.gz &
sleep 1
timeout 60 nc 127.0.0.1 7000 </tmp/work/plan.txt.gz
wait

say "5. nc sends the copy to vm2 (10.0.0.2), once vm2 says it is ready"
timeout 120 nc -l -p 7002 >/tmp/work/ready.txt
say "vm2 said: $(cat /tmp/work/ready.txt)"
timeout 60 nc 10.0.0.2 7001 </tmp/work/plan-copy.txt

say "6. lt-udp sends the archive out, to 198.51.100.7:9999 (not a VM)"
lt-udp 198.51.100.7 9999 </tmp/work/plan.txt.gz

say "7. an innocent cp copies the menu"
cp /srv/public/menu.txt /tmp/work/menu-today.txt
say "done"
# For diffusion-check (the demo is also a test): the script ran to its end.
echo "LTDONE ok"
