#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo, VM 3 ("web"): traced too, but it never touches anything
# confidential: it must not appear in the diffusion graph.
mkdir -p /var/www
echo "<h1>hello</h1>" >/var/www/index.html
cp /var/www/index.html /var/www/index.bak
cat /var/www/index.html | wc -c
echo "vm3: done"
echo "LTDONE ok"
