# Same checked rounds as vm1.
. /scenario/vm1.sh
