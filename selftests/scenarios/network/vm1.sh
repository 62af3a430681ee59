#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Network scenario, guest 1: the server. Listens on TCP 5000 (busybox nc)
# and UDP 6000 (lt-udp), prints what vm2 sent, answers the TCP connection.
# selftests/leaktrace/network.sh checks the lines printed here.
echo "vm1: LT_IP=$LT_IP"
ip -4 addr show dev eth0 | sed -n 's/^ *inet \([0-9.]*\/[0-9]*\).*/vm1: eth0 inet \1/p'

# UDP first, and only then TCP: vm2 sends its datagram after the TCP
# exchange, so the receiver is bound by then.
lt-udp -l -p 6000 -v -w 120 >/tmp/udp.txt 2>/tmp/udp.err &
udp=$!
i=0
until netstat -uln 2>/dev/null | grep -q ':6000 '; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "vm1: the UDP receiver never bound port 6000"; exit 1; }
	sleep 0.1
done

echo "ack from vm1" | timeout 120 nc -l -p 5000 >/tmp/tcp.txt
echo "vm1: tcp nc -l exit $?"
echo "vm1: tcp received: $(cat /tmp/tcp.txt)"

wait $udp
echo "vm1: udp lt-udp -l exit $?"
echo "vm1: udp received: $(cat /tmp/udp.txt)"
sed 's/^lt-udp: \([0-9]*\) bytes from \([0-9.]*\):.*/vm1: udp from \2 (\1 bytes)/' /tmp/udp.err
